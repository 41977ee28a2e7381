// Package config loads, defaults and validates the proxy's configuration.
//
// Every key lives in one typed Config. Values come, in rising precedence, from
// Default(), the YAML file and STRANGLER_* environment variables (the key's
// path upper-cased with dots as underscores: server.idle_timeout is
// STRANGLER_SERVER_IDLE_TIMEOUT). Load reports every problem at once.
package config

import (
	"time"
)

// Config is the whole configuration of one strangler process.
type Config struct {
	// Listen is the public listener's address (STRANGLER_LISTEN).
	Listen string `mapstructure:"listen"`
	// AdminListen is the admin listener's address: metrics, health, admin API.
	AdminListen string `mapstructure:"admin_listen"`
	// LegacyURL is the base URL of the legacy monolith (STRANGLER_LEGACY_URL).
	// Several instances may be given separated by commas: requests are
	// balanced over the healthy ones, and a legacy session (admin_session
	// cookie or bearer token) sticks to one instance.
	LegacyURL string `mapstructure:"legacy_url"`
	// DatabaseURL is the proxy's own PostgreSQL database (STRANGLER_DATABASE_URL).
	// Empty means no database: flags come from the config file alone.
	DatabaseURL string `mapstructure:"database_url"`
	// DatabaseMaxConns caps the proxy's pool, shared by the flags, the guard
	// and the in-process services (their requests wait for a connection).
	// A pool_max_conns parameter in DatabaseURL overrides it.
	DatabaseMaxConns int `mapstructure:"database_max_conns"`
	// LegacyDatabaseURL is where the legacy tables live; empty means DatabaseURL.
	LegacyDatabaseURL string `mapstructure:"legacy_database_url"`
	// TrustedProxies lists the networks (CIDR or single IP) whose
	// X-Forwarded-For is believed. Empty: every client-supplied value is replaced.
	TrustedProxies []string `mapstructure:"trusted_proxies"`

	// FlagsFile holds the route flags when DatabaseURL is empty.
	FlagsFile string `mapstructure:"flags_file"`
	// AdminTokenHashes are SHA-256 hex digests of the admin tokens. A request
	// carrying one (header X-Strangler-Token) may force a side with
	// X-Strangler-Force and sees X-Strangler-Target; the admin API takes them
	// as bearer tokens.
	AdminTokenHashes []string `mapstructure:"admin_token_hashes"`
	// TRPCEndpoint is where the legacy app mounts tRPC.
	TRPCEndpoint string `mapstructure:"trpc_endpoint"`
	// Routes is the route table; see docs/routes.md.
	Routes []Route `mapstructure:"routes"`

	Canary Canary `mapstructure:"canary"`
	// TLS serves the public listener over HTTPS when both files are set.
	TLS TLS `mapstructure:"tls"`
	// AdminTLS does the same for the admin listener.
	AdminTLS TLS `mapstructure:"admin_tls"`

	Server   Server   `mapstructure:"server"`
	Upstream Upstream `mapstructure:"upstream"`
	Health   Health   `mapstructure:"health"`
	Limits   Limits   `mapstructure:"limits"`
	Guard    Guard    `mapstructure:"guard"`
	// Admin says who may use the admin API and the console.
	Admin Admin `mapstructure:"admin"`
	// Shadow configures the comparison of legacy and new answers.
	Shadow Shadow `mapstructure:"shadow"`
	Log    Log    `mapstructure:"log"`
}

// Health configures the active health checks of upstreams.
type Health struct {
	// Interval between two checks of one target.
	Interval time.Duration `mapstructure:"interval"`
	// Timeout of one check.
	Timeout time.Duration `mapstructure:"timeout"`
	// LegacyPath is legacy's health route. Its /health answers 503 when the
	// database is unhealthy; /api/trpc/health answers ok even with a dead pool
	// (legacy contract section 10), so it must not be used.
	LegacyPath string `mapstructure:"legacy_path"`
}

// TLS names a certificate and its key (PEM files). Both empty: plain HTTP.
type TLS struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Enabled says whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Canary configures how users are kept on one side in canary mode.
type Canary struct {
	// Keys are tried in order to find a user's stable key: "cookie:NAME",
	// "header:NAME" or "client_ip" (from trusted forwarding headers only).
	Keys []string `mapstructure:"keys"`
	// Cookie is the proxy's own random bucket cookie, set (HttpOnly, Path=/)
	// on a canary route's answer when no key is found.
	Cookie string `mapstructure:"cookie"`
	// CookieMaxAge is the bucket cookie's lifetime.
	CookieMaxAge time.Duration `mapstructure:"cookie_max_age"`
}

// Server holds the public and admin listeners' timeouts.
type Server struct {
	// ReadHeaderTimeout bounds how long a client may take to send headers
	// (slowloris protection).
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Zero: none,
	// so that long uploads pass; IdleTimeout and ReadHeaderTimeout still apply.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds writing an answer. Zero: none (long downloads, SSE).
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxHeaderBytes caps the request line and headers.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// ShutdownGrace is how long SIGTERM waits for in-flight requests.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
}

// Upstream holds the transport settings towards legacy and remote targets.
type Upstream struct {
	// DialTimeout bounds connecting to an upstream (then 502).
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// ResponseHeaderTimeout bounds waiting for an upstream's answer headers
	// (then 504).
	ResponseHeaderTimeout time.Duration `mapstructure:"response_header_timeout"`
	// IdleConnTimeout closes idle upstream connections.
	IdleConnTimeout time.Duration `mapstructure:"idle_conn_timeout"`
	// MaxIdleConnsPerHost sizes the keep-alive pool per upstream; keep it at
	// least the expected concurrency.
	MaxIdleConnsPerHost int `mapstructure:"max_idle_conns_per_host"`
}

// Log configures logging.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `mapstructure:"level"`
	// Access turns the one-line-per-request access log on.
	Access bool `mapstructure:"access"`
}

// Default returns the configuration every key falls back to. Each value is a
// working default on a developer machine.
func Default() Config {
	return Config{
		Listen:      ":3001",
		AdminListen: "127.0.0.1:9091",
		LegacyURL:   "http://127.0.0.1:3000",
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/strangler?sslmode=disable",
		// Measured (bench/samples): 4 connections cap writes near 1,100/s,
		// 16 reach about 2,200/s on two cores.
		DatabaseMaxConns: 16,
		FlagsFile:        "config/flags.yaml",
		TRPCEndpoint:     "/api/trpc",
		Canary: Canary{
			Keys:         []string{"cookie:strangler_bucket"},
			Cookie:       "strangler_bucket",
			CookieMaxAge: 365 * 24 * time.Hour,
		},
		Server: Server{
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    1 << 20,
			ShutdownGrace:     30 * time.Second,
		},
		Upstream: Upstream{
			DialTimeout:           5 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   512,
		},
		Health: Health{Interval: 5 * time.Second, Timeout: 2 * time.Second, LegacyPath: "/health"},
		Limits: DefaultLimits(),
		Guard:  DefaultGuard(),
		Admin:  DefaultAdmin(),
		Shadow: DefaultShadow(),
		Log:    Log{Level: "info", Access: true},
	}
}

// LegacyDatabase returns the URL of the database holding the legacy tables.
func (c *Config) LegacyDatabase() string {
	if c.LegacyDatabaseURL != "" {
		return c.LegacyDatabaseURL
	}
	return c.DatabaseURL
}
