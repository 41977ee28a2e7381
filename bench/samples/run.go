package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// cell is one scenario against one target in one round.
type cell struct {
	round              int
	scenario, target   string
	res                *loadResult
	cpuPerReq          time.Duration // the server's own CPU time per answered request
	dbCPUPerReq        time.Duration // its PostgreSQL backends' CPU time per answered request
	maxRSS, hwm        int64         // sampled VmRSS peak during the run; VmHWM after it
	anonAtPeak         int64         // RssAnon of the peak sample
	load1Start, load1E float64       // 1-minute load average before and after
}

// measure runs the rounds: every scenario against both targets, the
// target order alternating, so that a busy phase of the shared machine
// hits both alike.
func measure(ctx context.Context, o options, b *bench) ([]cell, error) {
	var cells []cell
	for round := 1; round <= o.rounds; round++ {
		for i, sc := range selected(o) {
			// Rotate the order, so that no target always runs first.
			order := slices.Clone(b.targets)
			k := (round + i) % len(order)
			order = append(order[k:], order[:k]...)
			for _, t := range order {
				if err := reset(ctx, t, b.ids); err != nil {
					return nil, err
				}
				c := runCell(ctx, o, b, t, sc)
				c.round = round
				fmt.Fprintf(os.Stderr, "round %d %-16s %-20s %8.1f req/s p50 %7s p99 %7s rss %5.1f MB cpu/req %s db %s load %.1f failed %d\n",
					round, sc.name, t.name, c.res.rps(), ms(c.res.pct(0.5)), ms(c.res.pct(0.99)), mb(c.maxRSS),
					c.cpuPerReq, c.dbCPUPerReq, c.load1Start, c.res.failed)
				cells = append(cells, c)
				// A rollback by the guard or an open breaker would send the
				// proxy's requests elsewhere: the results would be void.
				if err := checkTarget(ctx, t, b.ids); err != nil {
					return nil, fmt.Errorf("after round %d %s: %w (log: %s)", round, sc.name, err, t.proc.logPath)
				}
			}
		}
	}
	return cells, nil
}

// runCell warms up, then measures one scenario against one target while
// sampling the server's memory.
func runCell(ctx context.Context, o options, b *bench, t *target, sc scenario) cell {
	c := newClient(o.conns)
	load := func(d time.Duration) *loadResult {
		if sc.open > 0 {
			return openLoop(ctx, c, t, sc, b.ids, sc.open, d)
		}
		return closedLoop(ctx, c, t, sc, b.ids, o.conns, d)
	}
	load(o.warmup)
	out := cell{scenario: sc.name, target: t.name, load1Start: loadAvg()}
	stop := make(chan struct{})
	peak := make(chan mem)
	go func() { peak <- sampleRSS(t.proc.pid(), stop) }()
	cpu0, db0 := cpuTime(t.proc.pid()), backendCPU(ctx, t)
	out.res = load(o.duration)
	cpu1, db1 := cpuTime(t.proc.pid()), backendCPU(ctx, t)
	close(stop)
	top := <-peak
	out.maxRSS, out.anonAtPeak = top.rss, top.anon
	out.hwm = memory(t.proc.pid()).hwm
	out.load1E = loadAvg()
	if out.res.ok > 0 {
		out.cpuPerReq = (cpu1 - cpu0) / time.Duration(out.res.ok)
		var db time.Duration
		for pid, c := range db1 {
			db += c - db0[pid] // a backend opened during the run counts whole
		}
		out.dbCPUPerReq = db / time.Duration(out.res.ok)
	}
	c.CloseIdleConnections()
	return out
}

// backendCPU reads the CPU time of each PostgreSQL backend serving t (the
// driver's own sessions left out).
func backendCPU(ctx context.Context, t *target) map[int]time.Duration {
	out := map[int]time.Duration{}
	rows, err := t.pool.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> $1`, driverApp)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			out[pid] = cpuTime(pid)
		}
	}
	return out
}

// sampleRSS samples the memory every 100 ms until stop and returns the
// sample with the highest VmRSS.
func sampleRSS(pid int, stop chan struct{}) mem {
	var top mem
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := memory(pid); m.rss > top.rss {
			top = m
		}
		select {
		case <-stop:
			return top
		case <-tick.C:
		}
	}
}

// mem is one reading of a process's memory, in bytes: VmRSS, the part of
// it that is anonymous (heap, stacks; the rest are pages of the binary and
// other mapped files), and VmHWM.
type mem struct{ rss, anon, hwm int64 }

// memory reads pid's memory from /proc/PID/status (zero if unreadable).
func memory(pid int) mem {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return mem{}
	}
	st, err := p.NewStatus()
	if err != nil {
		return mem{}
	}
	return mem{rss: int64(st.VmRSS), anon: int64(st.RssAnon), hwm: int64(st.VmHWM)}
}

// cpuTime is a process's user and system time (utime+stime, from
// /proc/PID/stat; zero if unreadable).
func cpuTime(pid int) time.Duration {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return time.Duration(st.CPUTime() * float64(time.Second))
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mb(b int64) float64        { return float64(b) / (1 << 20) }
