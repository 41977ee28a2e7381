package config

import (
	"fmt"
	"strings"
	"time"
)

// Limits configures rate limits and load shedding on the public listener.
type Limits struct {
	// PerClient limits each client address (trusted forwarding headers
	// only). Off by default (requests 0).
	PerClient Bucket `mapstructure:"per_client"`
	// PerUser limits each user key, named by UserKey (cookie:NAME or
	// header:NAME). Off by default.
	PerUser Bucket `mapstructure:"per_user"`
	UserKey string `mapstructure:"user_key"`
	// LoginPath is legacy's admin login; its POSTs are limited per address
	// and per username (JSON body), against password spraying and against
	// the legacy lockout (5 failures in 15 min lock an account for 30 min)
	// being abused to lock people out.
	LoginPath        string `mapstructure:"login_path"`
	LoginPerClient   Bucket `mapstructure:"login_per_client"`
	LoginPerUsername Bucket `mapstructure:"login_per_username"`
	// MaxInFlightPerTarget sheds requests (503) beyond this many in flight
	// to one target (legacy, or a new target). 0: no cap.
	MaxInFlightPerTarget int `mapstructure:"max_in_flight_per_target"`
	// RedisURL shares the buckets between replicas (redis://host:6379/0).
	// Empty: each replica keeps its own; when Redis is down, replicas fall
	// back to their own buckets.
	RedisURL string `mapstructure:"redis_url"`
}

// Bucket is a token bucket: Requests per Per on average, Burst at once.
type Bucket struct {
	Requests int           `mapstructure:"requests"`
	Per      time.Duration `mapstructure:"per"`
	Burst    int           `mapstructure:"burst"`
}

// DefaultLimits: general limits off, the login limited.
func DefaultLimits() Limits {
	return Limits{
		PerClient:            Bucket{Per: time.Second},
		PerUser:              Bucket{Per: time.Second},
		UserKey:              "cookie:admin_session",
		LoginPath:            "/api/admin/login",
		LoginPerClient:       Bucket{Requests: 10, Per: time.Minute, Burst: 5},
		LoginPerUsername:     Bucket{Requests: 4, Per: 15 * time.Minute, Burst: 4},
		MaxInFlightPerTarget: 4096,
	}
}

func (l *Limits) validate(add func(key, format string, args ...any)) {
	for key, b := range map[string]Bucket{"limits.per_client": l.PerClient, "limits.per_user": l.PerUser,
		"limits.login_per_client": l.LoginPerClient, "limits.login_per_username": l.LoginPerUsername} {
		if b.Requests < 0 || b.Burst < 0 {
			add(key, "requests and burst must not be negative")
		}
		if b.Requests > 0 && (b.Per <= 0 || b.Burst < 1) {
			add(key, "a limit needs per > 0 and burst >= 1 (or requests: 0 to turn it off)")
		}
	}
	if kind, name, _ := strings.Cut(l.UserKey, ":"); l.UserKey != "" && (name == "" || kind != "cookie" && kind != "header") {
		add("limits.user_key", "must be cookie:NAME or header:NAME, got %q", l.UserKey)
	}
	if l.LoginPath != "" && !strings.HasPrefix(l.LoginPath, "/") {
		add("limits.login_path", "must be an absolute path, got %q", l.LoginPath)
	}
	if l.MaxInFlightPerTarget < 0 {
		add("limits.max_in_flight_per_target", "must not be negative (0 = no cap)")
	}
	if l.RedisURL != "" && !strings.HasPrefix(l.RedisURL, "redis://") && !strings.HasPrefix(l.RedisURL, "rediss://") {
		add("limits.redis_url", "must be a redis:// URL, got %q", fmt.Sprint(l.RedisURL))
	}
}
