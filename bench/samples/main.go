// Command samplesbench measures the Go samples service (issue 4) through
// the real proxy against the legacy stand-in, side by side in one run:
// getAll over 1,000 samples, create, updateStatus and health, closed loop
// (requests/s, p50, p99), getAll again open loop at the target rate (p99),
// and each server's RSS and CPU per request. It writes the results into
// bench/samples/README.md.
//
//	make build && make deps
//	go run ./bench/samples [-rounds 3] [-duration 10s] [-conns 32] ...
//
// The servers (the strangler process, and the stand-in's node process) run
// one at a time on -server-cores; the driver re-runs itself under taskset
// on -load-cores, so that the load generator stays off the servers' core.
// PostgreSQL is shared and not pinned.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"time"
)

// options are the driver's flags.
type options struct {
	rounds              int
	duration, warmup    time.Duration
	conns               int
	getAllRate          float64
	rows                int
	serverCores         string
	loadCores           string
	bin, adminDB, out   string
	standin, configPath string
	only                string
	poolVariant         int
}

func parseOptions() options {
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per cell")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up per cell")
	flag.IntVar(&o.conns, "conns", 32, "connections of the closed-loop runs")
	flag.Float64Var(&o.getAllRate, "getall-rate", 270, "requests/s of the open-loop getAll run (the target)")
	flag.IntVar(&o.rows, "rows", 1000, "samples in each table")
	flag.StringVar(&o.serverCores, "server-cores", "0", "cores of the server under test (taskset -c)")
	flag.StringVar(&o.loadCores, "load-cores", "1", "cores of the load generator (taskset -c; empty: no pinning)")
	flag.StringVar(&o.bin, "bin", "bin/strangler", "strangler binary")
	flag.StringVar(&o.standin, "standin", "scripts/legacy-standin.sh", "legacy stand-in script")
	flag.StringVar(&o.configPath, "config", "config/strangler.yaml", "strangler configuration")
	flag.StringVar(&o.adminDB, "admin-db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "maintenance database")
	flag.IntVar(&o.poolVariant, "pool-variant", 16, "also measure a proxy whose database URL sets pool_max_conns to this (0: no variant)")
	flag.StringVar(&o.only, "only", "", "run only these scenarios (comma-separated names, e.g. create,health)")
	flag.StringVar(&o.out, "out", "bench/samples/README.md", "README whose results block is replaced ('' = print only)")
	flag.Parse()
	return o
}

func main() {
	o := parseOptions()
	if o.loadCores != "" && os.Getenv("SAMPLESBENCH_PINNED") == "" {
		if err := repin(o.loadCores); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(context.Background(), o); err != nil {
		log.Fatal(err)
	}
}

// repin runs the driver again under taskset, so that the load generator
// stays off the server's cores.
func repin(cores string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", append([]string{"-c", cores, self}, os.Args[1:]...)...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = os.Stdout, os.Stderr, os.Stdin
	cmd.Env = append(os.Environ(), "SAMPLESBENCH_PINNED=1")
	return cmd.Run()
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	b, err := prepare(ctx, o)
	if b != nil {
		defer b.close()
	}
	if err != nil {
		return err
	}
	cells, err := measure(ctx, o, b)
	if err != nil {
		return err
	}
	text := report(o, b, cells, started)
	fmt.Print(text)
	if o.out == "" {
		return nil
	}
	return replaceBlock(o.out, text)
}
