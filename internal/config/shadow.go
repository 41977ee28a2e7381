package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Shadow configures the comparison of legacy and new answers (package
// shadow): the worker pool that sends copies off the hot path, the
// normalisation rules per route, the declared accepted differences, noise
// learning, mismatch records and their redaction.
type Shadow struct {
	// Workers is the most goroutines sending secondary calls at once (they
	// start on demand and leave when idle).
	Workers int `mapstructure:"workers"`
	// Queue is how many comparisons may wait for a worker; past it a
	// comparison is skipped (counted), never waited for.
	Queue int `mapstructure:"queue"`
	// Timeout bounds one secondary call, detached from the client.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxBodyBytes is the largest request body buffered for a copy; a larger
	// request is served and its comparison skipped (reason body_too_large).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxResponseBytes is how much of each answer is kept for comparison; a
	// longer answer is streamed to the client and not compared.
	MaxResponseBytes int64 `mapstructure:"max_response_bytes"`
	// MaxInflightBytes bounds the bodies held by queued and running
	// comparisons together (skip reason memory).
	MaxInflightBytes int64 `mapstructure:"max_inflight_bytes"`
	// CompareInNewMode also compares safe requests of routes in new mode
	// (legacy as the secondary). Shadow and canary modes always compare.
	CompareInNewMode bool `mapstructure:"compare_in_new_mode"`
	// RelearnFraction of compared requests is also sent to legacy a second
	// time; fields that differ between two legacy answers become noise.
	RelearnFraction float64 `mapstructure:"relearn_fraction"`
	// NoiseRefresh is how often a replica reloads the noise learned by all
	// replicas from the database.
	NoiseRefresh time.Duration `mapstructure:"noise_refresh"`
	// BreakerFailures consecutive failures of a secondary target pause its
	// comparisons for BreakerPause (skip reason secondary_down); then one
	// comparison at a time probes it, each failed probe doubling the pause
	// (up to 32 times).
	BreakerFailures int           `mapstructure:"breaker_failures"`
	BreakerPause    time.Duration `mapstructure:"breaker_pause"`

	Record ShadowRecord `mapstructure:"record"`
	Redact ShadowRedact `mapstructure:"redact"`
	// Rules normalise answers per route before they are compared.
	Rules []ShadowRule `mapstructure:"rules"`
	// Accepted lists declared differences, counted apart from mismatches.
	// Setting this key replaces the shipped list (DefaultShadow).
	Accepted []AcceptedDiff `mapstructure:"accepted"`
}

// ShadowRecord configures the mismatch records in strangler.shadow_mismatches.
type ShadowRecord struct {
	// SampleFraction of mismatches is stored (the rest only counted).
	SampleFraction float64 `mapstructure:"sample_fraction"`
	// PerRoutePerHour caps stored mismatches per route and clock hour, per
	// replica.
	PerRoutePerHour int `mapstructure:"per_route_per_hour"`
	// MaxBodyBytes caps each stored body (after redaction).
	MaxBodyBytes int `mapstructure:"max_body_bytes"`
	// Retention is how long records are kept; the retention job deletes
	// older ones every RetentionInterval.
	Retention         time.Duration `mapstructure:"retention"`
	RetentionInterval time.Duration `mapstructure:"retention_interval"`
}

// ShadowRedact says what never reaches a stored record. A redacted value is
// stored as the string <redacted>.
type ShadowRedact struct {
	// Headers are request and answer headers whose values are redacted
	// (case-insensitive).
	Headers []string `mapstructure:"headers"`
	// Fields are JSON keys and query or form parameters whose values are
	// redacted: case-insensitive globs compared with '_' and '-' removed,
	// so submitter_email also covers submitterEmail.
	Fields []string `mapstructure:"fields"`
	// TextPatterns are regular expressions whose matches are redacted inside
	// any stored string (text bodies, JSON strings, messages).
	TextPatterns []string `mapstructure:"text_patterns"`
}

// ShadowRule normalises the answers of the routes (and tRPC procedures) it
// matches. Paths are JSON paths with array indices written [*]: for tRPC
// they start at the procedure's result data ($ is the data), and the
// envelope's other parts are named status, outcome, error.code,
// error.message, error.issues and error.path. Globs: * matches within one
// key, ** across keys, and $..name is any name at any depth.
type ShadowRule struct {
	// Route is a route id glob ("nanopore.*"); empty matches every route.
	Route string `mapstructure:"route"`
	// Procedure is a tRPC procedure glob; empty matches every procedure.
	Procedure string `mapstructure:"procedure"`
	// Ignore drops these paths from the comparison.
	Ignore []string `mapstructure:"ignore"`
	// Presence compares only whether these values are null, and their type.
	Presence []string `mapstructure:"presence"`
	// MapIDs are paths of identifiers: an id seen in legacy's answer must
	// map to one id in the new answer, consistently within the request.
	MapIDs []string `mapstructure:"map_ids"`
	// Unordered arrays are paired by the value of a key, not by position.
	Unordered []UnorderedArray `mapstructure:"unordered"`
	// Tolerance accepts numbers within an absolute difference.
	Tolerance []NumericTolerance `mapstructure:"tolerance"`
	// Headers are the answer headers compared (lower-case names).
	Headers []string `mapstructure:"headers"`
}

// UnorderedArray pairs the elements of the arrays at Path by Key.
type UnorderedArray struct {
	Path string `mapstructure:"path"`
	Key  string `mapstructure:"key"`
}

// NumericTolerance accepts numbers at Path that differ by at most Abs.
type NumericTolerance struct {
	Path string  `mapstructure:"path"`
	Abs  float64 `mapstructure:"abs"`
}

// AcceptedDiff is a declared difference: a difference at Path of Route and
// Procedure is counted as accepted, not as a mismatch, until Expires.
type AcceptedDiff struct {
	Route     string `mapstructure:"route"`
	Procedure string `mapstructure:"procedure"`
	// Path is a path glob (see ShadowRule); ** is the whole answer.
	Path   string `mapstructure:"path"`
	Reason string `mapstructure:"reason"`
	Owner  string `mapstructure:"owner"`
	// Expires is a date (2027-06-30) or an RFC 3339 time; after it the
	// difference counts as a mismatch again. Required.
	Expires string `mapstructure:"expires"`
	// AfterWrites, with Within, restricts the acceptance to answers given
	// within that long after a call of one of these procedures (globs) went
	// through this replica: legacy's getAll snapshot is stale only then.
	AfterWrites []string      `mapstructure:"after_writes"`
	Within      time.Duration `mapstructure:"within"`
	// LegacyMessage, when set, restricts the acceptance to calls whose
	// legacy answer is an error with exactly this message.
	LegacyMessage string `mapstructure:"legacy_message"`
}

// declaredFixesExpire is when the shipped accepted differences lapse unless
// someone renews them: a declared difference is a decision, re-read yearly.
const declaredFixesExpire = "2027-12-31"

// DefaultShadow returns the shadow defaults: a bounded pool, the volatile
// fields of legacy-contract.md section 7 normalised, and the declared fixes
// of DESIGN.md ("Compatibility decisions") accepted.
func DefaultShadow() Shadow {
	return Shadow{
		Workers: 256, Queue: 1024, Timeout: 5 * time.Second,
		MaxBodyBytes: 1 << 20, MaxResponseBytes: 1 << 20, MaxInflightBytes: 128 << 20,
		RelearnFraction: 0.02, NoiseRefresh: 30 * time.Second,
		BreakerFailures: 20, BreakerPause: time.Second,
		Record: ShadowRecord{
			SampleFraction: 1, PerRoutePerHour: 100, MaxBodyBytes: 64 << 10,
			Retention: 7 * 24 * time.Hour, RetentionInterval: time.Hour,
		},
		Redact: ShadowRedact{
			Headers: []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
				"X-Strangler-Token", "X-Api-Key"},
			Fields: []string{"*password*", "*passwd*", "*token*", "*secret*", "*apikey*",
				"*credential*", "authorization", "cookie", "*sessionid*", "submitteremail", "email"},
			TextPatterns: []string{
				`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`,
				`(?i)bearer\s+[A-Za-z0-9._~+/=-]+`,
				`session-[0-9]+-[a-z0-9]+`,
			},
		},
		Rules:    defaultShadowRules(),
		Accepted: defaultAccepted(),
	}
}

// defaultShadowRules normalise legacy-contract.md section 7.
func defaultShadowRules() []ShadowRule {
	stamps := []string{"$..submitted_at", "$..created_at", "$..updated_at", "$..started_at", "$..completed_at"}
	return []ShadowRule{
		{Route: "nanopore.*", Procedure: "nanopore.*",
			MapIDs: []string{"$..id", "$..sample_id"}, Presence: stamps},
		{Route: "nanopore.getAll", Procedure: "nanopore.getAll",
			Unordered: []UnorderedArray{{Path: "$", Key: "id"}}},
		{Route: "health", Procedure: "health", Presence: []string{"$.timestamp"}},
	}
}

// defaultAccepted declares DESIGN.md's fixes of legacy defects.
func defaultAccepted() []AcceptedDiff {
	const owner = "samples"
	return []AcceptedDiff{
		{Route: "nanopore.*", Procedure: "nanopore.*ProcessingStep*", Path: "**", Owner: owner,
			Expires: declaredFixesExpire, LegacyMessage: "timer.done is not a function",
			Reason: "processing steps: the Go service implements contract 4.8 and 3.6; legacy always answers 500"},
		{Route: "nanopore.getAll", Procedure: "nanopore.getAll", Path: "$**", Owner: owner,
			Expires: declaredFixesExpire, Within: 300 * time.Second,
			AfterWrites: []string{"nanopore.update", "nanopore.assign", "nanopore.updateStatus", "nanopore.delete"},
			Reason:      "getAll staleness: the Go service answers fresh data; legacy serves a 300 s snapshot only create refreshes"},
		{Route: "nanopore.*", Procedure: "nanopore.*", Path: "$..submitter_email", Owner: owner,
			Expires: declaredFixesExpire,
			Reason:  "emails: the Go service stores the address as given; legacy strips SQL keywords out of it"},
	}
}

// Problems checks the shadow section; keys are prefixed "shadow.".
func (s *Shadow) Problems() Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: "shadow." + key, Reason: fmt.Sprintf(format, args...)})
	}
	for key, n := range map[string]int64{"workers": int64(s.Workers), "queue": int64(s.Queue),
		"max_body_bytes": s.MaxBodyBytes, "max_response_bytes": s.MaxResponseBytes,
		"max_inflight_bytes": s.MaxInflightBytes, "breaker_failures": int64(s.BreakerFailures),
		"record.max_body_bytes": int64(s.Record.MaxBodyBytes)} {
		if n < 1 {
			add(key, "must be at least 1, got %d", n)
		}
	}
	for key, d := range map[string]time.Duration{"timeout": s.Timeout, "noise_refresh": s.NoiseRefresh,
		"breaker_pause": s.BreakerPause, "record.retention": s.Record.Retention,
		"record.retention_interval": s.Record.RetentionInterval} {
		if d <= 0 {
			add(key, "must be a positive duration, got %s", d)
		}
	}
	for key, f := range map[string]float64{"relearn_fraction": s.RelearnFraction, "record.sample_fraction": s.Record.SampleFraction} {
		if f < 0 || f > 1 {
			add(key, "must be a fraction from 0 to 1, got %g", f)
		}
	}
	if s.Record.PerRoutePerHour < 0 {
		add("record.per_route_per_hour", "must not be negative, got %d", s.Record.PerRoutePerHour)
	}
	for i, p := range s.Redact.TextPatterns {
		if _, err := regexp.Compile(p); err != nil {
			add(fmt.Sprintf("redact.text_patterns[%d]", i), "not a regular expression: %v", err)
		}
	}
	ps = append(ps, s.ruleProblems()...)
	for i, a := range s.Accepted {
		ps = append(ps, a.problems(fmt.Sprintf("shadow.accepted[%d]", i))...)
	}
	return ps
}

func (s *Shadow) ruleProblems() Problems {
	var ps Problems
	for i, r := range s.Rules {
		key := fmt.Sprintf("shadow.rules[%d]", i)
		for field, list := range map[string][]string{"ignore": r.Ignore, "presence": r.Presence, "map_ids": r.MapIDs} {
			for j, p := range list {
				if err := CheckPathGlob(p); err != nil {
					ps = append(ps, Problem{Key: fmt.Sprintf("%s.%s[%d]", key, field, j), Reason: err.Error()})
				}
			}
		}
		for j, u := range r.Unordered {
			if err := CheckPathGlob(u.Path); err != nil || u.Key == "" {
				ps = append(ps, Problem{Key: fmt.Sprintf("%s.unordered[%d]", key, j), Reason: "needs a path glob starting with $ and a key"})
			}
		}
		for j, t := range r.Tolerance {
			if err := CheckPathGlob(t.Path); err != nil || t.Abs < 0 {
				ps = append(ps, Problem{Key: fmt.Sprintf("%s.tolerance[%d]", key, j), Reason: "needs a path glob starting with $ and abs >= 0"})
			}
		}
	}
	return ps
}

func (a AcceptedDiff) problems(key string) Problems {
	var ps Problems
	add := func(field, reason string) { ps = append(ps, Problem{Key: key + "." + field, Reason: reason}) }
	if strings.TrimSpace(a.Reason) == "" {
		add("reason", "a declared difference needs a reason")
	}
	if strings.TrimSpace(a.Owner) == "" {
		add("owner", "a declared difference needs an owner")
	}
	if a.Path == "" {
		add("path", "a declared difference needs a path glob (** for the whole answer)")
	}
	if _, err := ParseExpiry(a.Expires); err != nil {
		add("expires", err.Error())
	}
	if (len(a.AfterWrites) > 0) != (a.Within > 0) {
		add("within", "after_writes and within go together")
	}
	return ps
}

// ParseExpiry reads an expiry: a date (the whole day counts, UTC) or an
// RFC 3339 time.
func ParseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24 * time.Hour), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("must be a date such as 2027-06-30 or an RFC 3339 time, got %q", s)
}

// CheckPathGlob checks a path glob of the shadow rules: it names the root
// ($), the answer's status, outcome or error, or is ** (anything).
func CheckPathGlob(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "$"), strings.HasPrefix(p, "**"):
		return nil
	}
	for _, prefix := range []string{"status", "outcome", "error", "header", "body"} {
		if strings.HasPrefix(p, prefix) {
			return nil
		}
	}
	return fmt.Errorf("path %q must start with $ (the data), status, outcome, error., header. or body, or be **", p)
}
