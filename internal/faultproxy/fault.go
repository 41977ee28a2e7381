package faultproxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Kind is what a fault does to the requests it hits.
type Kind string

// Fault kinds (see the package documentation).
const (
	KindLatency   Kind = "latency"
	KindError     Kind = "error"
	KindTRPCError Kind = "trpc_error"
	KindCorrupt   Kind = "corrupt"
	KindReset     Kind = "reset"
	KindHang      Kind = "hang"
)

// Fault is one rule of a Proxy. Zero fields: every path, every method, every
// request (Rate 0 means 1).
type Fault struct {
	Kind Kind `json:"kind"`
	// Match selects requests whose path and query (as sent) contain it.
	Match string `json:"match,omitempty"`
	// Method selects requests of one method.
	Method string `json:"method,omitempty"`
	// Rate is the share of selected requests hit, spread evenly: at 0.2
	// exactly every fifth selected request, starting with the fifth.
	Rate float64 `json:"rate,omitempty"`
	// Delay is the latency fault's wait before forwarding.
	Delay time.Duration `json:"delay,omitempty"`
	// Old and New are the corrupt fault's replacement in the answer body
	// (every occurrence).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// Validate says what is wrong with a fault.
func (f Fault) Validate() error {
	switch f.Kind {
	case KindLatency:
		if f.Delay <= 0 {
			return fmt.Errorf("latency fault needs a positive delay")
		}
	case KindCorrupt:
		if f.Old == "" {
			return fmt.Errorf("corrupt fault needs old text to replace")
		}
	case KindError, KindTRPCError, KindReset, KindHang:
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("rate %v is not within 0-1", f.Rate)
	}
	return nil
}

// terminal faults answer (or refuse to) instead of the upstream.
func (k Kind) terminal() bool {
	return k == KindError || k == KindTRPCError || k == KindReset || k == KindHang
}

// rule is a fault and how many requests it selected, for the even spread.
type rule struct {
	Fault
	perMillion int64
	mu         sync.Mutex
	seen       int64
}

func newRule(f Fault) *rule {
	rate := f.Rate
	if rate == 0 {
		rate = 1
	}
	return &rule{Fault: f, perMillion: int64(rate*1e6 + 0.5)}
}

// selects says whether the rule is about r at all.
func (r *rule) selects(req *http.Request) bool {
	if r.Method != "" && !strings.EqualFold(r.Method, req.Method) {
		return false
	}
	return r.Match == "" || strings.Contains(req.URL.RequestURI(), r.Match)
}

// hit counts one selected request and says whether the fault applies to
// it: the n-th selected request is hit when floor(n*rate) grows.
func (r *rule) hit() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	return r.seen*r.perMillion/1e6 > (r.seen-1)*r.perMillion/1e6
}

// plan is what happens to one request: a delay, a terminal fault, a body
// replacement, or plain forwarding.
type plan struct {
	delay    time.Duration
	terminal Kind
	corrupt  *Fault
	applied  []string
}

// planFor walks the rules in order: latency and corrupt faults add up, the
// first terminal fault that hits ends the walk.
func planFor(rules []*rule, req *http.Request) plan {
	var p plan
	for _, r := range rules {
		if !r.selects(req) || !r.hit() {
			continue
		}
		p.applied = append(p.applied, string(r.Kind))
		switch {
		case r.Kind == KindLatency:
			p.delay += r.Delay
		case r.Kind == KindCorrupt:
			f := r.Fault
			p.corrupt = &f
		case r.Kind.terminal():
			p.terminal = r.Kind
			return p
		}
	}
	return p
}
