// Command shadowbench measures what shadow comparison costs the users
// (issue 5): the primary's latency under open-loop load with a new side
// that stalls for 10 s, refuses connections, or answers in 20 ms, against
// legacy-only mode in the same run; goroutines and memory of the proxy; and
// the share of safe requests compared at the load the proxy sustains.
//
//	go run ./bench/shadow run [-rounds 3] [-duration 10s] ...
//
// The same binary plays every part, one process each:
//
//	shadowbench upstream -listen ADDR [-delay D]   legacy or new side
//	shadowbench proxy -listen ADDR -legacy URL -new URL -mode M
//	shadowbench run ...                            the driver
//	shadowbench load -url URL -rate R -duration D  one open-loop run, by hand
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: shadowbench run|upstream|proxy [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = upstreamMain(os.Args[2:])
	case "proxy":
		err = proxyMain(os.Args[2:])
	case "run":
		err = runMain(os.Args[2:])
	case "load":
		err = loadMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown part %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shadowbench:", err)
		os.Exit(1)
	}
}
