package guard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Probe checks one target once; nil means healthy.
type Probe func(ctx context.Context) error

// HTTPProbe checks a URL: any 2xx answer is healthy, anything else (503 from
// legacy's /health when its database is down) is not.
func HTTPProbe(client *http.Client, url string) Probe {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "strangler-health")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("health check answered %d", resp.StatusCode)
		}
		return nil
	}
}

// Status is the last known health of one target.
type Status struct {
	Target    string    `json:"target"`
	Healthy   bool      `json:"healthy"`
	Checked   bool      `json:"checked"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
	// ConsecutiveFailures counts failed checks since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
}

// Checker runs the probes of several targets on an interval.
type Checker struct {
	interval, timeout time.Duration
	log               zerolog.Logger
	healthy           *prometheus.GaugeVec
	checks            *prometheus.CounterVec

	mu     sync.RWMutex
	probes map[string]Probe
	status map[string]Status
	wg     sync.WaitGroup
}

// NewChecker makes a Checker whose metrics go to reg.
func NewChecker(interval, timeout time.Duration, log zerolog.Logger, reg prometheus.Registerer) *Checker {
	c := &Checker{
		interval: interval, timeout: timeout, log: log,
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_target_healthy",
			Help: "1 when the target's last active health check passed, 0 otherwise.",
		}, []string{"target"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_health_checks_total",
			Help: "Active health checks by target and result (ok, fail).",
		}, []string{"target", "result"}),
		probes: map[string]Probe{},
		status: map[string]Status{},
	}
	reg.MustRegister(c.healthy, c.checks)
	return c
}

// Add registers a target; call before Run.
func (c *Checker) Add(target string, p Probe) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probes[target] = p
	c.status[target] = Status{Target: target}
}

// Run checks every target at once and then on each interval until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	c.mu.RLock()
	for name, p := range c.probes {
		c.wg.Add(1)
		go c.loop(ctx, name, p)
	}
	c.mu.RUnlock()
	c.wg.Wait()
}

func (c *Checker) loop(ctx context.Context, name string, p Probe) {
	defer c.wg.Done()
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.CheckOnce(ctx, name, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckOnce runs one probe and records its result.
func (c *Checker) CheckOnce(ctx context.Context, name string, p Probe) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	err := safeProbe(cctx, p)
	cancel()
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	st := c.status[name]
	prevHealthy, prevChecked := st.Healthy, st.Checked
	st.Checked, st.CheckedAt, st.Healthy, st.Error = true, time.Now(), err == nil, ""
	if err != nil {
		st.Error = err.Error()
		st.ConsecutiveFailures++
	} else {
		st.ConsecutiveFailures = 0
	}
	c.status[name] = st
	c.mu.Unlock()
	if err != nil {
		c.checks.WithLabelValues(name, "fail").Inc()
		c.healthy.WithLabelValues(name).Set(0)
	} else {
		c.checks.WithLabelValues(name, "ok").Inc()
		c.healthy.WithLabelValues(name).Set(1)
	}
	if !prevChecked || prevHealthy != st.Healthy {
		c.log.Info().Str("target", name).Bool("healthy", st.Healthy).Str("error", st.Error).Msg("target health changed")
	}
}

func safeProbe(ctx context.Context, p Probe) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("health probe panicked: %v", v)
		}
	}()
	return p(ctx)
}

// Statuses returns the last status of every target.
func (c *Checker) Statuses() []Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Status, 0, len(c.status))
	for _, s := range c.status {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// Failures returns a target's consecutive failed checks, and whether the
// target is checked at all (the guard's health signal).
func (c *Checker) Failures(target string) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.status[target]
	return st.ConsecutiveFailures, ok
}
