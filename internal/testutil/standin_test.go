package testutil

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStandinStartsLogsRequestsAndDiesWithItsGroup(t *testing.T) {
	t.Parallel()
	s := StartStandin(t, StandinOptions{DatabaseURL: CreateDB(t), TestRoutes: true, RequestLog: true, GetAllTTL: -1})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || strings.HasSuffix(s.URL, ":0") {
		t.Fatalf("URL %q", s.URL)
	}
	resp, err := http.Get(s.URL + "/__standin/headers?probe=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"url":"/__standin/headers?probe=1"`) {
		t.Fatalf("test route: %d %s", resp.StatusCode, body)
	}
	if !s.Received(t, func(r StandinRequest) bool { return r.URL == "/__standin/headers?probe=1" && r.Method == "GET" }) {
		t.Fatalf("request log lacks the request: %+v", s.Requests(t))
	}
	if s.Received(t, func(r StandinRequest) bool { return r.URL == "/never" }) {
		t.Fatal("Received matched a request that was never sent")
	}
	r := s.WaitForRequest(t, 10*time.Second, "the probe", func(r StandinRequest) bool { return strings.Contains(r.URL, "probe") })
	if r.Header("Host") != s.Addr || r.TS.IsZero() {
		t.Errorf("logged request %+v", r)
	}

	// The script execs node, so the group holds the server: killing the
	// group must free the port.
	s.Kill()
	if _, err := http.Get(s.URL + "/__standin/headers"); err == nil {
		t.Fatal("the stand-in still answers after Kill")
	}
	if err := syscall.Kill(-s.PID(), 0); err != syscall.ESRCH {
		t.Fatalf("process group %d still exists: %v", s.PID(), err)
	}
}

func TestProcessReportsAnEarlyExitInsteadOfWaiting(t *testing.T) {
	t.Parallel()
	p := StartProcess(t, "sh", exec.Command("sh", "-c", "echo starting; echo oops >&2; exit 3"))
	_, err := p.WaitLine(time.Minute, func(l string) bool { return l == "ready" })
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("got %v", err)
	}
	code, err := p.Wait(time.Minute)
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if out := p.Output(); !strings.Contains(out, "starting\n") || !strings.Contains(out, "oops\n") {
		t.Fatalf("output %q", out)
	}
}

func TestProcessWaitLineSeesLinesPrintedLater(t *testing.T) {
	t.Parallel()
	// The child prints its ready line only after reading a line from us, so
	// WaitLine must be woken by the write, not find it at once.
	cmd := exec.Command("sh", "-c", "read x; echo ready $x; sleep 60")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := StartProcess(t, "sh", cmd)
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	line, err := p.WaitLine(time.Minute, func(l string) bool { return strings.HasPrefix(l, "ready") })
	if err != nil || line != "ready go" {
		t.Fatalf("line %q, %v", line, err)
	}
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Kill returned before the process exited")
	}
}

func TestStranglerBinaryServesAndReportsMemory(t *testing.T) {
	t.Parallel()
	s := StartStrangler(t, StranglerOptions{Env: []string{
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0", "STRANGLER_DATABASE_URL=",
		"STRANGLER_FLAGS_FILE=" + t.TempDir() + "/flags.yaml", "STRANGLER_LEGACY_URL=http://127.0.0.1:1",
	}})
	if s.PublicURL == s.AdminURL || strings.HasSuffix(s.PublicURL, ":0") {
		t.Fatalf("addresses %q %q", s.PublicURL, s.AdminURL)
	}
	if again := StranglerBinary(t); again != StranglerBinary(t) {
		t.Fatal("the binary path changed between calls")
	}
	peak, cur, err := ProcMemory(s.PID())
	if err != nil || peak < cur || cur < 1<<20 {
		t.Fatalf("memory peak %d current %d: %v", peak, cur, err)
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := s.Wait(time.Minute); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, s.Output())
	}
	if _, err := os.Stat(StranglerBinary(t)); err != nil {
		t.Fatal(err)
	}
}
