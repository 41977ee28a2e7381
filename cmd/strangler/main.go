// Command strangler is the strangler-fig proxy: it stands in front of the
// legacy Nanopore Tracking App and moves its routes, one by one, onto Go
// services. main handles only signals and exit codes; see Main for wiring.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
