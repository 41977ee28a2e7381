package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/store"
)

// token is the admin token the driver checks the proxy's routing with.
const token = "samples-bench-token"

// driverApp is the application_name of the driver's own database sessions,
// so that they are not counted as the servers' backends.
const driverApp = "samplesbench"

// target is one server under test.
type target struct {
	name   string
	goSide bool // the Go service through the proxy (else the stand-in)
	base   string
	proc   *server
	pool   *pgxpool.Pool // the database holding its samples
	table  string        // schema-qualified samples table
	// header is added to every request (the proxy's admin token, so that
	// the driver can check which side answered).
	header http.Header
}

// bench is everything a run holds.
type bench struct {
	targets []*target // the Go service through the proxy first, then the stand-in
	ids     []string  // the seeded samples' ids, equal on both sides
	drops   []func()
	logDir  string
}

func (b *bench) close() {
	for _, t := range b.targets {
		if t.proc != nil {
			t.proc.stop()
		}
		if t.pool != nil {
			t.pool.Close()
		}
	}
	for _, drop := range b.drops {
		drop()
	}
}

// prepare creates two fresh databases, starts the stand-in on one and the
// proxy (every sample route in new mode) on the other, and seeds both with
// the same samples.
func prepare(ctx context.Context, o options) (*bench, error) {
	b := &bench{}
	for i := 0; i < o.rows; i++ {
		b.ids = append(b.ids, uuid.NewString())
	}
	var err error
	if b.logDir, err = os.MkdirTemp("", "samplesbench-"); err != nil {
		return b, err
	}
	legacyDB, err := b.freshDB(ctx, o.adminDB, "legacy")
	if err != nil {
		return b, err
	}
	goDB, err := b.freshDB(ctx, o.adminDB, "go")
	if err != nil {
		return b, err
	}
	legacy, err := startStandin(ctx, o, legacyDB, b.logDir)
	if err != nil {
		return b, err
	}
	b.targets = []*target{legacy}
	proxy, err := startProxy(ctx, o, goDB, "", legacy.base, b.logDir)
	if err != nil {
		return b, err
	}
	b.targets = append([]*target{proxy}, b.targets...)
	if o.poolVariant > 0 {
		if err := b.startVariant(ctx, o, legacy.base); err != nil {
			return b, err
		}
	}
	return b, check(ctx, b) // check seeds each table (reset)
}

// startVariant starts a second proxy, on a database of its own, whose pool
// is larger than the default (max(4, cores)): the only way to size it is a
// pgxpool parameter in database_url.
func (b *bench) startVariant(ctx context.Context, o options, legacy string) error {
	db, err := b.freshDB(ctx, o.adminDB, "gopool")
	if err != nil {
		return err
	}
	param := fmt.Sprintf("&pool_max_conns=%d", o.poolVariant)
	t, err := startProxy(ctx, o, db, param, legacy, b.logDir)
	if err != nil {
		return err
	}
	t.name = fmt.Sprintf("go service (proxy, pool %d)", o.poolVariant)
	b.targets = append(b.targets[:1], append([]*target{t}, b.targets[1:]...)...)
	return nil
}

// freshDB creates a database named after the process and a role, dropped
// at the end.
func (b *bench) freshDB(ctx context.Context, adminURL, role string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL: %w", err)
	}
	name := fmt.Sprintf("bench_samples_%s_%d", role, os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", err
	}
	b.drops = append(b.drops, func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	})
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), nil
}

// startStandin runs the stand-in pinned to the server cores, with the
// getAll snapshot off: every getAll reads the table, as the Go service does.
func startStandin(ctx context.Context, o options, db, logDir string) (*target, error) {
	p, err := startServer("stand-in", o.serverCores, filepath.Join(logDir, "standin.log"), nil,
		o.standin, "--port", "0", "--host", "127.0.0.1", "--database-url", db, "--getall-ttl", "0")
	if err != nil {
		return nil, err
	}
	line, err := p.waitLine(3*time.Minute, "legacy stand-in listening on ")
	if err != nil {
		p.stop()
		return nil, err
	}
	pool, err := store.Open(ctx, db, store.Options{ApplicationName: driverApp})
	if err != nil {
		p.stop()
		return nil, err
	}
	return &target{name: "stand-in", base: strings.TrimPrefix(line, "legacy stand-in listening on "), proc: p,
		pool: pool, table: "public.nanopore_samples", header: http.Header{}}, nil
}

// startProxy migrates the database, moves every sample route to new with
// the CLI (`strangler flip samples new` and each read route), and starts
// `strangler serve` with the shipped configuration, pinned.
func startProxy(ctx context.Context, o options, db, poolParam, legacy, logDir string) (*target, error) {
	pool, err := store.Open(ctx, db, store.Options{ApplicationName: driverApp})
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	env := []string{"STRANGLER_DATABASE_URL=" + db}
	for _, route := range []string{"samples", "health", "nanopore.getAll", "nanopore.getProcessingSteps"} {
		cmd := exec.CommandContext(ctx, o.bin, "flip", route, "new", "--reason", "samples bench", "--config", o.configPath)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			pool.Close()
			return nil, fmt.Errorf("flip %s: %v\n%s", route, err, out)
		}
	}
	pub, adm := freeAddr(), freeAddr()
	sum := sha256.Sum256([]byte(token))
	env = append(env, "STRANGLER_DATABASE_URL="+db+poolParam, "STRANGLER_LISTEN="+pub, "STRANGLER_ADMIN_LISTEN="+adm, "STRANGLER_LEGACY_URL="+legacy,
		"STRANGLER_ADMIN_TOKEN_HASHES="+hex.EncodeToString(sum[:]))
	p, err := startServer("strangler", o.serverCores, filepath.Join(logDir, "strangler"+poolParam+".log"), env,
		o.bin, "serve", "--config", o.configPath)
	if err != nil {
		pool.Close()
		return nil, err
	}
	t := &target{name: "go service (proxy)", goSide: true, base: "http://" + pub, proc: p, pool: pool,
		table: "samples.nanopore_samples", header: http.Header{"X-Strangler-Token": {token}}}
	if err := waitOK(ctx, "http://"+adm+"/readyz", p); err != nil {
		p.stop()
		pool.Close()
		return nil, err
	}
	return t, nil
}

// seed inserts the samples, shaped like freshly submitted real ones (a few
// optional columns empty): about 650 bytes of JSON each, so that 1,000 make
// an answer close to the real app's 634 KB.
func seed(ctx context.Context, t *target, ids []string) error {
	_, err := t.pool.Exec(ctx, `INSERT INTO `+t.table+` (id, sample_name, project_id, submitter_name,
 submitter_email, lab_name, sample_type, sample_buffer, concentration, volume, total_amount, flow_cell_type,
 flow_cell_count, status, priority, assigned_to, library_prep_by, submitted_at, started_at, completed_at,
 created_at, updated_at, created_by, chart_field)
SELECT ($1::uuid[])[g], 'Sample ' || g, 'P-' || g, 'Jane Doe', 'j.' || g || '@lab.org',
 'Lab A', 'DNA', NULL, 12.5, 20, 250, 'R10.4.1', 2, 'submitted', 'high',
 NULL, NULL, timestamptz '2026-11-01' + g * interval '1 minute', NULL, NULL, now(), now(),
 '550e8400-e29b-41d4-a716-446655440000', 'HTSF-001'
FROM generate_series(1, cardinality($1::uuid[])) g`, ids)
	if err != nil {
		return fmt.Errorf("seed %s: %w", t.name, err)
	}
	return nil
}

// reset puts a table back to the seeded samples, as seeded (create adds
// rows, updateStatus stamps started_at and completed_at, which make getAll's
// answer longer) and vacuums it, so that every cell starts from the same
// table. The Go side's outbox (drained by the relay in production, which
// this bench does not run) is emptied too.
func reset(ctx context.Context, t *target, ids []string) error {
	tables := t.table
	if strings.HasPrefix(t.table, "samples.") {
		tables += ", samples.outbox"
	}
	// The proxy's relay works on the outbox meanwhile: a TRUNCATE that
	// deadlocks with it is tried again.
	for try := 1; ; try++ {
		_, err := t.pool.Exec(ctx, `TRUNCATE `+tables+` CASCADE`)
		var pgErr *pgconn.PgError
		if err == nil {
			break
		}
		if !errors.As(err, &pgErr) || pgErr.Code != "40P01" || try == 5 {
			return err
		}
	}
	if err := seed(ctx, t, ids); err != nil {
		return err
	}
	_, err := t.pool.Exec(ctx, `VACUUM ANALYZE `+t.table)
	return err
}

// server is a process under test, started pinned.
type server struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// startServer runs bin under `taskset -c cores` (taskset and the stand-in
// script exec, so the pid is the server's own).
func startServer(name, cores, logPath string, env []string, bin string, args ...string) (*server, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("taskset", append([]string{"-c", cores, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); out.Close(); close(s.done) }()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) stop() {
	_ = syscall.Kill(-s.pid(), syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
		<-s.done
	}
}

// waitLine waits for a log line starting with prefix and returns it.
func (s *server) waitLine(within time.Duration, prefix string) (string, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		f, err := os.Open(s.logPath)
		if err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), prefix) {
					f.Close()
					return sc.Text(), nil
				}
			}
			f.Close()
		}
		select {
		case <-s.done:
			return "", fmt.Errorf("%s exited; see %s", s.name, s.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not start within %s; see %s", s.name, within, s.logPath)
}

// waitOK polls url until it answers 200.
func waitOK(ctx context.Context, url string, s *server) error {
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if resp, err := c.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited; see %s", s.name, s.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready at %s", s.name, url)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
