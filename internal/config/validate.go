package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Validate checks every value and returns one problem per bad key.
func (c *Config) Validate() Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	for key, addr := range map[string]string{"listen": c.Listen, "admin_listen": c.AdminListen} {
		if err := checkListen(addr); err != nil {
			add(key, "%v", err)
		}
	}
	for _, u := range strings.Split(c.LegacyURL, ",") {
		if err := checkHTTPURL(strings.TrimSpace(u)); err != nil {
			add("legacy_url", "%v", err)
		}
	}
	for key, u := range map[string]string{"database_url": c.DatabaseURL, "legacy_database_url": c.LegacyDatabaseURL} {
		if u == "" {
			continue
		}
		if _, err := pgx.ParseConfig(u); err != nil {
			add(key, "not a PostgreSQL connection URL: %v", err)
		}
	}
	if c.DatabaseMaxConns < 2 {
		add("database_max_conns", "must be at least 2 (the flags listener and the requests share it), got %d", c.DatabaseMaxConns)
	}
	if c.DatabaseURL == "" && c.LegacyDatabaseURL != "" {
		add("database_url", "must be set when legacy_database_url is set")
	}
	for i, n := range c.TrustedProxies {
		if _, err := ParseNetwork(n); err != nil {
			add(fmt.Sprintf("trusted_proxies[%d]", i), "%v", err)
		}
	}
	positive := map[string]time.Duration{
		"server.read_header_timeout":       c.Server.ReadHeaderTimeout,
		"server.idle_timeout":              c.Server.IdleTimeout,
		"upstream.dial_timeout":            c.Upstream.DialTimeout,
		"upstream.response_header_timeout": c.Upstream.ResponseHeaderTimeout,
		"upstream.idle_conn_timeout":       c.Upstream.IdleConnTimeout,
	}
	for key, d := range positive {
		if d <= 0 {
			add(key, "must be a positive duration such as 10s, got %s", d)
		}
	}
	nonNegative := map[string]time.Duration{
		"server.read_timeout":   c.Server.ReadTimeout,
		"server.write_timeout":  c.Server.WriteTimeout,
		"server.shutdown_grace": c.Server.ShutdownGrace,
	}
	for key, d := range nonNegative {
		if d < 0 {
			add(key, "must not be negative (0 means no limit), got %s", d)
		}
	}
	if c.Server.MaxHeaderBytes < 4096 {
		add("server.max_header_bytes", "must be at least 4096, got %d", c.Server.MaxHeaderBytes)
	}
	if c.Upstream.MaxIdleConnsPerHost < 1 {
		add("upstream.max_idle_conns_per_host", "must be at least 1, got %d", c.Upstream.MaxIdleConnsPerHost)
	}
	if !strings.HasPrefix(c.Health.LegacyPath, "/") {
		add("health.legacy_path", "must be an absolute path such as /health, got %q", c.Health.LegacyPath)
	}
	for i, h := range c.AdminTokenHashes {
		if len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
			add(fmt.Sprintf("admin_token_hashes[%d]", i), "must be a SHA-256 hex digest (64 hex digits): sha256sum of the token")
		}
	}
	if !strings.HasPrefix(c.TRPCEndpoint, "/") || strings.HasSuffix(c.TRPCEndpoint, "/") {
		add("trpc_endpoint", "must be an absolute path without a trailing slash, got %q", c.TRPCEndpoint)
	}
	for i, k := range c.Canary.Keys {
		kind, name, _ := strings.Cut(k, ":")
		if !(kind == "client_ip" && name == "" || (kind == "cookie" || kind == "header") && name != "") {
			add(fmt.Sprintf("canary.keys[%d]", i), "must be cookie:NAME, header:NAME or client_ip, got %q", k)
		}
	}
	if c.Canary.Cookie == "" || strings.ContainsAny(c.Canary.Cookie, " ;=,\"\t") {
		add("canary.cookie", "must be a cookie name, got %q", c.Canary.Cookie)
	}
	if c.Canary.CookieMaxAge <= 0 {
		add("canary.cookie_max_age", "must be a positive duration")
	}
	c.Limits.validate(add)
	ps = append(ps, c.Guard.Problems()...)
	ps = append(ps, c.Admin.Problems()...)
	ps = append(ps, c.Shadow.Problems()...)
	for key, t := range map[string]TLS{"tls": c.TLS, "admin_tls": c.AdminTLS} {
		if !t.Enabled() {
			continue
		}
		if t.CertFile == "" || t.KeyFile == "" {
			add(key, "set both cert_file and key_file (or neither)")
			continue
		}
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			add(key, "cannot load the certificate: %v", err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be one of debug, info, warn, error, got %q", c.Log.Level)
	}
	return ps
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not a host:port address: %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

func validHostname(h string) bool {
	for _, r := range h {
		if !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return len(h) > 0 && len(h) <= 253
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL, got %q", s)
	}
	if u.Host == "" {
		return fmt.Errorf("has no host: %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not carry a query or fragment: %q", s)
	}
	return nil
}

// ParseNetwork parses a CIDR ("10.0.0.0/8") or a single address ("10.1.2.3").
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR network or IP address: %q", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
