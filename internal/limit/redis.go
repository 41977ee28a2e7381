package limit

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is GCRA on the Redis server's clock, so that every replica
// shares one bucket per key. KEYS[1] bucket; ARGV interval and limit in
// microseconds. Returns {allowed, retry_after_us}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nxt = tat + interval
if nxt - now > limit then return {0, nxt - now - limit} end
redis.call('SET', KEYS[1], nxt, 'PX', math.ceil((nxt - now) / 1000) + 1000)
return {1, 0}
`)

// Redis is a Store shared by every replica through Redis. When Redis fails
// it falls back to a local store for Cooldown, so that an outage of the
// limiter never blocks or fails a request.
type Redis struct {
	Client   *redis.Client
	Local    *Local
	Prefix   string
	Cooldown time.Duration
	Timeout  time.Duration

	downUntil atomic.Int64 // unix nanoseconds
	Failures  atomic.Int64
}

var _ Store = (*Redis)(nil)

// Take implements Store.
func (s *Redis) Take(ctx context.Context, key string, r Rule) (bool, time.Duration, error) {
	if time.Now().UnixNano() < s.downUntil.Load() {
		return s.Local.Take(ctx, key, r)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	limitUs := r.interval().Microseconds() * int64(r.Burst)
	res, err := gcraScript.Run(ctx, s.Client, []string{s.Prefix + key}, r.interval().Microseconds(), limitUs).Int64Slice()
	if err != nil || len(res) != 2 {
		s.Failures.Add(1)
		s.downUntil.Store(time.Now().Add(s.Cooldown).UnixNano())
		return s.Local.Take(ctx, key, r)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}
