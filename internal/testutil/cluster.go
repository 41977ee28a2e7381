package testutil

import (
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/pgcluster"
)

// Cluster is a private PostgreSQL server for tests that stop and start the
// database (never the machine's shared server); see package pgcluster.
type Cluster struct {
	*pgcluster.Cluster
	tb testing.TB
}

// StartCluster initialises and starts a private cluster; it is stopped and
// removed when tb ends.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := pgcluster.Start(pgcluster.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Remove)
	return &Cluster{Cluster: c, tb: tb}
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	c.check(c.Cluster.Start())
}

// StartOnPort starts the server on another port, so that a test can change
// the database while clients of the usual port still see it down.
func (c *Cluster) StartOnPort(port int) {
	c.tb.Helper()
	c.check(c.Cluster.StartOnPort(port))
}

// Stop stops the server (fast mode: sessions are cut, as in an outage).
func (c *Cluster) Stop() {
	c.tb.Helper()
	c.check(c.Cluster.Stop())
}

// CreateDB creates a database on the cluster and returns its URL.
func (c *Cluster) CreateDB(name string) string {
	c.tb.Helper()
	url, err := c.Cluster.CreateDB(name)
	c.check(err)
	return url
}

func (c *Cluster) check(err error) {
	c.tb.Helper()
	if err != nil {
		c.tb.Fatal(err)
	}
}

// FreePort asks the kernel for a free TCP port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := pgcluster.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// ClusterStartTimeout is how long tests wait for a private cluster.
const ClusterStartTimeout = 60 * time.Second
