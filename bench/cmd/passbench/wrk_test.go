package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wrkSample = `Running 10s test @ http://127.0.0.1:40001/1k
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.10ms    6.51ms 103.43ms   93.05%
    Req/Sec    16.05k     3.20k   21.56k    70.00%
  Latency Distribution
     50%    3.03ms
     75%    3.91ms
     90%    6.02ms
     99%   26.34ms
  159812 requests in 10.10s, 175.12MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 3
Requests/sec:  15775.31
Transfer/sec:     17.29MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 159812, Seconds: 10.1, RPS: 15775.31,
		P50: 3030 * time.Microsecond, P99: 26340 * time.Microsecond, Non2xx: 3, SockErrors: 7}
	if r != want {
		t.Fatalf("parseWrk = %+v, want %+v", r, want)
	}
}

func TestParseWrkRefusesTruncatedOutput(t *testing.T) {
	if _, err := parseWrk(strings.Split(wrkSample, "  Latency Distribution")[0]); err == nil {
		t.Fatal("parseWrk accepted output without the latency distribution")
	}
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"812.00us": 812 * time.Microsecond,
		"1.50ms":   1500 * time.Microsecond,
		"2.00s":    2 * time.Second,
		"1.00m":    time.Minute,
	} {
		got, err := parseWrkDuration(in)
		if err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWrkDuration("3.0xs"); err == nil {
		t.Error("parseWrkDuration accepted a bad number")
	}
}

func TestReadStatOwnProcess(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != os.Getppid() {
		t.Fatalf("ppid = %d, want %d", st.ppid, os.Getppid())
	}
	rss, hwm, err := readStatus(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("readStatus = %d, %d, %v; want 0 < rss <= hwm", rss, hwm, err)
	}
}

func TestGoalsAndReadmeBlock(t *testing.T) {
	mk := func(target string, rps float64, p99 time.Duration, cpu float64, rss int64) cell {
		return cell{Round: 1, Scenario: "GET 1 KiB", Target: target, CPU: cpu, RSSMax: rss,
			Wrk: wrkResult{Requests: 100000, RPS: rps, P50: p99 / 4, P99: p99}}
	}
	cells := []cell{
		mk("nginx", 30000, 10*time.Millisecond, 1.5, 10<<20),
		mk("caddy", 8000, 40*time.Millisecond, 7, 40<<20),
		mk("refproxy", 16000, 20*time.Millisecond, 4, 20<<20),
		mk("strangler", 15000, 24*time.Millisecond, 4.8, 30<<20),
	}
	held := map[string]bool{}
	for _, g := range goals(cells) {
		if !g.ok {
			t.Fatalf("goal %q not measured", g.name)
		}
		held[g.name] = g.held
	}
	if !held["CPU per request ≤ 1.25x the Go reference's"] || held["stretch: CPU per request ≤ 3x nginx's"] {
		t.Fatalf("CPU goals judged wrongly: %v", held)
	}

	m := &meta{Rounds: 1, Scenarios: []string{"GET 1 KiB"}, Targets: []string{"nginx", "caddy", "refproxy", "strangler"}}
	saved := filepath.Join(t.TempDir(), "cells.json")
	if err := saveCells(saved, m, cells); err != nil {
		t.Fatal(err)
	}
	m2, cells2, err := loadCells(saved)
	if err != nil {
		t.Fatal(err)
	}
	block := summaryBlock(m2, cells2)
	for _, want := range []string{"| strangler | 15000 |", "48.0 vs 40.0 µs = 1.200x | yes", "median of the per-round ratios: 1.200x"} {
		if !strings.Contains(block, want) {
			t.Errorf("summary lacks %q:\n%s", want, block)
		}
	}

	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte("# bench\n\nintro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"first\n", "second\n"} {
		if err := replaceBlock(path, text); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	want := "# bench\n\nintro\n\n" + readmeBegin + "\nsecond\n" + readmeEnd + "\n"
	if string(b) != want {
		t.Fatalf("README = %q, want %q", b, want)
	}
}
