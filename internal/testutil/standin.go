package testutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StandinStartTimeout bounds the wait for the stand-in's ready line. It is a
// ceiling, not a timing claim: the first start on a machine may run npm ci.
const StandinStartTimeout = 3 * time.Minute

// StranglerStartTimeout bounds the wait for a strangler process to be ready.
const StranglerStartTimeout = time.Minute

// maxOutput caps the output a Process keeps; a runaway log must not eat the
// test's memory.
const maxOutput = 8 << 20

// Process is a child process started by a test. It runs in its own process
// group (so that killing it also kills what it started), its stdout and
// stderr are captured together, and it is killed when the test ends; the
// output goes to the test log when the test failed.
type Process struct {
	Name string
	cmd  *exec.Cmd

	mu      sync.Mutex
	out     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
	done    chan struct{} // closed when the process has exited
	state   *os.ProcessState
}

// StartProcess starts cmd (its Stdout, Stderr and SysProcAttr are set here).
func StartProcess(tb testing.TB, name string, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Name: name, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	// Pdeathsig: a test binary killed by its timeout must not leave
	// stand-ins and proxies behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("--- output of %s (pid %d):\n%s", name, p.PID(), p.Output())
		}
	})
	return p
}

// Write collects output; it implements io.Writer for exec.
func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out.Len() < maxOutput {
		p.out.Write(b[:min(len(b), maxOutput-p.out.Len())])
	}
	close(p.changed)
	p.changed = make(chan struct{})
	return len(b), nil
}

// PID is the process id (also its process group id).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Output is everything the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// WaitLine waits until a complete output line satisfies match and returns
// it. It fails early when the process exits first.
func (p *Process) WaitLine(timeout time.Duration, match func(line string) bool) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		text, changed := p.out.String(), p.changed
		p.mu.Unlock()
		for line := range strings.Lines(text) {
			if strings.HasSuffix(line, "\n") && match(strings.TrimRight(line, "\r\n")) {
				return strings.TrimRight(line, "\r\n"), nil
			}
		}
		select {
		case <-changed:
		case <-p.done:
			if p.Output() == text {
				return "", fmt.Errorf("%s exited (%v) before printing the expected line", p.Name, p.exitState())
			}
		case <-deadline.C:
			return "", fmt.Errorf("%s printed no expected line within %s", p.Name, timeout)
		}
	}
}

func (p *Process) exitState() *os.ProcessState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Signal sends sig to the process itself (not its group).
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit code (-1 when a
// signal ended it).
func (p *Process) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s did not exit within %s", p.Name, timeout)
	}
	return p.exitState().ExitCode(), nil
}

// Kill kills the whole process group and waits for the process to exit.
// Calling it again is harmless.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
}

// StandinOptions configure a legacy stand-in process.
type StandinOptions struct {
	// DatabaseURL is the stand-in's database (required; it creates its
	// schema there).
	DatabaseURL string
	// TestRoutes enables the /__standin/ test-only routes.
	TestRoutes bool
	// RequestLog makes the stand-in log every request it receives to a file
	// in a temporary directory; read it with Requests.
	RequestLog bool
	// GetAllTTL is the getAll snapshot lifetime; zero keeps the stand-in's
	// default (300 s), a negative value disables the snapshot.
	GetAllTTL time.Duration
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// Standin is a running legacy stand-in (testbed/legacy).
type Standin struct {
	*Process
	// URL is the base URL, "http://127.0.0.1:PORT".
	URL string
	// Addr is "127.0.0.1:PORT".
	Addr string
	// RequestLogPath is the request log file ("" without RequestLog).
	RequestLogPath string
}

// StartStandin starts scripts/legacy-standin.sh on a port the stand-in picks
// itself (--port 0, so no port race) and waits for its ready line.
func StartStandin(tb testing.TB, opts StandinOptions) *Standin {
	tb.Helper()
	if opts.DatabaseURL == "" {
		tb.Fatal("StartStandin: DatabaseURL is required")
	}
	s := &Standin{}
	args := []string{"--port", "0", "--host", "127.0.0.1", "--database-url", opts.DatabaseURL}
	if opts.TestRoutes {
		args = append(args, "--test-routes")
	}
	if opts.RequestLog {
		s.RequestLogPath = filepath.Join(tb.TempDir(), "requests.jsonl")
		args = append(args, "--request-log", s.RequestLogPath)
	}
	switch {
	case opts.GetAllTTL < 0:
		args = append(args, "--getall-ttl", "0")
	case opts.GetAllTTL > 0:
		args = append(args, "--getall-ttl", strconv.FormatFloat(opts.GetAllTTL.Seconds(), 'f', -1, 64))
	}
	args = append(args, opts.ExtraArgs...)
	cmd := exec.Command(filepath.Join(RepoRoot(tb), "scripts", "legacy-standin.sh"), args...)
	s.Process = StartProcess(tb, "legacy stand-in", cmd)
	const ready = "legacy stand-in listening on "
	line, err := s.WaitLine(StandinStartTimeout, func(l string) bool { return strings.HasPrefix(l, ready) })
	if err != nil {
		tb.Fatalf("%v\n%s", err, s.Output())
	}
	s.URL = strings.TrimPrefix(line, ready)
	s.Addr = strings.TrimPrefix(s.URL, "http://")
	return s
}

// StandinRequest is one line of the stand-in's request log.
type StandinRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Headers are node's lower-cased request headers (strings, or arrays
	// for repeated set-cookie).
	Headers map[string]any `json:"headers"`
	TS      time.Time      `json:"ts"`
}

// Header returns one request header as a string ("" when absent).
func (r StandinRequest) Header(name string) string {
	v, ok := r.Headers[strings.ToLower(name)]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// Requests returns every request the stand-in has received so far. The
// stand-in writes a line synchronously before handling a request, so a
// request that got an answer is always in it.
func (s *Standin) Requests(tb testing.TB) []StandinRequest {
	tb.Helper()
	if s.RequestLogPath == "" {
		tb.Fatal("the stand-in was started without RequestLog")
	}
	b, err := os.ReadFile(s.RequestLogPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatalf("read request log: %v", err)
	}
	var out []StandinRequest
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var r StandinRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a line being appended right now
		}
		out = append(out, r)
	}
	return out
}

// Received reports whether any logged request satisfies match; a test uses
// it to prove that a request never reached legacy.
func (s *Standin) Received(tb testing.TB, match func(StandinRequest) bool) bool {
	tb.Helper()
	for _, r := range s.Requests(tb) {
		if match(r) {
			return true
		}
	}
	return false
}

// WaitForRequest waits until a logged request satisfies match.
func (s *Standin) WaitForRequest(tb testing.TB, timeout time.Duration, what string, match func(StandinRequest) bool) StandinRequest {
	tb.Helper()
	var found StandinRequest
	Eventually(tb, timeout, what, func() bool {
		for _, r := range s.Requests(tb) {
			if match(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// RepoRoot is the strangler module's root directory, found by walking up
// from the working directory (a test runs in its package's directory).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/nanopore/strangler\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no strangler go.mod above the working directory")
		}
		dir = parent
	}
}

// built is the strangler binary of this test binary, built once.
var built struct {
	once sync.Once
	path string
	err  error
}

// builtPrefix names the per-test-binary directories binaries are built into.
const builtPrefix = "strangler-e2e-bin-"

// StranglerBinary builds ./cmd/strangler once per test binary into a
// temporary directory and returns the binary's path. Directories left by
// earlier test binaries that are no longer running are removed then.
func StranglerBinary(tb testing.TB) string {
	tb.Helper()
	root := RepoRoot(tb)
	built.once.Do(func() {
		removeStaleBuilds()
		dir := filepath.Join(os.TempDir(), builtPrefix+strconv.Itoa(os.Getpid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			built.err = err
			return
		}
		out := filepath.Join(dir, "strangler")
		cmd := exec.Command(goTool(), "build", "-o", out, "./cmd/strangler")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		if msg, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/strangler: %v\n%s", err, msg)
			return
		}
		built.path = out
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.path
}

// removeStaleBuilds deletes build directories whose test binary has exited.
func removeStaleBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), builtPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), builtPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// StranglerOptions configure a strangler process.
type StranglerOptions struct {
	// Args are the command line (default: serve with the shipped config).
	Args []string
	// Env is added to the test's environment, whose own STRANGLER_*
	// variables are dropped. Set STRANGLER_LISTEN and
	// STRANGLER_ADMIN_LISTEN to 127.0.0.1:0 for free ports.
	Env []string
}

// Strangler is a running strangler process.
type Strangler struct {
	*Process
	// PublicURL and AdminURL are the bound listeners' base URLs.
	PublicURL, AdminURL string
}

// StartStrangler starts the strangler binary, reads the bound addresses from
// its "strangler serving" log line and waits until /readyz answers 200.
func StartStrangler(tb testing.TB, opts StranglerOptions) *Strangler {
	tb.Helper()
	bin := StranglerBinary(tb)
	args := opts.Args
	if args == nil {
		args = []string{"serve", "--config", filepath.Join(RepoRoot(tb), "config", "strangler.yaml")}
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRANGLER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, opts.Env...)
	s := &Strangler{Process: StartProcess(tb, "strangler", cmd)}
	var addrs struct {
		Message     string `json:"message"`
		Listen      string `json:"listen"`
		AdminListen string `json:"admin_listen"`
	}
	_, err := s.WaitLine(StranglerStartTimeout, func(l string) bool {
		return json.Unmarshal([]byte(l), &addrs) == nil && addrs.Message == "strangler serving"
	})
	if err != nil {
		tb.Fatalf("%v\n%s", err, s.Output())
	}
	s.PublicURL, s.AdminURL = "http://"+addrs.Listen, "http://"+addrs.AdminListen
	WaitReady(tb, s.AdminURL)
	return s
}

// WaitReady waits until a proxy's admin listener answers /readyz with 200.
func WaitReady(tb testing.TB, adminURL string) {
	tb.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	Eventually(tb, StranglerStartTimeout, "strangler /readyz 200", func() bool {
		resp, err := client.Get(adminURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// ProcMemory reads a process's peak and current resident set sizes, in
// bytes, from /proc/PID/status (VmHWM and VmRSS).
func ProcMemory(pid int) (peak, current int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || name != "VmHWM" && name != "VmRSS" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s: %w", name, err)
		}
		if name == "VmHWM" {
			peak = kb << 10
		} else {
			current = kb << 10
		}
	}
	if peak == 0 || current == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmHWM/VmRSS", pid)
	}
	return peak, current, nil
}
