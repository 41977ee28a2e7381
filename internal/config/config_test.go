package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "strangler.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShippedConfigIsValidAndEqualsDefaults(t *testing.T) {
	cfg, err := Load(Source{Path: "../../config/strangler.yaml", Explicit: true})
	if err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	def := Default()
	if cfg.Listen != def.Listen || cfg.AdminListen != def.AdminListen || cfg.LegacyURL != def.LegacyURL ||
		cfg.Server != def.Server || cfg.Upstream != def.Upstream || cfg.Health != def.Health {
		t.Errorf("shipped yaml drifted from Default():\n%+v\n%+v", cfg, def)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	p := writeFile(t, "listen: \":4000\"\nserver:\n  idle_timeout: 5s\n")
	cfg, err := Load(Source{Path: p, Explicit: true, Environ: []string{
		"STRANGLER_LISTEN=:5000",
		"STRANGLER_LEGACY_URL=http://legacy.internal:8080",
		"STRANGLER_DATABASE_URL=postgres://u@db/x",
		"STRANGLER_LEGACY_DATABASE_URL=postgres://u@legacydb/y",
		"STRANGLER_ADMIN_LISTEN=127.0.0.1:9999",
		"STRANGLER_SERVER_SHUTDOWN_GRACE=3s",
		"STRANGLER_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.1",
		"OTHER=ignored",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":5000" || cfg.LegacyURL != "http://legacy.internal:8080" || cfg.AdminListen != "127.0.0.1:9999" {
		t.Errorf("env did not override: %+v", cfg)
	}
	if cfg.Server.IdleTimeout != 5*time.Second || cfg.Server.ShutdownGrace != 3*time.Second {
		t.Errorf("durations: %+v", cfg.Server)
	}
	if cfg.LegacyDatabase() != "postgres://u@legacydb/y" || len(cfg.TrustedProxies) != 2 {
		t.Errorf("legacy database %q, trusted %v", cfg.LegacyDatabase(), cfg.TrustedProxies)
	}
}

func TestLegacyDatabaseDefaultsToDatabase(t *testing.T) {
	cfg, err := Load(Source{Path: writeFile(t, "database_url: postgres://u@db/x\n"), Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LegacyDatabase() != "postgres://u@db/x" {
		t.Errorf("got %q", cfg.LegacyDatabase())
	}
}

func TestBadConfigsEachGiveTheirOwnMessage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		path    string
		body    string
		environ []string
		want    []string
	}{
		{name: "unknown key", body: "listen: \":3001\"\nlegacyurl: http://x\nserver:\n  idle_timout: 1s\n",
			want: []string{"legacyurl: unknown key", "server.idle_timout: unknown key"}},
		{name: "unknown environment variable", environ: []string{"STRANGLER_LEGACYURL=http://x"},
			want: []string{"STRANGLER_LEGACYURL: unknown environment variable"}},
		{name: "bad url", body: "legacy_url: ftp://legacy\n",
			want: []string{`legacy_url: must be an http:// or https:// URL, got "ftp://legacy"`}},
		{name: "url without host", body: "legacy_url: http://\n", want: []string{`legacy_url: has no host`}},
		{name: "bad database url", body: "database_url: \"postgres://u@db:notaport/x\"\n", want: []string{"database_url: not a PostgreSQL connection URL"}},
		{name: "bad duration", body: "upstream:\n  dial_timeout: 5 seconds\n",
			want: []string{`upstream.dial_timeout: invalid duration "5 seconds": use a number with a unit`}},
		{name: "negative duration", body: "server:\n  shutdown_grace: -1s\n", want: []string{"server.shutdown_grace: must not be negative"}},
		{name: "bad listen", body: "listen: 3001\n", want: []string{`listen: not a host:port address: "3001"`}},
		{name: "bad port", body: "admin_listen: \"127.0.0.1:70000\"\n", want: []string{`admin_listen: port "70000" is not a number`}},
		{name: "bad number", body: "server:\n  max_header_bytes: lots\n", want: []string{`server.max_header_bytes: cannot read "lots" as int`}},
		{name: "bad trusted proxy", body: "trusted_proxies: [\"10.0.0.0/33\"]\n", want: []string{"trusted_proxies[0]: not a CIDR network or IP address"}},
		{name: "bad log level", body: "log:\n  level: loud\n", want: []string{`log.level: must be one of debug, info, warn, error, got "loud"`}},
		{name: "yaml syntax", body: "listen: [\n", want: []string{"config: parse"}},
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"), want: []string{"config: read " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"}},
		{name: "directory instead of file", path: dir, want: []string{"is a directory, not a YAML file"}},
		{name: "several at once", body: "listen: x\nlegacy_url: nope\nbogus: 1\n",
			want: []string{"listen: not a host:port", "legacy_url: must be an http", "bogus: unknown key"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = writeFile(t, c.body)
			}
			_, err := Load(Source{Path: path, Explicit: true, Environ: c.environ})
			if err == nil {
				t.Fatal("accepted a bad configuration")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestUnreadableFileIsReported(t *testing.T) {
	p := writeFile(t, "listen: \":3001\"\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(p); err == nil {
		f.Close()
		// Running as root: permissions do not apply, so make it unreadable
		// another way: a path through a regular file.
		p = filepath.Join(p, "strangler.yaml")
	}
	_, err := Load(Source{Path: p, Explicit: true})
	if err == nil || !strings.Contains(err.Error(), "config: read "+p) {
		t.Fatalf("got %v", err)
	}
}

func TestMissingDefaultFileFallsBackToDefaults(t *testing.T) {
	cfg, err := Load(Source{Path: filepath.Join(t.TempDir(), "absent.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":3001" {
		t.Errorf("listen %q", cfg.Listen)
	}
}

func TestShippedSectionsEqualTheirDefaults(t *testing.T) {
	cfg, err := Load(Source{Path: "../../config/strangler.yaml", Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	for name, pair := range map[string][2]any{
		"shadow": {cfg.Shadow, def.Shadow}, "guard": {cfg.Guard, def.Guard}, "limits": {cfg.Limits, def.Limits},
		"admin": {cfg.Admin, def.Admin}, "canary": {cfg.Canary, def.Canary},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("the shipped %s section drifted from its defaults:\nyaml     %+v\ndefaults %+v", name, pair[0], pair[1])
		}
	}
}
