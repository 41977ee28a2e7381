// Command soak runs the soak: one strangler process (the shipped
// config, the samples routes in shadow mode and their write group in
// shadow mode, i.e. dual writes) in front of the legacy stand-in, both on a
// private PostgreSQL cluster, loaded open-loop at a fixed rate with a
// pinned mix for a fixed time, while the proxy's RSS, Go heap and
// goroutines are sampled. It then waits for the dual writes to settle,
// checks `strangler reconcile samples --json` for drift, plots the samples
// (PNG) and writes a markdown report.
//
//	make build deps
//	go run ./bench/soak -duration 10m -rate 300 -out bench/soak/results
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nanopore/strangler/internal/pgcluster"
)

type options struct {
	bin, out        string
	rate, rows      int
	duration, every time.Duration
	settle          time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/strangler", "strangler binary (copied before the run)")
	flag.StringVar(&o.out, "out", "bench/soak/results", "folder for the report and plots")
	flag.IntVar(&o.rate, "rate", 300, "requests per second, open loop")
	flag.IntVar(&o.rows, "rows", 100, "samples the table is held at")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to load")
	flag.DurationVar(&o.every, "every", 5*time.Second, "sampling period")
	flag.DurationVar(&o.settle, "settle", 3*time.Minute, "how long to wait for zero drift after the load")
	flag.Parse()
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

// rig is the running system.
type rig struct {
	bin, logDir    string
	env            []string
	pg             *pgcluster.Cluster
	standin, proxy *proc
	public, admin  string
}

func (r *rig) close() {
	for _, p := range []*proc{r.proxy, r.standin} {
		if p != nil {
			p.stop()
		}
	}
	if r.pg != nil {
		r.pg.Remove()
	}
}

func run(o options) error {
	r, err := setUp(o)
	if r != nil {
		defer r.close()
	}
	if err != nil {
		return err
	}
	log.Printf("soak: %d requests/s for %s against %s (logs in %s)", o.rate, o.duration, r.public, r.logDir)
	l := &load{base: r.public, created: make(chan string, 1<<16), tally: &tally{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}}
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	samples := make(chan []sample, 1)
	go func() { samples <- r.sampleEvery(ctx, o.every, l) }()
	start := time.Now()
	l.run(ctx, o.rate)
	elapsed := time.Since(start)
	ss := <-samples
	// Deletes the run still owes: the table goes back to its seeded size.
	close(l.created)
	for id := range l.created {
		_, _ = l.do(http.MethodPost, "/api/trpc/nanopore.delete", `"`+id+`"`)
	}
	drift := r.waitNoDrift(o.settle)
	rep := report{opts: o, elapsed: elapsed, tally: l.tally, samples: ss, drift: drift, metrics: r.scrape()}
	return rep.write(o.out)
}

// setUp starts the cluster, the stand-in and the proxy, puts the samples
// routes in shadow mode and seeds the table.
func setUp(o options) (*rig, error) {
	r := &rig{}
	var err error
	if r.logDir, err = os.MkdirTemp("", "soak-"); err != nil {
		return nil, err
	}
	r.bin = filepath.Join(r.logDir, "sut-proxy") // a copy: a rebuild of bin/ mid-run changes nothing
	if out, err := exec.Command("cp", o.bin, r.bin).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy %s: %v %s", o.bin, err, out)
	}
	if r.pg, err = pgcluster.Start(pgcluster.Options{Prefix: "soak-pg-", MaxConnections: 300,
		Conf: "shared_buffers = 128MB\n"}); err != nil {
		return r, err
	}
	db, err := r.pg.CreateDB("soak")
	if err != nil {
		return r, err
	}
	r.standin, err = start("standin", r.logDir, nil, "scripts/legacy-standin.sh", "--port", "0", "--host", "127.0.0.1", "--database-url", db)
	if err != nil {
		return r, err
	}
	const ready = "legacy stand-in listening on "
	line, err := r.standin.waitLine(3*time.Minute, func(l string) bool { return strings.HasPrefix(l, ready) })
	if err != nil {
		return r, err
	}
	r.env = []string{"STRANGLER_DATABASE_URL=" + db, "STRANGLER_LEGACY_URL=" + strings.TrimPrefix(line, ready),
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0"}
	if code, out := r.cli("migrate"); code != 0 {
		return r, fmt.Errorf("migrate: %s", out)
	}
	if r.proxy, err = start("strangler", r.logDir, r.env, r.bin, "serve", "--config", "config/strangler.yaml"); err != nil {
		return r, err
	}
	if r.public, r.admin, err = servingAddrs(r.proxy); err != nil {
		return r, err
	}
	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := waitReady(rctx, r.admin); err != nil {
		return r, err
	}
	for _, route := range []string{"health", "nanopore.getAll", "nanopore.getProcessingSteps", "samples"} {
		if code, out := r.cli("flip", route, "shadow", "--reason", "soak"); code != 0 {
			return r, fmt.Errorf("flip %s: %s", route, out)
		}
	}
	if err := r.waitApplied(); err != nil {
		return r, err
	}
	return r, r.seed(o.rows)
}

func (r *rig) cli(args ...string) (int, string) {
	return cli(r.bin, r.env, append(args, "--config", "config/strangler.yaml")...)
}

// waitApplied waits until the proxy reports the latest flags version.
func (r *rig) waitApplied() error {
	for range 600 {
		_, out := r.cli("routes", "--json")
		var v struct {
			FlagsVersion int64 `json:"flags_version"`
			Replicas     []struct {
				FlagsVersion int64 `json:"flags_version"`
			} `json:"replicas"`
		}
		if json.Unmarshal([]byte(out), &v) == nil && len(v.Replicas) == 1 && v.Replicas[0].FlagsVersion == v.FlagsVersion {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the proxy never applied the flips")
}

// seed creates the held samples through the proxy (dual-written).
func (r *rig) seed(rows int) error {
	l := &load{base: r.public, client: http.DefaultClient}
	for i := 0; i < rows; i++ {
		if _, err := l.do(http.MethodPost, "/api/trpc/nanopore.create", createBody); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// driftResult is reconcile's verdict after the load.
type driftResult struct {
	first, last string // reconcile's JSON report, first and last try
	firstTotal  int
	total       int
	waited      time.Duration
	err         error
}

// waitNoDrift runs reconcile until it finds no drift or settle passes:
// converges still queued when the load stops are not drift.
func (r *rig) waitNoDrift(settle time.Duration) driftResult {
	var d driftResult
	start := time.Now()
	for try := 0; ; try++ {
		code, out := r.cli("reconcile", "samples", "--json")
		var v struct {
			Report struct {
				Total int `json:"total"`
			} `json:"report"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || code == 2 {
			d.err = fmt.Errorf("reconcile exit %d: %s", code, out)
			return d
		}
		if try == 0 {
			d.first, d.firstTotal = out, v.Report.Total
		}
		d.last, d.total, d.waited = out, v.Report.Total, time.Since(start)
		if code == 0 || time.Since(start) > settle {
			return d
		}
		time.Sleep(2 * time.Second)
	}
}

// scrape reads the proxy's own counters worth reporting.
func (r *rig) scrape() []string {
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		return []string{"metrics: " + err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, p := range []string{"strangler_shadow_comparisons_total", "strangler_shadow_dropped_total",
			"strangler_dualwrite_", "strangler_fallbacks_total", "strangler_guard_trips_total"} {
			if strings.HasPrefix(l, p) && !strings.HasSuffix(l, " 0") && !strings.Contains(l, "_bucket{") {
				out = append(out, l)
			}
		}
	}
	return out
}
