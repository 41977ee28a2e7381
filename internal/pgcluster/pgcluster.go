// Package pgcluster runs a private PostgreSQL server for tests and
// benchmarks that must not touch, or be disturbed by, the machine's shared
// server: initdb and pg_ctl on a free loopback port in a temporary folder,
// run as the postgres OS user when the caller is root.
package pgcluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Options tune a cluster; zero fields take the defaults named.
type Options struct {
	// Prefix names the temporary folder (default "strangler-pg-").
	Prefix string
	// MaxConnections is postgresql.conf's max_connections (default 200).
	MaxConnections int
	// Durable keeps fsync on (default off: a test's data need not survive
	// a machine crash, and fsync is most of initdb's and a commit's time).
	Durable bool
	// Conf is appended to postgresql.conf.
	Conf string
}

// Cluster is a private PostgreSQL server.
type Cluster struct {
	Dir  string
	Port int
}

// Start initialises a cluster in a new temporary folder and starts it.
func Start(o Options) (*Cluster, error) {
	for _, bin := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s is required (PostgreSQL server binaries): %w", bin, err)
		}
	}
	if o.Prefix == "" {
		o.Prefix = "strangler-pg-"
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 200
	}
	dir, err := os.MkdirTemp("", o.Prefix)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: port}
	if err := c.chownToPostgres(); err != nil {
		c.Remove()
		return nil, err
	}
	initdb := []string{"-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8"}
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = %d\n",
		c.Port, dir, o.MaxConnections)
	if !o.Durable {
		initdb = append(initdb, "--no-sync")
		conf += "fsync = off\n"
	}
	if err := c.run("initdb", initdb...); err != nil {
		c.Remove()
		return nil, err
	}
	if err := appendText(filepath.Join(c.data(), "postgresql.conf"), conf+o.Conf); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.Start(); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) chownToPostgres() error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user for initdb: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(c.Dir, uid, gid)
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// URL is the connection URL of database name.
func (c *Cluster) URL(name string) string { return c.URLOnPort(c.Port, name) }

// URLOnPort is URL for a server started with StartOnPort.
func (c *Cluster) URLOnPort(port int, name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, name)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() error { return c.StartOnPort(c.Port) }

// StartOnPort starts the server on another port, so that a test can change
// the database while clients of the usual port still see it down.
func (c *Cluster) StartOnPort(port int) error {
	return c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60",
		"-o", "-p "+strconv.Itoa(port), "start")
}

// Stop stops the server in fast mode: sessions are cut, as in an outage.
func (c *Cluster) Stop() error {
	return c.run("pg_ctl", "-D", c.data(), "-w", "-t", "60", "-m", "fast", "stop")
}

// CreateDB creates a database and returns its URL.
func (c *Cluster) CreateDB(name string) (string, error) {
	if err := c.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres", name); err != nil {
		return "", err
	}
	return c.URL(name), nil
}

// Remove stops the server at once, if it runs, and deletes its folder.
func (c *Cluster) Remove() {
	_ = c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "stop").Run()
	_ = os.RemoveAll(c.Dir)
}

func (c *Cluster) run(bin string, args ...string) error {
	if out, err := c.command(bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return nil
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
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
