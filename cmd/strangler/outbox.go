package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/services/samples"
)

// outboxCmd shows and handles the dual writes' queues: the service's
// outbox the relay applies to legacy (new primary), and the proxy's
// intents converged into the service schema (legacy primary).
func (c *cli) outboxCmd() *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "outbox (list | retry | drop)",
		Short: "Show and handle pending and dead dual writes (relay outbox rows and converge intents)",
		Args:  cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&group, "group", "samples", "write group")
	cmd.AddCommand(c.outboxListCmd(&group), c.outboxRetryCmd(&group), c.outboxDropCmd(&group))
	return cmd
}

func (c *cli) outboxListCmd(group *string) *cobra.Command {
	var f dualwrite.QueueFilter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending and dead rows, oldest first, with the relay's lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := c.dualwriteTarget(cmd, *group)
			if err != nil {
				return err
			}
			defer t.close()
			rows, err := dualwrite.ListQueues(cmd.Context(), t.stores.New, t.spec, f)
			if err != nil {
				return err
			}
			lag, err := dualwrite.OutboxLag(cmd.Context(), t.stores.New, t.spec)
			if err != nil {
				return err
			}
			out := struct {
				Lag  dualwrite.Lag        `json:"relay"`
				Rows []dualwrite.QueueRow `json:"rows"`
			}{lag, rows}
			return c.print(asJSON, out, func(w io.Writer) { printQueues(w, *group, lag, rows) })
		},
	}
	cmd.Flags().BoolVar(&f.DeadOnly, "dead", false, "only dead rows")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "at most this many rows of each queue")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printQueues(w io.Writer, group string, lag dualwrite.Lag, rows []dualwrite.QueueRow) {
	fmt.Fprintf(w, "write group %s: %s\n", group, lagText(lag))
	if len(rows) == 0 {
		fmt.Fprintln(w, "no pending or dead rows")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tID\tSTATE\tAGE\tATTEMPTS\tNEXT\tWHAT\tERROR")
	for _, r := range rows {
		next := "-"
		if r.State == "pending" {
			next = time.Until(r.Next).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Queue, r.ID, r.State,
			time.Since(r.Created).Round(time.Second), r.Attempts, next, r.What, dash(oneLine(r.Error)))
	}
	tw.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// lagText describes a relay backlog, as `strangler outbox list` and a
// rollback report it.
func lagText(l dualwrite.Lag) string {
	if l.Pending == 0 {
		return fmt.Sprintf("relay up to date (%d dead rows)", l.Dead)
	}
	return fmt.Sprintf("relay lag %.1fs, %d rows pending, %d dead", l.Seconds, l.Pending, l.Dead)
}

// relayLagNote is the line a rollback of a write group prints: the relay's
// backlog at the moment of the flip (the rollback waits for nothing; the
// relay keeps draining), and legacy's getAll staleness.
func relayLagNote(ctx context.Context, pool *pgxpool.Pool, group string) string {
	spec, ok := dualwrite.Specs[group]
	if !ok || pool == nil {
		return ""
	}
	lag, err := dualwrite.OutboxLag(ctx, pool, spec)
	if err != nil {
		return fmt.Sprintf("%s: relay lag unknown (%v)", group, err)
	}
	return fmt.Sprintf("%s: %s at the flip; legacy's nanopore.getAll may list stale samples for up to 300 s (until its snapshot expires or a legacy create)",
		group, lagText(lag))
}

func (c *cli) outboxRetryCmd(group *string) *cobra.Command {
	var dead bool
	cmd := &cobra.Command{
		Use:   "retry (ID... | --dead)",
		Short: "Make rows due again with fresh attempts (relay rows by number, intents by uuid)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if dead == (len(args) > 0) {
				return usageErr(fmt.Errorf("name the rows to retry, or give --dead"))
			}
			return c.handleQueue(cmd, *group, "retried", func(t *dwTarget) (int, error) {
				return dualwrite.RetryQueues(cmd.Context(), t.stores.New, t.spec, args, dead, cliActor())
			})
		},
	}
	cmd.Flags().BoolVar(&dead, "dead", false, "every dead row")
	return cmd
}

func (c *cli) outboxDropCmd(group *string) *cobra.Command {
	var dead bool
	var reason string
	cmd := &cobra.Command{
		Use:   "drop (ID... | --dead) --reason WHY",
		Short: "Give up on rows (then run strangler reconcile --repair)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if dead == (len(args) > 0) {
				return usageErr(fmt.Errorf("name the rows to drop, or give --dead"))
			}
			if strings.TrimSpace(reason) == "" {
				return usageErr(fmt.Errorf("--reason is required: say why, it goes into strangler.dualwrite_audit"))
			}
			return c.handleQueue(cmd, *group, "dropped", func(t *dwTarget) (int, error) {
				return dualwrite.DropQueues(cmd.Context(), t.stores.New, t.spec, args, dead, reason, cliActor())
			})
		},
	}
	cmd.Flags().BoolVar(&dead, "dead", false, "every dead row")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded)")
	return cmd
}

func (c *cli) handleQueue(cmd *cobra.Command, group, verb string, do func(*dwTarget) (int, error)) error {
	t, err := c.dualwriteTarget(cmd, group)
	if err != nil {
		return err
	}
	defer t.close()
	n, err := do(t)
	if err != nil {
		if strings.Contains(err.Error(), "neither a relay row") {
			return usageErr(err)
		}
		return err
	}
	fmt.Fprintf(c.stdout, "%s %d rows of write group %s\n", verb, n, group)
	return nil
}

// openDualWriter builds the dual writes of a running proxy (serve calls it
// after its services, flags and router are open): the legacy-primary
// Writer over the proxy's database and the legacy database, the mounted
// services for secondary executions, the router's modes, and the relays
// (Writer.Run starts them). The dual writes get pools of their own, so that
// their backlog never takes the connections users wait on. The returned
// func closes them. Without a database there are no dual writes.
func openDualWriter(ctx context.Context, m *Main, compare dualwrite.CompareFunc) (*dualwrite.Writer, func(), error) {
	noop := func() {}
	if m.pool == nil {
		return nil, noop, nil
	}
	cfg := m.Config
	const workers = 8
	coord, err := dualwrite.OpenPool(ctx, cfg.DatabaseURL, workers+4, false)
	if err != nil {
		return nil, noop, fmt.Errorf("dual writes: %w", err)
	}
	hot, err := dualwrite.OpenPool(ctx, cfg.DatabaseURL, 4, false)
	if err != nil {
		coord.Close()
		return nil, noop, fmt.Errorf("dual writes: %w", err)
	}
	stores := dualwrite.Stores{Legacy: coord, New: coord}
	closeAll := func() { hot.Close(); coord.Close() }
	if cfg.LegacyDatabase() != cfg.DatabaseURL {
		legacy, err := dualwrite.OpenPool(ctx, cfg.LegacyDatabase(), workers+2, true)
		if err != nil {
			closeAll()
			return nil, noop, fmt.Errorf("dual writes: legacy database: %w", err)
		}
		stores.Legacy = legacy
		closeAll = func() { legacy.Close(); hot.Close(); coord.Close() }
	}
	handlers := map[string]http.Handler{}
	for name, svc := range m.mounted {
		handlers[name] = svc.Handler()
	}
	w, err := dualwrite.NewWriter(dualwrite.Options{
		Stores: stores, Intents: hot, Services: handlers, Compare: compare, Mode: groupModeFunc(m.router),
		Replica: m.flags.replica.ID, Registerer: m.Registry, Logger: m.Logger, Workers: workers,
		// An intent is not recovered while its request may still be waiting
		// for legacy.
		Lease: 2 * cfg.Upstream.ResponseHeaderTimeout,
	})
	if err != nil {
		closeAll()
		return nil, noop, err
	}
	// Primary writes of a sample whose converge has not run yet (right
	// after a flip to new) copy it from legacy first.
	for _, s := range dualwrite.Specs {
		if svc, ok := m.mounted[s.Service].(interface{ SetMissing(samples.MissingFunc) }); ok {
			svc.SetMissing(w.Rescue(s.Group))
		}
	}
	return w, closeAll, nil
}

// groupModeFunc reads a write group's mode from the router's in-memory
// state (one mode per group: routing unifies its members).
func groupModeFunc(rt *routing.Router) dualwrite.ModeFunc {
	return func(group string) string {
		st := rt.State()
		rs := st.Table.Group(group)
		if len(rs) == 0 {
			return routing.ModeLegacy.String()
		}
		return st.Mode(rs[0]).Mode.String()
	}
}
