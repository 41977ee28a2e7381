package dualwrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/trpc"
)

// CompareFunc receives a secondary execution's answer with legacy's, off
// the hot path (JudgeWith adapts a shadow.Shadower).
type CompareFunc func(ctx context.Context, c Comparison)

// Comparison is one tRPC call answered by legacy and replayed on the new
// service.
type Comparison struct {
	// Route is the route id of the call (default: the procedure name).
	Group, RequestID, Route, Procedure string
	Input                              []byte
	// Legacy is the call's own envelope from legacy's answer (one entry
	// of a batch); New is the new service's answer to the call alone.
	Legacy, New Answer
}

// Answer is one side's answer to a call.
type Answer struct {
	Status  int
	Body    []byte
	Latency time.Duration
}

// job is one answered request for the workers.
type job struct {
	requestID string
	intents   []*intent
	// execs are the calls to replay on the new service.
	execs   []execCall
	latency time.Duration
	done    time.Time
}

// execCall is one call legacy answered successfully in shadow or canary.
type execCall struct {
	group, route, procedure string
	input, entry            []byte
	createID                string
}

// job reads legacy's answer: which calls succeeded, and the keys of the
// rows creates made. An answer it cannot read (too large, cut short) leaves
// every create unresolved, for the sweep.
func (p *Pending) job() *job {
	j := &job{requestID: p.info.RequestID, intents: p.intents, done: p.w.opts.Now()}
	j.latency = j.done.Sub(p.start)
	entries, answered := p.entries()
	for _, it := range p.intents {
		it.Answered = answered
		spec := p.w.groups[it.Group].spec
		for i, c := range p.info.Calls {
			if c.Group != it.Group || !answered {
				continue
			}
			e := entries[i]
			if spec.Creates(c.Procedure) {
				resolveCreate(spec, it, c.Procedure, e)
			}
			if e.Status == http.StatusOK && (p.modes[it.Group] == "shadow" || p.modes[it.Group] == "canary") {
				ec := execCall{group: it.Group, route: c.Route, procedure: c.Procedure, input: p.inputs[i], entry: e.Raw}
				if ref, ok := spec.AnswerRef(c.Procedure, e.Raw); ok {
					ec.createID = ref.Key
				}
				j.execs = append(j.execs, ec)
			}
		}
	}
	return j
}

// resolveCreate settles one create of an intent from its envelope: a
// success names the new row; a refusal (4xx) wrote nothing; anything else
// (a 5xx, or the proxy's own 502/504) may have written, and stays for the
// sweep.
func resolveCreate(spec *Spec, it *intent, procedure string, e trpc.Entry) {
	switch {
	case e.Status == http.StatusOK:
		if ref, ok := spec.AnswerRef(procedure, e.Raw); ok {
			it.addRef(spec, ref)
			it.Creates--
		}
	case e.Status >= 400 && e.Status < 500:
		it.Creates--
	}
}

// entries splits legacy's answer into one envelope per call.
func (p *Pending) entries() ([]trpc.Entry, bool) {
	c := p.capt
	if c == nil || c.status == 0 || c.truncated {
		return nil, false
	}
	if !p.info.Batch {
		if len(p.info.Calls) != 1 {
			return nil, false
		}
		return []trpc.Entry{{Raw: c.body, Status: c.status}}, true
	}
	entries, err := trpc.ParseBatch(c.body)
	if err != nil || len(entries) != len(p.info.Calls) {
		return nil, false
	}
	return entries, true
}

// worker runs jobs until ctx ends.
func (w *Writer) worker(ctx context.Context) {
	for {
		if j := w.jobs.pop(); j != nil {
			w.safely(func() { w.process(ctx, j) })
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-w.jobs.wake:
		}
	}
}

// safely runs f, logging a panic instead of dying: a bug in one job must
// not stop the dual writes.
func (w *Writer) safely(f func()) {
	defer func() {
		if v := recover(); v != nil {
			w.log.Error().Interface("panic", v).Msg("dual-write job panicked; its intents stay for the retry loop")
		}
	}()
	f()
}

// process replays the job's calls on the new service (for comparison),
// then converges the new store to legacy's rows.
func (w *Writer) process(ctx context.Context, j *job) {
	for _, ec := range j.execs {
		w.execute(ctx, j, ec)
	}
	for _, it := range j.intents {
		if w.converge(ctx, it) {
			w.m.convergeLag.WithLabelValues(it.Group).Observe(time.Since(j.done).Seconds())
		}
	}
}

// execute replays one call on the new service through the internal
// channel (WithSecondary: legacy's id for a create, no outbox row) and
// hands both answers to Compare. Its effect on the new store does not
// matter: the converge that follows overwrites it with legacy's rows.
func (w *Writer) execute(ctx context.Context, j *job, ec execCall) {
	spec := w.groups[ec.group].spec
	h := w.opts.Services[spec.Service]
	if h == nil {
		w.m.secondary.WithLabelValues(ec.group, ec.procedure, "skipped").Inc()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.SecondaryTimeout)
	defer cancel()
	ctx = WithSecondary(ctx, Secondary{CreateID: ec.createID, RequestID: j.requestID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, trpc.Endpoint+"/"+url.PathEscape(ec.procedure), bytes.NewReader(ec.input))
	if err != nil {
		w.m.secondary.WithLabelValues(ec.group, ec.procedure, "error").Inc()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	ex, err := shadow.Handler(h).Call(req, w.opts.MaxAnswer)
	if err != nil {
		w.m.secondary.WithLabelValues(ec.group, ec.procedure, "error").Inc()
		return
	}
	w.m.secondary.WithLabelValues(ec.group, ec.procedure, "ok").Inc()
	if w.opts.Compare == nil {
		return
	}
	status, _ := trpc.EnvelopeStatus(ec.entry)
	w.opts.Compare(ctx, Comparison{Group: ec.group, RequestID: j.requestID, Route: ec.route, Procedure: ec.procedure, Input: ec.input,
		Legacy: Answer{Status: status, Body: ec.entry, Latency: j.latency},
		New:    Answer{Status: ex.Status, Body: ex.Body, Latency: time.Since(start)}})
}

// converge makes the new store hold exactly legacy's rows for what an
// intent touched, then deletes the intent. A failure records the intent
// for a retry (in memory while the database is down). It reports success.
func (w *Writer) converge(ctx context.Context, it *intent) bool {
	g := w.groups[it.Group]
	err := w.convergeOnce(ctx, g, it)
	if err == nil {
		outcome := "ok"
		if !it.Answered {
			outcome = "recovered"
		}
		w.m.converge.WithLabelValues(it.Group, outcome).Inc()
		return true
	}
	if ctx.Err() != nil && !it.Stored {
		w.remember(it)
		return false
	}
	dead, serr := w.store.save(context.WithoutCancel(ctx), it, err, w.opts.Retry)
	switch {
	case serr != nil:
		w.remember(it)
	case dead:
		w.m.converge.WithLabelValues(it.Group, "dead").Inc()
		w.log.Error().Err(err).Str("intent", it.ID).Strs("ids", it.IDs).Msg("converge given up; reconcile will repair")
	default:
		it.Stored = true
		w.m.converge.WithLabelValues(it.Group, "retry").Inc()
	}
	return false
}

// convergeOnce resolves the intent's rows to aggregates and copies them.
func (w *Writer) convergeOnce(ctx context.Context, g *group, it *intent) error {
	if err := w.resolve(ctx, g, it); err != nil {
		return err
	}
	if len(it.IDs) == 0 {
		if it.Stored {
			return w.store.done(ctx, it.ID)
		}
		return nil
	}
	gd := guard{}
	if w.opts.Mode != nil && w.opts.Mode(it.Group) == "new" {
		// The group moved to new since: legacy is no longer the truth, so
		// its rows win only where they are newer.
		gd = guard{on: true, since: it.Created}
	}
	var failed map[string]error
	err := pgx.BeginFunc(ctx, w.opts.Stores.New, func(tx pgx.Tx) error {
		var err error
		if failed, err = g.c.sync(ctx, tx, SideNew, it.IDs, gd); err != nil || len(failed) > 0 || !it.Stored {
			return err
		}
		// The intent goes with the rows it brought: one commit.
		_, err = tx.Exec(ctx, `DELETE FROM strangler.dualwrite_intents WHERE id = $1`, it.ID)
		return err
	})
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		var errs []error
		for id, e := range failed {
			errs = append(errs, fmt.Errorf("%s: %w", id, e))
		}
		return errors.Join(errs...)
	}
	return nil
}

// resolve turns an intent's child rows into their aggregates and, for
// creates whose key is unknown, sweeps legacy's roots created since the
// intent (minus a margin) that the new store lacks. What it finds is kept
// in the intent, so that retries need not look again.
func (w *Writer) resolve(ctx context.Context, g *group, it *intent) error {
	for len(it.Refs) > 0 {
		ref, _ := parseRef(it.Refs[0])
		ids, err := g.c.parents(ctx, ref)
		if err != nil {
			return err
		}
		for _, id := range ids {
			it.IDs = appendUnique(it.IDs, id)
		}
		it.Refs = it.Refs[1:]
	}
	if it.Creates <= 0 {
		return nil
	}
	ids, err := g.c.missingSince(ctx, it.Created.Add(-w.opts.SweepMargin))
	if err != nil {
		return err
	}
	for _, id := range ids {
		it.IDs = appendUnique(it.IDs, id)
	}
	it.Creates = 0
	return nil
}
