package main

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/limit"
)

// limiter builds the rate limiter from the configuration: buckets in memory,
// or shared through Redis (falling back to memory while Redis is down).
func (m *Main) limiter() *limit.Limiter {
	l := m.Config.Limits
	rule := func(b config.Bucket) limit.Rule {
		return limit.Rule{Requests: b.Requests, Per: b.Per, Burst: b.Burst}
	}
	pol := limit.Policy{
		PerClient: rule(l.PerClient), PerUser: rule(l.PerUser), UserKey: l.UserKey,
		LoginPath: l.LoginPath, LoginPerClient: rule(l.LoginPerClient), LoginPerUsername: rule(l.LoginPerUsername),
	}
	if !pol.PerClient.Enabled() && !pol.PerUser.Enabled() && !pol.LoginPerClient.Enabled() && !pol.LoginPerUsername.Enabled() {
		return nil
	}
	var store limit.Store = limit.NewLocal()
	if l.RedisURL != "" {
		opts, err := redis.ParseURL(l.RedisURL)
		if err != nil {
			m.Logger.Error().Err(err).Msg("limits.redis_url is unusable; keeping buckets per replica")
		} else {
			store = &limit.Redis{Client: redis.NewClient(opts), Local: limit.NewLocal(), Prefix: "strangler:limit:",
				Cooldown: 10 * time.Second, Timeout: 50 * time.Millisecond}
		}
	}
	return &limit.Limiter{Policy: pol, Store: store}
}
