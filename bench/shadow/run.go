package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// runOptions are the driver's flags.
type runOptions struct {
	rounds                  int
	duration, warmup, calib time.Duration
	conns                   int
	proxyCores, otherCores  string
	out                     string
	// with20msOpen adds the 20 ms new side to the open-loop rounds (its
	// extra upstream work shares the load generator's core).
	with20msOpen bool
	rate         float64
}

// scenario is one proxy under load: legacy-only, or shadow mode with a new
// side that stalls, refuses, or answers in 20 ms.
type scenario struct {
	name  string
	proxy *child
	url   string
	stats string
}

func runMain(args []string) error {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per cell")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up per cell")
	fs.DurationVar(&o.calib, "calibrate", 5*time.Second, "closed-loop run that measures capacity")
	fs.IntVar(&o.conns, "conns", 64, "connections of the closed-loop runs")
	fs.StringVar(&o.proxyCores, "proxy-cores", "0", "cores of the proxies (taskset -c)")
	fs.StringVar(&o.otherCores, "other-cores", "1", "cores of the upstreams and the load generator")
	fs.StringVar(&o.out, "out", "bench/shadow/results", "where the report goes")
	fs.BoolVar(&o.with20msOpen, "open-20ms", false, "also run the 20 ms new side in the open-loop rounds")
	fs.Float64Var(&o.rate, "rate", 0, "open-loop rate (0: half the measured legacy-only capacity)")
	_ = fs.Parse(args)
	if os.Getenv("SHADOWBENCH_PINNED") == "" {
		return repin(o.otherCores)
	}
	ctx := context.Background()
	env, err := startAll(ctx, o)
	defer env.stop()
	if err != nil {
		return err
	}
	return measure(ctx, o, env)
}

// repin runs the driver again under taskset, so that the load generator
// stays off the proxies' cores.
func repin(cores string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", append([]string{"-c", cores, self}, os.Args[1:]...)...)
	cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdout, os.Stderr, append(os.Environ(), "SHADOWBENCH_PINNED=1")
	return cmd.Run()
}

// env is every process of a run.
type env struct {
	children  []*child
	scenarios []*scenario
}

func (e *env) stop() {
	for _, c := range e.children {
		c.stop()
	}
}

func startAll(ctx context.Context, o runOptions) (*env, error) {
	e := &env{}
	up := func(name, delay string) (string, error) {
		addr := freeAddr()
		c, err := startChild(name, o.otherCores, "upstream", "-listen", addr, "-delay", delay)
		if err != nil {
			return "", err
		}
		e.children = append(e.children, c)
		return "http://" + addr, waitHTTP(ctx, "http://"+addr+"/health")
	}
	legacy, err := up("legacy", "0s")
	if err != nil {
		return e, err
	}
	fast, err := up("new-20ms", "20ms")
	if err != nil {
		return e, err
	}
	slow, err := up("new-stall-10s", "10s")
	if err != nil {
		return e, err
	}
	refused := "http://" + freeAddr() // nothing listens there
	for _, s := range []struct{ name, mode, next string }{
		{"legacy-only", "legacy", fast}, {"shadow, new stalls 10 s", "shadow", slow},
		{"shadow, new refuses", "shadow", refused}, {"shadow, new answers in 20 ms", "shadow", fast},
		// A/A control: a second legacy-only proxy shows how far two equal
		// cells drift apart on this machine.
		{"legacy-only (A/A control)", "legacy", fast},
	} {
		addr, stats := freeAddr(), freeAddr()
		c, err := startChild("proxy "+s.name, o.proxyCores, "proxy", "-listen", addr, "-stats", stats,
			"-legacy", legacy, "-new", s.next, "-mode", s.mode)
		if err != nil {
			return e, err
		}
		e.children = append(e.children, c)
		sc := &scenario{name: s.name, proxy: c, url: "http://" + addr + "/api/trpc/nanopore.getAll", stats: "http://" + stats + "/stats"}
		if err := waitHTTP(ctx, sc.stats); err != nil {
			return e, err
		}
		e.scenarios = append(e.scenarios, sc)
	}
	return e, nil
}

// cell is one measured run of one scenario.
type cell struct {
	Round, Scenario    string
	Rate, RPS          float64
	P50, P99, P999     time.Duration
	Failed             int64
	MaxGoroutines      int
	MaxHeap, MaxRSS    int64
	Compared, Requests float64
	Skipped            map[string]float64
	Errors             float64
	// MaxQueue and MaxInflight are the shadower's own bounds at work: the
	// comparisons waiting, and the bytes held by queued and running ones.
	MaxQueue, MaxInflight float64
	// CPUPerReq is the proxy process's user+system time over the run,
	// divided by the requests answered: far steadier than latency on a
	// shared machine.
	CPUPerReq time.Duration
	// Load is the machine's 1-minute load average after the cell: other
	// work on a shared machine shows here.
	Load string
}

func (c cell) coverage() float64 {
	if c.Requests == 0 {
		return 0
	}
	return c.Compared / c.Requests
}

func measure(ctx context.Context, o runOptions, e *env) error {
	client := newClient()
	base := e.scenarios[0]
	closedLoop(ctx, client, base.url, o.conns, o.warmup)
	var runs []*result
	for i := 0; i < 3; i++ {
		runs = append(runs, closedLoop(ctx, client, base.url, o.conns, o.calib))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].rps() < runs[j].rps() })
	capRes := runs[1] // the median of three: one disturbed run does not set the rate
	rate := capRes.rps() / 2
	if o.rate > 0 {
		rate = o.rate
	}
	fmt.Printf("legacy-only capacity %.0f req/s (closed loop, %d connections): open-loop rate %.0f req/s\n", capRes.rps(), o.conns, rate)
	open := []*scenario{e.scenarios[0], e.scenarios[4], e.scenarios[1], e.scenarios[2]}
	if o.with20msOpen {
		open = append(open, e.scenarios[3])
	}
	var cells []cell
	for r := 1; r <= o.rounds; r++ {
		for _, sc := range rotate(open, r-1) {
			quiesce(ctx, client, e.scenarios)
			openLoop(ctx, client, sc.url, rate, o.warmup)
			c := runCell(ctx, client, sc, func() *result { return openLoop(ctx, client, sc.url, rate, o.duration) })
			c.Round, c.Rate = fmt.Sprint(r), rate
			fmt.Println(describe(c))
			cells = append(cells, c)
		}
	}
	// Sustained load: closed loop, legacy-only and shadow with the 20 ms
	// new side interleaved, so that the cost of comparing shows beside the
	// coverage.
	var sustained []cell
	for r := 1; r <= o.rounds; r++ {
		for _, sc := range rotate([]*scenario{e.scenarios[0], e.scenarios[3]}, r-1) {
			quiesce(ctx, client, e.scenarios)
			closedLoop(ctx, client, sc.url, o.conns, o.warmup)
			c := runCell(ctx, client, sc, func() *result { return closedLoop(ctx, client, sc.url, o.conns, o.duration) })
			c.Round = fmt.Sprint(r)
			fmt.Println("sustained:", describe(c))
			sustained = append(sustained, c)
		}
	}
	return writeReport(o, capRes, rate, cells, sustained)
}

// quiesce waits (at most 15 s) until no proxy runs a comparison any more
// and their goroutines settled, so that one cell's backlog does not load
// the next.
func quiesce(ctx context.Context, client *http.Client, scs []*scenario) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		busy := false
		for _, sc := range scs {
			busy = busy || !idle(sc)
		}
		if !busy {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
}

// idle: no comparison queued or running (a stalled new side keeps its
// workers busy up to the shadow timeout; quiesce waits that out).
func idle(sc *scenario) bool {
	st := readStats(sc.stats)
	return st.Queue == 0 && st.Inflight == 0
}

func rotate(s []*scenario, k int) []*scenario {
	k %= len(s)
	return append(append([]*scenario{}, s[k:]...), s[:k]...)
}

// runCell runs load while sampling the proxy's goroutines and memory every
// 250 ms, and reads its comparison counters before and after (after the
// queue had a moment to drain).
func runCell(ctx context.Context, client *http.Client, sc *scenario, load func() *result) cell {
	// The warm-up's comparisons finish first, so that they are not counted.
	for deadline := time.Now().Add(2 * time.Second); !idle(sc) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	before := readStats(sc.stats)
	cpu0 := cpuTime(sc.proxy.cmd.Process.Pid)
	c := cell{Scenario: sc.name}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			st := readStats(sc.stats)
			c.MaxGoroutines = max(c.MaxGoroutines, st.Goroutines)
			c.MaxHeap, c.MaxRSS = max(c.MaxHeap, int64(st.HeapInuse)), max(c.MaxRSS, st.RSS)
			c.MaxQueue, c.MaxInflight = max(c.MaxQueue, st.Queue), max(c.MaxInflight, st.Inflight)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	res := load()
	cpu := cpuTime(sc.proxy.cmd.Process.Pid) - cpu0
	close(stop)
	<-sampled
	time.Sleep(300 * time.Millisecond) // comparisons of the last requests (20 ms each) finish
	after := readStats(sc.stats)
	for _, o := range []string{"match", "mismatch", "accepted", "noise"} {
		c.Compared += after.Outcomes[o] - before.Outcomes[o]
	}
	c.Errors = after.Outcomes["error"] - before.Outcomes["error"]
	c.Skipped = map[string]float64{}
	for k, v := range after.Skipped {
		if d := v - before.Skipped[k]; d > 0 {
			c.Skipped[k] = d
		}
	}
	c.Requests, c.RPS, c.Failed = float64(res.OK), res.rps(), res.Failed
	if res.OK > 0 {
		c.CPUPerReq = cpu / time.Duration(res.OK)
	}
	c.Load = loadAvg()
	c.P50, c.P99, c.P999 = res.pct(0.5), res.pct(0.99), res.pct(0.999)
	return c
}

func describe(c cell) string {
	return fmt.Sprintf("round %s %-30s load %s %7.0f req/s cpu/req %v p50 %-9v p99 %-9v p99.9 %-9v failed %d goroutines<=%d heap<=%.1fMiB rss<=%.1fMiB compared %.1f%% skipped %v errors %.0f",
		c.Round, c.Scenario, c.Load, c.RPS, c.CPUPerReq, c.P50.Round(time.Microsecond), c.P99.Round(time.Microsecond), c.P999.Round(time.Microsecond),
		c.Failed, c.MaxGoroutines, float64(c.MaxHeap)/(1<<20), float64(c.MaxRSS)/(1<<20), 100*c.coverage(), c.Skipped, c.Errors)
}

func readStats(url string) stats {
	var st stats
	resp, err := http.Get(url)
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// child is a part of the benchmark run by this same binary.
type child struct {
	name string
	cmd  *exec.Cmd
}

func startChild(name, cores string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("taskset", append([]string{"-c", cores, self}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &child{name: name, cmd: cmd}, nil
}

func (c *child) stop() {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	_ = c.cmd.Wait()
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within 30 s", url)
}

func skips(m map[string]float64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func fmtFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%.2f", f)
	}
	return strings.Join(parts, " ")
}

// cpuTime is a process's user+system time from /proc/PID/stat (clock
// ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}
