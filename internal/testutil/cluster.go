package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a private PostgreSQL server for tests that stop and start the
// database (never the machine's shared server): initdb and pg_ctl on a
// temporary port, run as the postgres OS user when the tests run as root.
type Cluster struct {
	Dir  string
	Port int
	tb   testing.TB
}

// StartCluster initialises and starts a private cluster; it is stopped and
// removed when tb ends.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	for _, bin := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("%s is required for this test (PostgreSQL server binaries): %v", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "strangler-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{Dir: dir, Port: freePort(tb), tb: tb}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\nmax_connections = 200\n", c.Port, dir)
	if err := appendText(filepath.Join(c.data(), "postgresql.conf"), conf); err != nil {
		tb.Fatal(err)
	}
	c.Start()
	tb.Cleanup(func() {
		c.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// URL is the connection URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "start")
}

// StartOnPort starts the server on another port, so that a test can change
// the database while clients of the usual port still see it down.
func (c *Cluster) StartOnPort(port int) {
	c.tb.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "-o", "-p "+strconv.Itoa(port), "start")
}

// URLOnPort is URL for a server started with StartOnPort.
func (c *Cluster) URLOnPort(port int, name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, name)
}

// Stop stops the server (fast mode: sessions are cut, as in an outage).
func (c *Cluster) Stop() {
	c.tb.Helper()
	c.run("pg_ctl", "-D", c.data(), "-w", "-t", "60", "-m", "fast", "stop")
}

// CreateDB creates a database on the cluster and returns its URL.
func (c *Cluster) CreateDB(name string) string {
	c.tb.Helper()
	c.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres", name)
	return c.URL(name)
}

func (c *Cluster) pgctl(args ...string) {
	_ = c.command("pg_ctl", append([]string{"-D", c.data()}, args...)...).Run()
}

func (c *Cluster) run(bin string, args ...string) {
	c.tb.Helper()
	out, err := c.command(bin, args...).CombinedOutput()
	if err != nil {
		c.tb.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
}

func (c *Cluster) command(bin string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func appendText(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return err
}

// freePort asks the kernel for a free TCP port.
func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreePort is freePort for other packages' tests.
func FreePort(tb testing.TB) int { return freePort(tb) }

// ClusterStartTimeout is how long tests wait for a private cluster.
const ClusterStartTimeout = 60 * time.Second
