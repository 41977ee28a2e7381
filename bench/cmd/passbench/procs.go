package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// proc is one process under test, started pinned to a set of cores.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startPinned runs bin with args under `taskset -c cores` (taskset execs, so
// the pid is the program's own), its output going to logPath.
func startPinned(name, cores, logPath string, env []string, bin string, args ...string) (*proc, error) {
	// O_APPEND, so that the driver can truncate the log between cells
	// without the process writing on at its old offset.
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command("taskset", append([]string{"-c", cores, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop asks the process group to end and waits for it, killing it after a
// grace period.
func (p *proc) stop() {
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// waitReady polls url until it answers 200, the process dies, or the
// deadline passes.
func (p *proc) waitReady(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s within %s", p.name, url, within)
		case <-tick.C:
		}
	}
}

// tree is the process and its direct children (nginx's workers).
func (p *proc) tree() []int {
	pids := []int{p.pid()}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.pid() {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == p.pid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuSeconds is user+system time of the process and its children, in
// seconds, read from /proc/PID/stat.
func (p *proc) cpuSeconds() (float64, error) {
	var ticks uint64
	for _, pid := range p.tree() {
		st, err := readStat(pid)
		if err != nil && pid == p.pid() {
			return 0, err
		}
		ticks += st.utime + st.stime // a child gone since tree() counts 0
	}
	return float64(ticks) / clockTicks, nil
}

// memory is the summed VmRSS and VmHWM of the process tree, in bytes.
func (p *proc) memory() (rss, hwm int64, err error) {
	for _, pid := range p.tree() {
		r, h, err := readStatus(pid)
		if err != nil && pid == p.pid() {
			return 0, 0, err
		}
		rss, hwm = rss+r, hwm+h
	}
	return rss, hwm, nil
}

type stat struct {
	ppid         int
	utime, stime uint64
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (stat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return stat{}, err
	}
	st, err := p.Stat()
	if err != nil {
		return stat{}, err
	}
	return stat{ppid: st.PPID, utime: uint64(st.UTime), stime: uint64(st.STime)}, nil
}

// readStatus returns VmRSS and VmHWM from /proc/PID/status, in bytes.
func readStatus(pid int) (rss, hwm int64, err error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, 0, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, 0, err
	}
	return int64(st.VmRSS), int64(st.VmHWM), nil
}

// freePort asks the kernel for an unused loopback port. Another program
// could take it before ours binds; the readiness check then fails loudly.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
