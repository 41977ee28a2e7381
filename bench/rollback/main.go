// Command rollback measures how long a rollback takes to reach every replica:
// three `strangler serve` processes on one PostgreSQL, a route flipped to the
// new side, then `rollback --all` committed (as the CLI does, straight to the
// database); pollers on each replica record the first answer routed to legacy
// after the commit. Repeated for -rounds rollbacks; reports p50/p99/max of
// the slowest replica per rollback.
//
//	go build -o bin/strangler ./cmd/strangler
//	go run ./bench/rollback -rounds 50
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/store"
)

const token = "bench-token"

func main() {
	admin := flag.String("admin-db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "maintenance database")
	bin := flag.String("bin", "bin/strangler", "strangler binary")
	replicas := flag.Int("replicas", 3, "replicas")
	rounds := flag.Int("rounds", 50, "rollbacks to measure")
	out := flag.String("out", "", "write the markdown result here too")
	flag.Parse()
	if err := run(*admin, *bin, *replicas, *rounds, *out); err != nil {
		log.Fatal(err)
	}
}

func run(adminURL, bin string, n, rounds int, out string) error {
	ctx := context.Background()
	db, drop, err := freshDB(ctx, adminURL)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := store.Open(ctx, db, store.Options{ApplicationName: "bench-rollback"})
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	legacy := stubLegacy()
	defer legacy.Close()

	reps := make([]*replica, n)
	for i := range reps {
		if reps[i], err = startReplica(bin, db, "http://"+legacy.Addr().String()); err != nil {
			return err
		}
		defer reps[i].stop()
	}
	st := &flags.Store{Pool: pool}
	meta := flags.Meta{Actor: "bench", Reason: "rollback latency", Source: "cli"}
	pctx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func() { defer wg.Done(); r.poll(pctx) }()
	}
	var slowest []time.Duration
	for round := 0; round < rounds; round++ {
		if _, _, err := st.Apply(ctx, []flags.Change{{Key: "nanopore.getAll", Mode: "new"}}, meta); err != nil {
			return err
		}
		for _, r := range reps {
			if err := r.waitSide("service:samples", 30*time.Second); err != nil {
				return err
			}
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		for _, r := range reps {
			r.arm()
		}
		if _, _, err := st.Apply(ctx, []flags.Change{{Key: "nanopore.getAll", Mode: "legacy"}}, meta); err != nil {
			return err
		}
		committed := time.Now()
		worst := time.Duration(0)
		for _, r := range reps {
			first, err := r.firstLegacyAfter(committed, 30*time.Second)
			if err != nil {
				return err
			}
			worst = max(worst, first.Sub(committed))
		}
		slowest = append(slowest, worst)
	}
	stopPolling()
	wg.Wait()
	return report(slowest, reps, n, out)
}

func report(slowest []time.Duration, reps []*replica, n int, out string) error {
	s := slices.Clone(slowest)
	slices.Sort(s)
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	var polls int64
	for _, r := range reps {
		polls += r.polls.Load()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rollbacks | replicas | p50 | p90 | p99 | max | polls |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %d |\n", len(s), n,
		ms(pct(0.5)), ms(pct(0.9)), ms(pct(0.99)), ms(s[len(s)-1]), polls)
	fmt.Print(b.String())
	if out != "" {
		return os.WriteFile(out, []byte(b.String()), 0o644)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// replica is one strangler process and its poller's observations.
type replica struct {
	cmd    *exec.Cmd
	url    string
	client *http.Client
	polls  atomic.Int64

	mu     sync.Mutex
	side   string
	armed  bool
	legacy []time.Time // completion times of legacy answers since arm
}

func startReplica(bin, db, legacy string) (*replica, error) {
	pub, adm := freePort(), freePort()
	sum := sha256.Sum256([]byte(token))
	cmd := exec.Command(bin, "serve", "--config", "config/strangler.yaml")
	cmd.Env = append(os.Environ(),
		"STRANGLER_LISTEN=127.0.0.1:"+pub, "STRANGLER_ADMIN_LISTEN=127.0.0.1:"+adm,
		"STRANGLER_LEGACY_URL="+legacy, "STRANGLER_DATABASE_URL="+db,
		"STRANGLER_ADMIN_TOKEN_HASHES="+hex.EncodeToString(sum[:]), "STRANGLER_LOG_ACCESS=false")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &replica{cmd: cmd, url: "http://127.0.0.1:" + pub, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://127.0.0.1:" + adm + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return r, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("replica on %s never became ready", r.url)
}

func (r *replica) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	_ = r.cmd.Wait()
}

// poll asks the replica, as fast as it answers, which side serves getAll.
func (r *replica) poll(ctx context.Context) {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/api/trpc/health", nil)
		req.URL.Path = "/api/trpc/nanopore.getAll"
		req.Header.Set("X-Strangler-Token", token)
		resp, err := r.client.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done := time.Now()
		r.polls.Add(1)
		side := resp.Header.Get("X-Strangler-Target")
		r.mu.Lock()
		r.side = side
		if r.armed && side == "legacy" {
			r.legacy = append(r.legacy, done)
		}
		r.mu.Unlock()
	}
}

func (r *replica) arm() {
	r.mu.Lock()
	r.armed, r.legacy = true, r.legacy[:0]
	r.mu.Unlock()
}

func (r *replica) waitSide(side string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		s := r.side
		r.mu.Unlock()
		if s == side {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("replica %s never routed to %s", r.url, side)
}

// firstLegacyAfter returns the first legacy answer completed after t.
func (r *replica) firstLegacyAfter(t time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, at := range r.legacy {
			if at.After(t) {
				r.armed = false
				r.mu.Unlock()
				return at, nil
			}
		}
		r.mu.Unlock()
		time.Sleep(200 * time.Microsecond)
	}
	return time.Time{}, fmt.Errorf("replica %s never routed to legacy after the rollback", r.url)
}

func stubLegacy() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":{"data":[]}}`)
	}))
	return ln
}

func freshDB(ctx context.Context, adminURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("bench_rollback_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u := strings.Replace(adminURL, "/postgres?", "/"+name+"?", 1)
	return u, func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}, nil
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
