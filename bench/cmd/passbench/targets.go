package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// setup is what every target needs to start.
type setup struct {
	binDir      string // upstream, refproxy and strangler binaries
	workDir     string // configs, pid files, logs (raw, not committed)
	stranglerCf string // strangler's YAML config
	proxyCores  string // taskset list for the proxies under test
	loadCores   string // taskset list for wrk and the upstream
	upstream    string // host:port of the shared upstream
	maxIdle     int    // upstream keep-alive pool of every proxy
	restarts    []string
}

// target is one thing wrk is pointed at: the bare upstream or a proxy.
type target struct {
	name  string
	start func(ctx context.Context, s setup) (p *proc, addr string, err error)
	// logs says the target writes one access log line per request to its
	// output file, which runCell then counts.
	logs bool
}

// allTargets lists the contenders in their base order; rounds rotate it.
// The bare upstream has no process of its own: wrk hits the upstream.
var allTargets = []target{
	{name: "upstream"},
	{name: "nginx", start: startNginx},
	{name: "caddy", start: startCaddy},
	{name: "refproxy", start: startRefproxy},
	{name: "strangler", start: startStrangler("strangler", nil), logs: true},
}

// variantTarget is strangler under another name with extra environment,
// e.g. "strangler-nolog:STRANGLER_LOG_ACCESS=false", to measure what one
// setting costs within the same interleaved run.
func variantTarget(spec string) (target, error) {
	name, envs, ok := strings.Cut(spec, ":")
	if !ok || name == "" || envs == "" {
		return target{}, fmt.Errorf("variant %q: want NAME:KEY=VALUE[,KEY=VALUE]", spec)
	}
	extra := strings.Split(envs, ",")
	for _, e := range extra {
		if !strings.Contains(e, "=") {
			return target{}, fmt.Errorf("variant %q: %q is not KEY=VALUE", spec, e)
		}
	}
	return target{name: name, start: startStrangler(name, extra), logs: true}, nil
}

// command is how to run a target on a given address.
type command func(addr string) (env []string, bin string, args []string, err error)

// launch starts a process pinned to the proxy cores on a free port and
// waits until it serves /1k through to the upstream.
func launch(ctx context.Context, s setup, name string, cmd command) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env, bin, args, err := cmd(addr)
	if err != nil {
		return nil, "", fmt.Errorf("prepare %s: %w", name, err)
	}
	p, err := startPinned(name, s.proxyCores, filepath.Join(s.workDir, name+".out"), env, bin, args...)
	if err != nil {
		return nil, "", err
	}
	if err := p.waitReady(ctx, "http://"+addr+"/1k", 20*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

func startRefproxy(ctx context.Context, s setup) (*proc, string, error) {
	return launch(ctx, s, "refproxy", func(addr string) ([]string, string, []string, error) {
		return nil, filepath.Join(s.binDir, "refproxy"),
			[]string{"-listen", addr, "-upstream", "http://" + s.upstream, "-max-idle-per-host", strconv.Itoa(s.maxIdle)}, nil
	})
}

// startStrangler runs the real binary with its real config file; only the
// addresses, the database (none) and the flags file that stands in for it
// (a fresh path: every route in its configured default mode) come from the
// environment, as the config's own STRANGLER_* overrides, plus a variant's
// extra settings. The access log stays on and goes to NAME.out.
func startStrangler(name string, extra []string) func(ctx context.Context, s setup) (*proc, string, error) {
	return func(ctx context.Context, s setup) (*proc, string, error) {
		return launch(ctx, s, name, stranglerCommand(s, name, extra))
	}
}

func stranglerCommand(s setup, name string, extra []string) command {
	return func(addr string) ([]string, string, []string, error) {
		adminPort, err := freePort()
		if err != nil {
			return nil, "", nil, err
		}
		env := []string{
			"STRANGLER_LISTEN=" + addr,
			"STRANGLER_ADMIN_LISTEN=127.0.0.1:" + strconv.Itoa(adminPort),
			"STRANGLER_LEGACY_URL=http://" + s.upstream,
			"STRANGLER_DATABASE_URL=",
			"STRANGLER_FLAGS_FILE=" + filepath.Join(s.workDir, name+"-flags.yaml"),
			"STRANGLER_UPSTREAM_MAX_IDLE_CONNS_PER_HOST=" + strconv.Itoa(s.maxIdle),
		}
		env = append(env, extra...)
		return env, filepath.Join(s.binDir, "sut-proxy"), []string{"serve", "--config", s.stranglerCf}, nil
	}
}

// nginxConf is tuned the way a fair comparison needs: HTTP/1.1 upstream
// with an empty Connection header and a keep-alive pool, no keep-alive
// request caps on either side, one worker, no access log, buffers large
// enough that a 64 KiB answer never touches a temp file. It sets the same
// forwarding headers strangler sets.
const nginxConf = `daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path %[1]s/nginx-client-body;
    proxy_temp_path %[1]s/nginx-proxy-temp;
    fastcgi_temp_path %[1]s/nginx-fastcgi-temp;
    uwsgi_temp_path %[1]s/nginx-uwsgi-temp;
    scgi_temp_path %[1]s/nginx-scgi-temp;
    upstream up {
        server %[2]s;
        keepalive %[4]d;
        keepalive_requests 1000000;
        keepalive_timeout 90s;
    }
    server {
        listen %[3]s;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffer_size 16k;
            proxy_buffers 16 16k;
            proxy_busy_buffers_size 32k;
        }
    }
}
`

func startNginx(ctx context.Context, s setup) (*proc, string, error) {
	return launch(ctx, s, "nginx", func(addr string) ([]string, string, []string, error) {
		conf := filepath.Join(s.workDir, "nginx.conf")
		text := fmt.Sprintf(nginxConf, s.workDir, s.upstream, addr, s.maxIdle)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, "", nil, err
		}
		return nil, "nginx", []string{"-p", s.workDir, "-e", filepath.Join(s.workDir, "nginx-error.log"), "-c", conf}, nil
	})
}

// caddyConfig is Caddy's native JSON config: no admin endpoint, no automatic
// HTTPS, no access log (Caddy logs none unless asked), and the upstream
// keep-alive pool raised from Go's default of 2 idle conns per host.
func caddyConfig(listen, upstream string, maxIdle int) ([]byte, error) {
	proxy := map[string]any{
		"handler":   "reverse_proxy",
		"upstreams": []any{map[string]any{"dial": upstream}},
		"transport": map[string]any{
			"protocol": "http",
			"keep_alive": map[string]any{
				"enabled":                 true,
				"max_idle_conns":          maxIdle,
				"max_idle_conns_per_host": maxIdle,
				"idle_timeout":            "90s",
			},
		},
	}
	server := map[string]any{
		"listen":          []string{listen},
		"automatic_https": map[string]any{"disable": true},
		"routes":          []any{map[string]any{"handle": []any{proxy}}},
	}
	return json.MarshalIndent(map[string]any{
		"admin":   map[string]any{"disabled": true},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "WARN"}}},
		"apps":    map[string]any{"http": map[string]any{"servers": map[string]any{"bench": server}}},
	}, "", "  ")
}

func startCaddy(ctx context.Context, s setup) (*proc, string, error) {
	return launch(ctx, s, "caddy", func(addr string) ([]string, string, []string, error) {
		b, err := caddyConfig(addr, s.upstream, s.maxIdle)
		if err != nil {
			return nil, "", nil, err
		}
		conf := filepath.Join(s.workDir, "caddy.json")
		if err := os.WriteFile(conf, b, 0o644); err != nil {
			return nil, "", nil, err
		}
		home := filepath.Join(s.workDir, "caddy-home")
		env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}
		return env, "caddy", []string{"run", "--config", conf}, nil
	})
}
