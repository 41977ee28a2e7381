// Command passbench measures strangler's legacy passthrough against nginx,
// Caddy, a bare Go httputil.ReverseProxy and the bare upstream: requests/s,
// p50/p99 latency (wrk --latency), each proxy's own CPU time per request
// (utime+stime from /proc) and its memory, over interleaved rounds, and
// writes a Markdown report with ratios. bench/passthrough.sh builds the
// binaries and runs it; see bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// options are the command-line settings.
type options struct {
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	conns      int
	threads    int
	maxIdle    int
	proxyCores string
	loadCores  string
	binDir     string
	stranglerC string
	resultsDir string
	readme     string
	only       string
	profile    string
	from       string
	scenarios  []scenario
	variants   []target
}

func parseOptions() options {
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (at least 3 for the issue's medians)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per cell")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each cell")
	flag.IntVar(&o.conns, "connections", 64, "wrk connections")
	flag.IntVar(&o.threads, "threads", 1, "wrk threads (they share the load cores with the upstream)")
	flag.IntVar(&o.maxIdle, "max-idle", 512, "upstream keep-alive pool of every proxy")
	flag.StringVar(&o.proxyCores, "proxy-cores", "0", "taskset cores of the proxies under test")
	flag.StringVar(&o.loadCores, "load-cores", "1", "taskset cores of wrk and the upstream")
	flag.StringVar(&o.binDir, "bin", "bin", "folder with the upstream, refproxy and strangler binaries")
	flag.StringVar(&o.stranglerC, "strangler-config", "config/strangler.yaml", "strangler's config file")
	flag.StringVar(&o.resultsDir, "results", "bench/results", "where the report goes (raw/ below it is not committed)")
	flag.StringVar(&o.readme, "readme", "bench/README.md", "README whose results block is replaced (empty: leave it)")
	flag.StringVar(&o.only, "targets", "", "comma-separated subset of upstream,nginx,caddy,refproxy,strangler (variants always run)")
	flag.StringVar(&o.profile, "profile", "", "instead of the rounds, record a perf profile of this target under the 1 KiB GET (-duration long)")
	flag.StringVar(&o.from, "from", "", "instead of measuring, rewrite the report from a run's raw/<date>/cells.json")
	scen := flag.String("scenarios", "1k,64k,echo1k", "comma-separated subset of the request kinds, by path")
	flag.Func("variant", "extra strangler target NAME:KEY=VALUE[,KEY=VALUE] (environment), repeatable", func(spec string) error {
		t, err := variantTarget(spec)
		o.variants = append(o.variants, t)
		return err
	})
	flag.Parse()
	if o.profile != "" && o.only == "" {
		o.only = o.profile
	}
	for _, sc := range allScenarios {
		if strings.Contains(","+*scen+",", ","+strings.TrimPrefix(sc.path, "/")+",") {
			o.scenarios = append(o.scenarios, sc)
		}
	}
	if len(o.scenarios) == 0 {
		fmt.Fprintf(os.Stderr, "passbench: -scenarios %q names none of 1k, 64k, echo1k\n", *scen)
		os.Exit(2)
	}
	return o
}

func main() {
	o := parseOptions()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	do := run
	if o.from != "" {
		do = rereport
	}
	if err := do(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "passbench:", err)
		os.Exit(1)
	}
}

// live is a started target.
type live struct {
	target
	p   *proc
	url string
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	stamp := started.Format("2006-01-02T1504")
	rawDir, err := makeRawDir(o, stamp)
	if err != nil {
		return err
	}
	s, err := newSetup(o, rawDir)
	if err != nil {
		return err
	}
	meta := collectMeta(o, started)
	up, err := startUpstream(ctx, &s)
	if err != nil {
		return err
	}
	defer up.stop()
	lives, err := startTargets(ctx, s, up, o)
	defer func() {
		for _, l := range lives {
			if l.p != up {
				l.p.stop()
			}
		}
	}()
	if err != nil {
		return err
	}
	for _, l := range lives {
		if err := verify(ctx, l.name, l.url); err != nil {
			return err
		}
	}
	if o.profile != "" {
		return profileTarget(ctx, o, lives, rawDir)
	}
	script, err := writePostScript(rawDir)
	if err != nil {
		return err
	}
	cells, err := runRounds(ctx, o, &s, lives, up, script)
	if err != nil {
		return err
	}
	meta.finish(&s, lives)
	if err := saveCells(filepath.Join(rawDir, "cells.json"), meta, cells); err != nil {
		return err
	}
	return writeReports(o, meta, cells)
}

// rereport writes the report and README block again from saved cells.
func rereport(_ context.Context, o options) error {
	m, cells, err := loadCells(o.from)
	if err != nil {
		return err
	}
	return writeReports(o, m, cells)
}

func profileTarget(ctx context.Context, o options, lives []*live, rawDir string) error {
	for _, l := range lives {
		if l.name == o.profile {
			return runProfile(ctx, o, l, rawDir)
		}
	}
	return fmt.Errorf("-profile %s: no such target", o.profile)
}

// makeRawDir makes the uncommitted folder of this run's raw outputs.
func makeRawDir(o options, stamp string) (string, error) {
	name := stamp
	if o.profile != "" {
		name = "profile-" + stamp
	}
	dir, err := filepath.Abs(filepath.Join(o.resultsDir, "raw", name))
	if err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// newSetup copies the binaries and strangler's config into the raw folder
// and runs those copies: the work tree is shared, so bin/ may be rebuilt by
// someone else mid-run, and a broad `pkill strangler` elsewhere should not
// end the run. The copy of strangler is named sut-proxy (system under test).
func newSetup(o options, rawDir string) (setup, error) {
	bin := filepath.Join(rawDir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return setup{}, err
	}
	copies := [][2]string{
		{filepath.Join(o.binDir, "strangler"), filepath.Join(bin, "sut-proxy")},
		{filepath.Join(o.binDir, "upstream"), filepath.Join(bin, "upstream")},
		{filepath.Join(o.binDir, "refproxy"), filepath.Join(bin, "refproxy")},
		{o.stranglerC, filepath.Join(rawDir, "sut-proxy.yaml")},
	}
	for _, c := range copies {
		if err := copyFile(c[0], c[1]); err != nil {
			return setup{}, err
		}
	}
	return setup{binDir: bin, workDir: rawDir, stranglerCf: copies[3][1], proxyCores: o.proxyCores,
		loadCores: o.loadCores, maxIdle: o.maxIdle}, nil
}

// copyFile copies a binary or config and then drops the copy from the page
// cache, so that each target starts as from a file on disk: its pages are
// read on demand. A file just written in one large write sits in the cache
// as large folios, and this kernel (6.18, ext4) maps a whole folio on a
// fault: the same strangler binary then showed 25.3 MB of file-backed RSS
// under load instead of 17.5 MB (refproxy: about 2 MB more), which is the
// cache's layout, not the program.
func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	// Only clean pages leave the cache: write them back first.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("copy %s: drop from the page cache: %w", from, err)
	}
	return f.Close()
}

// startUpstream runs the shared upstream on the load cores.
func startUpstream(ctx context.Context, s *setup) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.upstream = fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startPinned("upstream", s.loadCores, filepath.Join(s.workDir, "upstream.out"), nil,
		filepath.Join(s.binDir, "upstream"), "-listen", s.upstream)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, "http://"+s.upstream+"/1k", 20*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startTargets starts every selected proxy; the bare upstream target
// reuses the upstream process.
func startTargets(ctx context.Context, s setup, up *proc, o options) ([]*live, error) {
	var lives []*live
	var chosen []target
	for _, t := range allTargets {
		if o.only == "" || strings.Contains(","+o.only+",", ","+t.name+",") {
			chosen = append(chosen, t)
		}
	}
	for _, t := range append(chosen, o.variants...) {
		if t.start == nil {
			lives = append(lives, &live{target: t, p: up, url: "http://" + s.upstream})
			continue
		}
		p, addr, err := t.start(ctx, s)
		if err != nil {
			return lives, fmt.Errorf("start %s: %w", t.name, err)
		}
		lives = append(lives, &live{target: t, p: p, url: "http://" + addr})
	}
	return lives, nil
}
