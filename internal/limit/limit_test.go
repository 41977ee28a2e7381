package limit

import (
	"context"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLocalBucketHoldsItsRateAndBurst(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	s := NewLocal()
	s.Now = c.now
	r := Rule{Requests: 10, Per: time.Second, Burst: 5}
	ctx := context.Background()
	allowed := 0
	for i := 0; i < 20; i++ {
		if ok, _, _ := s.Take(ctx, "k", r); ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("a burst of 20 at once let %d through, want 5", allowed)
	}
	ok, wait, _ := s.Take(ctx, "k", r)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("over the limit: ok=%v wait=%s", ok, wait)
	}
	// Over 10 simulated seconds at a steady 100/s, 10/s get through.
	allowed = 0
	for i := 0; i < 1000; i++ {
		c.t = c.t.Add(10 * time.Millisecond)
		if ok, _, _ := s.Take(ctx, "k", r); ok {
			allowed++
		}
	}
	if allowed < 99 || allowed > 101 {
		t.Errorf("steady state let %d of 1000 through in 10 s, want about 100", allowed)
	}
	if ok, _, _ := s.Take(ctx, "other", r); !ok {
		t.Error("another key is limited too")
	}
}

func TestPolicyLimitsLoginPerUsernameAndKeepsTheBody(t *testing.T) {
	l := &Limiter{Store: NewLocal(), Policy: Policy{
		LoginPath:        "/api/admin/login",
		LoginPerClient:   Rule{Requests: 100, Per: time.Minute, Burst: 100},
		LoginPerUsername: Rule{Requests: 4, Per: 15 * time.Minute, Burst: 4},
	}}
	ctx := context.Background()
	addr := netip.MustParseAddr("192.0.2.1")
	login := func(user string) (Verdict, string) {
		body := `{"username":"` + user + `","password":"x"}`
		r := httptest.NewRequest("POST", "/api/admin/login", strings.NewReader(body))
		v := l.Check(ctx, r, "/api/admin/login", addr)
		b, _ := io.ReadAll(r.Body)
		return v, string(b)
	}
	for i := 0; i < 4; i++ {
		v, body := login("admin")
		if !v.Allowed || !strings.Contains(body, `"password":"x"`) {
			t.Fatalf("attempt %d: %+v, body %q", i, v, body)
		}
	}
	if v, _ := login("admin"); v.Allowed || v.Rule != "login_per_username" || v.RetryAfter < time.Minute {
		t.Fatalf("fifth attempt on admin: %+v (the legacy lockout needs five)", v)
	}
	if v, _ := login("operator"); !v.Allowed {
		t.Errorf("another username is limited: %+v", v)
	}
}

func TestRedisStoreSharesBucketsAndFallsBackWhenDown(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis is required for this test (127.0.0.1:6379): %v", err)
	}
	prefix := "strangler-test:" + t.Name() + ":" + time.Now().Format(time.RFC3339Nano) + ":"
	a := &Redis{Client: client, Local: NewLocal(), Prefix: prefix, Cooldown: time.Minute, Timeout: time.Second}
	b := &Redis{Client: client, Local: NewLocal(), Prefix: prefix, Cooldown: time.Minute, Timeout: time.Second}
	r := Rule{Requests: 1, Per: time.Hour, Burst: 3}
	ctx := context.Background()
	allowed := 0
	for i := 0; i < 4; i++ {
		for _, s := range []*Redis{a, b} {
			if ok, _, err := s.Take(ctx, "k", r); err == nil && ok {
				allowed++
			}
		}
	}
	if allowed != 3 {
		t.Fatalf("two replicas sharing a burst of 3 let %d through", allowed)
	}
	dead := &Redis{Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Local: NewLocal(),
		Prefix: prefix, Cooldown: time.Minute, Timeout: 200 * time.Millisecond}
	if ok, _, err := dead.Take(ctx, "k", r); !ok || err != nil || dead.Failures.Load() != 1 {
		t.Fatalf("with Redis down: ok=%v err=%v failures=%d (want the local bucket)", ok, err, dead.Failures.Load())
	}
}
