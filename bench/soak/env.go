package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// proc is a child process; its output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	out  *lineWatcher
}

// start runs bin with args and env (added to ours, less STRANGLER_*), in
// its own process group, killed with the driver.
func start(name, logDir string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRANGLER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	w := &lineWatcher{lines: make(chan string, 64)}
	cmd.Stdout = io.MultiWriter(f, w)
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait() }()
	return &proc{name: name, cmd: cmd, log: f, out: w}, nil
}

// waitLine waits for an output line that match accepts.
func (p *proc) waitLine(timeout time.Duration, match func(string) bool) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.out.lines:
			if match(l) {
				return l, nil
			}
		case <-deadline:
			return "", fmt.Errorf("%s printed no expected line within %s (log: %s)", p.name, timeout, p.log.Name())
		}
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop ends the process group: SIGTERM, then SIGKILL after 20 s.
func (p *proc) stop() {
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	for i := 0; i < 200; i++ {
		if syscall.Kill(p.pid(), 0) != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	p.log.Close()
}

// lineWatcher hands complete output lines to waitLine, dropping them when
// nobody waits (it never blocks the child).
type lineWatcher struct {
	buf   []byte
	lines chan string
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default:
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 1<<20 {
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

// cli runs a strangler subcommand and returns its exit code and output.
func cli(bin string, env []string, args ...string) (int, string) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return -1, err.Error()
	}
	return 0, string(out)
}

// waitReady waits for a proxy's /readyz.
func waitReady(ctx context.Context, adminURL string) error {
	for {
		if resp, err := http.Get(adminURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz never answered 200", adminURL)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// servingAddrs reads the bound listeners from strangler's "strangler
// serving" log line.
func servingAddrs(p *proc) (public, admin string, err error) {
	var v struct {
		Message     string `json:"message"`
		Listen      string `json:"listen"`
		AdminListen string `json:"admin_listen"`
	}
	_, err = p.waitLine(time.Minute, func(l string) bool {
		return json.Unmarshal([]byte(l), &v) == nil && v.Message == "strangler serving"
	})
	return "http://" + v.Listen, "http://" + v.AdminListen, err
}

// procRSS reads VmRSS (bytes) of a process, zero if unreadable.
func procRSS(pid int) int64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return int64(st.VmRSS)
}
