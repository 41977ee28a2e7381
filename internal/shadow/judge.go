package shadow

import (
	"context"
	"sync"
	"time"
)

// Judge compares a pair, classifies every difference (accepted, noise or
// mismatch), counts the outcomes and records the mismatches. The worker
// pool calls it for the copies it sends; dual writes call it with the two
// answers of a write they obtained themselves. req is the request both
// answer; primary names the side that answered the client.
func (s *Shadower) Judge(ctx context.Context, req *Request, primary string, pair Pair) []Verdict {
	return s.judge(ctx, req, primary, pair)
}

func (s *Shadower) judge(ctx context.Context, req *Request, primary string, pair Pair) []Verdict {
	verdicts := Compare(pair, s.rules)
	now := s.now()
	for i := range verdicts {
		s.classify(&verdicts[i], now)
	}
	for _, v := range verdicts {
		s.metrics.comparisons.WithLabelValues(v.Route, v.Procedure, v.Outcome).Inc()
		rate := s.window.add(v.Route, now, v.Outcome == OutcomeMismatch)
		s.metrics.rate.WithLabelValues(v.Route).Set(rate)
		if s.verdict != nil {
			s.verdict(v.Route, v.Outcome)
		}
	}
	if pair.Legacy.Latency > 0 && pair.New.Latency > 0 {
		s.metrics.delta.WithLabelValues(pair.Route).Observe((pair.New.Latency - pair.Legacy.Latency).Seconds())
	}
	for i, v := range verdicts {
		if v.Outcome == OutcomeMismatch {
			s.record(ctx, req, primary, pair, v, inputOf(pair, i))
		}
	}
	return verdicts
}

func inputOf(p Pair, i int) []byte {
	if i < len(p.Inputs) {
		return p.Inputs[i]
	}
	return nil
}

// classify gives each difference its class and the verdict its outcome:
// mismatch when any difference is one, else accepted, else noise, else
// match. A declared difference past its expiry is a mismatch again.
func (s *Shadower) classify(v *Verdict, now time.Time) {
	ac := acceptContext{now: now, legacyMessage: v.legacyError, lastWrite: s.wroteWithin}
	v.Outcome = OutcomeMatch
	rank := map[string]int{OutcomeMatch: 0, OutcomeNoise: 1, OutcomeAccepted: 2, OutcomeMismatch: 3}
	for k := range v.Diffs {
		d := &v.Diffs[k]
		if a, ok := s.rules.accept(v.Route, v.Procedure, d.General, ac); ok {
			d.Class, d.Reason, d.Owner = ClassAccepted, a.Reason, a.Owner
		} else if s.noise.has(v.Route, v.Procedure, d.General) {
			d.Class = ClassNoise
		} else {
			d.Class = ClassMismatch
		}
		if rank[d.Class] > rank[v.Outcome] {
			v.Outcome = d.Class
		}
	}
}

// record stores one mismatching verdict, sampled and capped per route and
// hour, redacted. A failure to store is counted and logged, never more.
func (s *Shadower) record(ctx context.Context, req *Request, primary string, pair Pair, v Verdict, input []byte) {
	rc := s.cfg.Record
	switch {
	case s.store == nil || req == nil:
		return
	case rc.SampleFraction < 1 && s.rand() >= rc.SampleFraction:
		s.metrics.records.WithLabelValues(v.Route, "sampled_out").Inc()
		return
	case !s.caps.allow(v.Route, s.now(), rc.PerRoutePerHour):
		s.metrics.records.WithLabelValues(v.Route, "capped").Inc()
		return
	}
	r := s.buildRecord(req, primary, pair, v, input)
	if _, err := s.store.Insert(ctx, r); err != nil {
		s.metrics.records.WithLabelValues(v.Route, "failed").Inc()
		s.log.Warn().Err(err).Str("route", v.Route).Msg("shadow: mismatch not recorded")
		return
	}
	s.metrics.records.WithLabelValues(v.Route, "stored").Inc()
}

// buildRecord assembles a record with every secret and personal field
// redacted: headers, query, input, bodies and the values in the diffs.
func (s *Shadower) buildRecord(req *Request, primary string, pair Pair, v Verdict, input []byte) *Record {
	rd := s.redact
	r := &Record{
		Replica: s.replica, RequestID: req.ID, Route: v.Route, Procedure: v.Procedure, PrimarySide: primary,
		Method: req.Method, Path: req.Path, Query: rd.Query(req.RawQuery),
		RequestHeader: rd.Header(req.Header),
		LegacyStatus:  pair.Legacy.Status, NewStatus: pair.New.Status,
		LegacyHeader: rd.Header(pair.Legacy.Header), NewHeader: rd.Header(pair.New.Header),
		LegacyMS: ms(pair.Legacy.Latency), NewMS: ms(pair.New.Latency),
	}
	switch {
	case input != nil:
		r.Input = rd.Body(input, "application/json")
	case pair.Calls == nil && len(req.Body) > 0:
		r.Input = capText(rd.Body(req.Body, req.Header.Get("Content-Type")), s.cfg.Record.MaxBodyBytes)
	}
	lb, nb := pair.Legacy.Body, pair.New.Body
	if v.LegacyEntry != nil && v.NewEntry != nil {
		lb, nb = v.LegacyEntry, v.NewEntry
	}
	r.LegacyBody = capText(rd.Body(lb, pair.Legacy.Header.Get("Content-Type")), s.cfg.Record.MaxBodyBytes)
	r.NewBody = capText(rd.Body(nb, pair.New.Header.Get("Content-Type")), s.cfg.Record.MaxBodyBytes)
	seen := map[string]bool{}
	r.Diffs = make([]Diff, len(v.Diffs))
	for i, d := range v.Diffs {
		r.Diffs[i] = rd.Diff(d)
		if d.Class == ClassMismatch && !seen[d.General] {
			seen[d.General] = true
			r.Paths = append(r.Paths, d.General)
		}
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "… (cut)"
}

// recordCaps counts stored records per route in the current clock hour.
type recordCaps struct {
	mu sync.Mutex
	m  map[string]*hourCount
}

type hourCount struct {
	hour int64
	n    int
}

func (c *recordCaps) allow(route string, now time.Time, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := now.Unix() / 3600
	hc := c.m[route]
	if hc == nil || hc.hour != h {
		hc = &hourCount{hour: h}
		c.m[route] = hc
	}
	if hc.n >= limit {
		return false
	}
	hc.n++
	return true
}
