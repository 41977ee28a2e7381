// Command ratelimit checks that a configured per-client rate holds: one
// strangler process with limits.per_client at -rate requests/s in front of a
// stub legacy; a greedy client sends -greedy requests/s (open loop) for
// -duration, a polite client -polite requests/s; clients are told apart by
// X-Forwarded-For from a trusted proxy (loopback). It reports how many
// greedy requests were let through against the configured rate, whether
// every 429 carried Retry-After, and whether the polite client saw any 429.
//
//	go build -o bin/strangler ./cmd/strangler
//	go run ./bench/ratelimit -rate 50 -duration 30s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type tally struct {
	ok, limited, noRetryAfter, other atomic.Int64
}

func main() {
	bin := flag.String("bin", "bin/strangler", "strangler binary")
	rate := flag.Int("rate", 50, "configured requests per second per client")
	burst := flag.Int("burst", 10, "configured burst")
	greedy := flag.Int("greedy", 200, "greedy client's requests per second")
	polite := flag.Int("polite", 20, "polite client's requests per second")
	dur := flag.Duration("duration", 30*time.Second, "how long")
	out := flag.String("out", "", "also write the markdown table here")
	flag.Parse()

	legacy := stub()
	pub, adm := freePort(), freePort()
	cmd := exec.Command(*bin, "serve", "--config", "config/strangler.yaml")
	cmd.Env = append(os.Environ(), "STRANGLER_LISTEN=127.0.0.1:"+pub, "STRANGLER_ADMIN_LISTEN=127.0.0.1:"+adm,
		"STRANGLER_LEGACY_URL=http://"+legacy, "STRANGLER_DATABASE_URL=", "STRANGLER_LOG_ACCESS=false",
		"STRANGLER_FLAGS_FILE="+os.TempDir()+"/ratelimit-flags.yaml", "STRANGLER_TRUSTED_PROXIES=127.0.0.1/32",
		fmt.Sprintf("STRANGLER_LIMITS_PER_CLIENT_REQUESTS=%d", *rate), "STRANGLER_LIMITS_PER_CLIENT_PER=1s",
		fmt.Sprintf("STRANGLER_LIMITS_PER_CLIENT_BURST=%d", *burst))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	waitReady("http://127.0.0.1:" + adm + "/readyz")

	base := "http://127.0.0.1:" + pub + "/api/trpc/health"
	var g, p tally
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); openLoop(ctx, base, "203.0.113.1", *greedy, &g) }()
	go func() { defer wg.Done(); openLoop(ctx, base, "203.0.113.2", *polite, &p) }()
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	expected := float64(*rate)*elapsed + float64(*burst)
	got := float64(g.ok.Load())
	table := fmt.Sprintf("| configured | greedy sent | let through | expected | deviation | 429s | 429 without Retry-After | polite sent | polite refused |\n"+
		"|---|---|---|---|---|---|---|---|---|\n"+
		"| %d/s burst %d | %d/s | %.0f | %.0f | %+.1f%% | %d | %d | %d | %d |\n",
		*rate, *burst, *greedy, got, expected, (got-expected)*100/expected, g.limited.Load(), g.noRetryAfter.Load(),
		p.ok.Load()+p.limited.Load()+p.other.Load(), p.limited.Load()+p.other.Load())
	fmt.Print(table)
	if *out != "" {
		_ = os.WriteFile(*out, []byte(table), 0o644)
	}
}

// openLoop sends rps requests per second on a fixed schedule, whatever the
// answers' latency, as client addr.
func openLoop(ctx context.Context, url, addr string, rps int, t *tally) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	var wg sync.WaitGroup
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("X-Forwarded-For", addr)
			resp, err := client.Do(req)
			if err != nil {
				t.other.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				t.ok.Add(1)
			case http.StatusTooManyRequests:
				t.limited.Add(1)
				if resp.Header.Get("Retry-After") == "" {
					t.noRetryAfter.Add(1)
				}
			default:
				t.other.Add(1)
			}
		}()
	}
}

func stub() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":{"data":{"status":"ok"}}}`)
	}))
	return ln.Addr().String()
}

func waitReady(url string) {
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("%s never became ready", url)
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	return port
}
