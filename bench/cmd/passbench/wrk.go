package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// scenario is one kind of request.
type scenario struct {
	name   string // table label
	path   string
	script string // wrk Lua script, empty for a plain GET
}

// postScript makes wrk send a 1 KiB JSON POST body.
const postScript = `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data":"' .. string.rep("x", 1024 - 11) .. '"}'
`

var allScenarios = []scenario{
	{name: "GET 1 KiB", path: "/1k"},
	{name: "GET 64 KiB", path: "/64k"},
	{name: "POST 1 KiB", path: "/echo1k", script: "post.lua"},
}

// wrkResult is what one wrk run reported.
type wrkResult struct {
	Requests   int64
	Seconds    float64
	RPS        float64
	P50, P99   time.Duration
	Non2xx     int64
	SockErrors int64
}

// wrkRun describes one wrk invocation.
type wrkRun struct {
	cores    string
	threads  int
	conns    int
	duration time.Duration
	url      string
	script   string // path to a Lua script or empty
}

// run executes wrk pinned to its cores and parses what it prints. The raw
// output is also written to rawPath when that is not empty.
func (w wrkRun) run(ctx context.Context, rawPath string) (wrkResult, error) {
	args := []string{"-c", w.cores, "wrk", "--latency",
		"-t", strconv.Itoa(w.threads), "-c", strconv.Itoa(w.conns),
		"-d", fmt.Sprintf("%ds", int(w.duration.Seconds())), "--timeout", "5s"}
	if w.script != "" {
		args = append(args, "-s", w.script)
	}
	args = append(args, w.url)
	out, err := exec.CommandContext(ctx, "taskset", args...).CombinedOutput()
	if rawPath != "" {
		_ = os.WriteFile(rawPath, out, 0o644)
	}
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", w.url, err, out)
	}
	return parseWrk(string(out))
}

// writePostScript puts the POST script beside the raw outputs.
func writePostScript(dir string) (string, error) {
	p := filepath.Join(dir, "post.lua")
	return p, os.WriteFile(p, []byte(postScript), 0o644)
}

// parseWrk reads wrk 4's report: the --latency distribution, the request
// count, requests/s, non-2xx answers and socket errors.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var have50, have99, haveCount bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.P50, have50 = d, true
			} else {
				r.P99, have99 = d, true
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk request count %q: %w", f[0], err)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return r, err
			}
			r.Requests, r.Seconds, haveCount = n, d.Seconds(), true
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 5 && f[0] == "Non-2xx":
			r.Non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			r.SockErrors = sumSocketErrors(f[2:])
		}
	}
	if !have50 || !have99 || !haveCount {
		return r, fmt.Errorf("wrk output lacks latency distribution or request count:\n%s", out)
	}
	return r, nil
}

// sumSocketErrors adds "connect 0, read 1, write 0, timeout 2".
func sumSocketErrors(f []string) int64 {
	var n int64
	for i := 1; i < len(f); i += 2 {
		v, _ := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
		n += v
	}
	return n
}

// parseWrkDuration reads wrk's units: us, ms, s, m, h.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk duration %q: %w", s, err)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("wrk duration %q: unknown unit", s)
}
