//go:build faultinject

package faultinject

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/faultproxy"
	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/testutil"
)

const createInput = `{"sampleName":"Fault Sample","submitterName":"Ann O'Neil","submitterEmail":"ann@lab.org",` +
	`"sampleType":"DNA","concentration":12.5,"volume":20,"flowCellType":"R10.4.1","chartField":"SEQ-001"}`

// errorGuard is the guard's configuration in the error-rate tests: a 10 s
// window (30 s shipped), and an absolute error rate of 10%: the shipped
// 25% would not roll back the 20% (see the suite's README).
var errorGuard = []string{"STRANGLER_GUARD_DEFAULTS_WINDOW=10s", "STRANGLER_GUARD_DEFAULTS_ERROR_RATE=0.1"}

// traffic is one way of calling the samples procedures: single calls, or
// httpBatchLink's batches of one.
type traffic struct {
	read, write   string // paths
	wrap          func(input string) string
	fault         faultproxy.Kind
	readIsSuccess func(body []byte) bool
}

var single = traffic{read: "/api/trpc/nanopore.getAll", write: "/api/trpc/nanopore.create",
	wrap: func(in string) string { return in }, fault: faultproxy.KindError,
	readIsSuccess: func(b []byte) bool { return strings.HasPrefix(string(b), `{"result":{"data":[`) }}

var batched = traffic{read: "/api/trpc/nanopore.getAll?batch=1", write: "/api/trpc/nanopore.create?batch=1",
	wrap: func(in string) string { return `{"0":` + in + `}` }, fault: faultproxy.KindTRPCError,
	readIsSuccess: func(b []byte) bool { return strings.HasPrefix(string(b), `[{"result":{"data":[`) }}

// TestNewSideAnswering500sIsRolledBack: the samples routes in new mode,
// their new side answering HTTP 500 to every fifth request (20%) until the
// guard acts.
func TestNewSideAnswering500sIsRolledBack(t *testing.T) {
	t.Parallel()
	errorsRollBack(t, single)
}

// TestNewSideAnsweringTRPCErrorsInside200BatchesIsRolledBack: the same,
// with the failures as INTERNAL_SERVER_ERROR entries inside 200 answers to
// httpBatchLink's batches: only a reader of the body sees them.
func TestNewSideAnsweringTRPCErrorsInside200BatchesIsRolledBack(t *testing.T) {
	t.Parallel()
	errorsRollBack(t, batched)
}

// errorsRollBack: with 20% of the new side's answers failing, getAll and
// the samples write group are rolled back automatically, each event says
// why (error rate, its value and threshold, the window and the samples)
// and when (after the first injected failure); users saw no error on reads
// (answered by legacy) and on writes only the failures injected while the
// new side served them; after the rollback nothing reaches the new side and
// nothing fails.
func errorsRollBack(t *testing.T, tr traffic) {
	e := newEnv(t, envOptions{proxyEnv: errorGuard})
	e.flip("nanopore.getAll", "new")
	e.flip("samples", "new")
	var before seen
	drive(2, after(10), func(n int) { before.add(e.call(tr, n)) })
	for _, a := range before.answers() {
		if a.failed() {
			t.Fatalf("before any fault a %s failed: %d %s %v", a.what, a.status, a.body, a.err)
		}
	}
	if evs := e.newSide.events(t); len(evs) < 10 {
		t.Fatalf("the new side saw %d of 10 requests: the routes are not on it", len(evs))
	}

	e.newSide.set(t, faultproxy.Fault{Kind: tr.fault, Rate: 0.2, Match: "/api/trpc/nanopore."})
	var during seen
	var rolledBack atomic.Bool
	stopWatch := watch(func() bool {
		return len(e.guardEvents("nanopore.getAll")) > 0 && len(e.guardEvents("nanopore.create")) > 0
	}, &rolledBack)
	drive(4, until(&rolledBack, 5000), func(n int) { during.add(e.call(tr, n)) })
	stopWatch()
	if !rolledBack.Load() {
		t.Fatalf("5000 requests at 20%% failures and no automatic rollback")
	}
	e.waitLegacy("nanopore.getAll", "nanopore.create")
	var afterRB seen
	drive(2, after(40), func(n int) { afterRB.add(e.call(tr, n)) })

	faulted := e.checkEvents(t, tr)
	checkUsers(t, during.answers(), afterRB.answers(), faulted, e.newSide.events(t), e.trace)
	e.checkReadsFellBack(t, during.answers(), faulted)
}

// trace gathers what the proxy logged and the new side's fault proxy
// recorded about one request id.
func (e *env) trace(id string) string {
	var b strings.Builder
	for line := range strings.Lines(e.proxy.Output()) {
		if strings.Contains(line, id) {
			b.WriteString("  proxy: " + line)
		}
	}
	for _, ev := range e.newSide.events(e.t) {
		if ev.RequestID == id {
			fmt.Fprintf(&b, "  new side: %+v\n", ev)
		}
	}
	return b.String()
}

// call sends request n: reads and writes alternate.
func (e *env) call(tr traffic, n int) answer {
	if n%2 == 0 {
		a := e.do("read", "GET", tr.read, "")
		if a.err == nil && a.status == 200 && !tr.readIsSuccess(a.body) {
			a.status = 599 // not an answer of getAll: count it as an error
		}
		return a
	}
	return e.do("write", "POST", tr.write, tr.wrap(createInput))
}

// watch polls cond every 200 ms in the background and sets done when it
// holds; the returned function stops it.
func watch(cond func() bool, done *atomic.Bool) func() {
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for ctx.Err() == nil && !done.Load() {
			if cond() {
				done.Store(true)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-finished }
}

// waitLegacy waits until the routes are in legacy mode and the proxy
// applied the latest flags.
func (e *env) waitLegacy(routes ...string) {
	e.t.Helper()
	for _, r := range routes {
		if m := e.mode(r); m != "legacy" {
			e.t.Fatalf("after its automatic rollback %s is in mode %s", r, m)
		}
	}
	code, out := e.cli("routes", "--json")
	var v struct {
		FlagsVersion int64 `json:"flags_version"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		e.t.Fatalf("routes: %s", out)
	}
	e.waitApplied(v.FlagsVersion)
}

// checkEvents checks both rollbacks' events and returns the request ids
// the fault proxy failed.
func (e *env) checkEvents(t *testing.T, tr traffic) map[string]faultproxy.Event {
	faulted := map[string]faultproxy.Event{}
	var first time.Time
	for _, ev := range e.newSide.events(t) {
		if ev.Fault != "" {
			faulted[ev.RequestID] = ev
			if first.IsZero() {
				first = ev.Start
			}
		}
	}
	for _, route := range []string{"nanopore.getAll", "nanopore.create"} {
		evs := e.guardEvents(route)
		if len(evs) != 1 {
			t.Fatalf("%s: %d events, want 1: %+v", route, len(evs), evs)
		}
		ev := evs[0]
		t.Logf("%s rolled back: %s %.3f >= %.3f over %gs, %d samples: %s (at %s, first failure injected at %s)",
			route, ev.Signal, ev.Value, ev.Threshold, ev.WindowSecs, ev.Samples, ev.Detail, ev.At.Format(time.RFC3339Nano),
			first.Format(time.RFC3339Nano))
		switch {
		case ev.Signal != guard.SignalErrorRate:
			t.Errorf("%s rolled back on %s, want %s", route, ev.Signal, guard.SignalErrorRate)
		case ev.Value < ev.Threshold || ev.Threshold < 0.1 || ev.Value > 0.5:
			t.Errorf("%s: error rate %.3f against threshold %.3f; 20%% were injected", route, ev.Value, ev.Threshold)
		case ev.WindowSecs <= 0 || ev.WindowSecs > 10 || ev.Samples < 10:
			t.Errorf("%s: window %gs, %d samples (window 10 s, minimum 10)", route, ev.WindowSecs, ev.Samples)
		case !strings.Contains(ev.Detail, "failures in"):
			t.Errorf("%s: the event does not say what failed: %q", route, ev.Detail)
		case !ev.At.After(first):
			t.Errorf("%s: rolled back at %s, before the first injected failure at %s", route, ev.At, first)
		}
		if route == "nanopore.create" && (ev.TripKey != "samples" || !slices.Contains(ev.RolledBack, "nanopore.delete")) {
			t.Errorf("a write's rollback took %v (trip key %s), want the whole samples write group", ev.RolledBack, ev.TripKey)
		}
	}
	return faulted
}

// checkUsers: no read failed; every failed write is one the fault proxy
// failed, or (at most 1% of the writes) one whose 200 answer was aborted
// at its end inside the failure window, which the issue allows and which
// is not yet explained (the proxy's connection to the fault proxy is
// closed under the last read of an answer, "use of closed network
// connection", seen twice in some 5,000 writes, as faults started); after
// the rollback nothing failed and nothing reached the new side.
func checkUsers(t *testing.T, during, afterRB []answer, faulted map[string]faultproxy.Event, newSide []faultproxy.Event,
	trace func(id string) string) {
	var reads, writes, writeErrs, aborted int
	for _, a := range during {
		if a.what == "read" {
			reads++
			if a.failed() {
				t.Errorf("a user's read failed while the new side failed: %d %.300s %v", a.status, a.body, a.err)
			}
			continue
		}
		writes++
		if a.failed() {
			writeErrs++
			_, ok := faulted[a.id]
			switch {
			case ok:
			case a.status == 200 && a.err != nil:
				aborted++
				t.Logf("a write's 200 answer was aborted at its end (%s): %.100s... %v\n%s", a.id, a.body, a.err, trace(a.id))
			default:
				t.Errorf("a write failed that the new side did not fail (%s): %d %.300s %v", a.id, a.status, a.body, a.err)
			}
		}
	}
	if aborted*100 > writes {
		t.Errorf("%d of %d writes had their answer aborted", aborted, writes)
	}
	t.Logf("while failing: %d reads, %d writes, %d writes failed (%d requests failed by the fault proxy)", reads, writes, writeErrs, len(faulted))
	reached := map[string]bool{}
	for _, ev := range newSide {
		reached[ev.RequestID] = true
	}
	for _, a := range afterRB {
		if a.failed() {
			t.Errorf("after the rollback a %s failed: %d %.300s %v", a.what, a.status, a.body, a.err)
		}
		if reached[a.id] {
			t.Errorf("after the rollback a %s (%s) reached the new side", a.what, a.id)
		}
	}
}

// checkReadsFellBack: every read the new side failed was answered by
// legacy (the proxy's access log names the side that answered).
func (e *env) checkReadsFellBack(t *testing.T, during []answer, faulted map[string]faultproxy.Event) {
	var ids []string
	for _, a := range during {
		if _, ok := faulted[a.id]; ok && a.what == "read" {
			ids = append(ids, a.id)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("no read was failed by the fault proxy")
	}
	var log map[string]accessLine
	testutil.Eventually(t, waitLong, "the access log of the failed reads", func() bool {
		log = e.accessLog()
		for _, id := range ids {
			if _, ok := log[id]; !ok {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if l := log[id]; l.Target != "legacy" || l.Status != 200 {
			t.Errorf("read %s failed by the new side was answered by %s with %d", id, l.Target, l.Status)
		}
	}
}
