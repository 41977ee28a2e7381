package guard

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Run flushes this replica's counts every guard.flush_interval, evaluates
// every guard.evaluate_interval and delivers webhooks, until ctx ends; then
// it flushes once more and returns.
func (g *Guard) Run(ctx context.Context) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); g.hook.run(quit) }()
	go func() {
		defer wg.Done()
		g.every(ctx, g.cfg.FlushInterval, "flush", func() {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_ = g.Flush(fctx) // kept in memory on failure; Evaluate reports the database's state
		})
	}()
	go func() {
		defer wg.Done()
		g.every(ctx, g.cfg.EvaluateInterval, "evaluate", func() { g.Evaluate(ctx) })
	}()
	<-ctx.Done()
	close(quit)
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = g.Flush(fctx)
}

// every runs f on each tick until ctx ends; a panic in f is logged and the
// loop goes on.
func (g *Guard) every(ctx context.Context, d time.Duration, what string, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.safely(what, f)
		}
	}
}

func (g *Guard) safely(what string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			g.log.Error().Str("loop", what).Str("panic", fmt.Sprint(v)).Msg("guard: loop panicked; going on")
		}
	}()
	f()
}
