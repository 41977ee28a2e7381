package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/store"
)

// exitDrift is reconcile's exit status when the stores differ (2, could
// not compare, is exitUsage's number too).
const exitDrift = 1

// dwTarget is what the dual-write commands work on: a write group's Spec
// and both stores.
type dwTarget struct {
	cfg    *config.Config
	spec   *dualwrite.Spec
	stores dualwrite.Stores
	close  func()
}

// dualwriteTarget opens the stores of a write group: the proxy's database
// (the service schemas and the strangler schema) and the legacy database
// (legacy_database_url, by default the same one).
func (c *cli) dualwriteTarget(cmd *cobra.Command, group string) (*dwTarget, error) {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	spec, ok := dualwrite.Specs[group]
	if !ok {
		return nil, usageErr(fmt.Errorf("unknown write group %q (known: %s)", group, strings.Join(specNames(), ", ")))
	}
	if cfg.DatabaseURL == "" {
		return nil, usageErr(errors.New("no database: set database_url (STRANGLER_DATABASE_URL); the service schemas live there"))
	}
	ctx := cmd.Context()
	newPool, err := store.Open(ctx, cfg.DatabaseURL, store.Options{ApplicationName: "strangler-cli", MaxConns: 4})
	if err != nil {
		return nil, err
	}
	if err := checkMigrated(ctx, newPool); err != nil {
		newPool.Close()
		return nil, err
	}
	t := &dwTarget{cfg: cfg, spec: spec, stores: dualwrite.Stores{Legacy: newPool, New: newPool}, close: newPool.Close}
	if cfg.LegacyDatabase() != cfg.DatabaseURL {
		legacyPool, err := store.Open(ctx, cfg.LegacyDatabase(), store.Options{ApplicationName: "strangler-cli", MaxConns: 4})
		if err != nil {
			newPool.Close()
			return nil, err
		}
		t.stores.Legacy = legacyPool
		t.close = func() { legacyPool.Close(); newPool.Close() }
	}
	return t, nil
}

func specNames() []string {
	names := make([]string, 0, len(dualwrite.Specs))
	for n := range dualwrite.Specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// groupMode is a write group's mode as the replicas apply it: each member
// route's flag (or default mode), and the mode closest to legacy when they
// disagree (routing's unifyGroups).
func groupMode(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, group string) (string, error) {
	table, err := compileRoutes(cfg, defaultServices())
	if err != nil {
		return "", err
	}
	routes := table.Group(group)
	if len(routes) == 0 {
		return "", usageErr(fmt.Errorf("no route belongs to write group %q (routes' write_group)", group))
	}
	snap, err := (&flags.Store{Pool: pool}).Load(ctx)
	if err != nil {
		return "", err
	}
	mode := routing.ModeNew
	for _, r := range routes {
		m := r.DefaultMode
		if f, ok := snap.Get(r.Flag); ok {
			if parsed, err := routing.ParseMode(f.Mode); err == nil {
				m = parsed
			}
		}
		mode = min(mode, m)
	}
	return mode.String(), nil
}

// sourceOfTruth is the side a repair copies from in a mode: legacy until
// the group is in new mode.
func sourceOfTruth(mode string) string {
	if mode == routing.ModeNew.String() {
		return dualwrite.SideNew
	}
	return dualwrite.SideLegacy
}

func (c *cli) reconcileCmd() *cobra.Command {
	var repair, asJSON bool
	var from string
	var limit int
	cmd := &cobra.Command{
		Use:   "reconcile GROUP",
		Short: "Compare a write group's legacy tables and service schema row by row; --repair fixes drift from the source of truth",
		Long: `Compare both stores of a write group (samples) row by row and column by column, and
report missing rows (legacy has them, the service schema does not), extra rows (the
reverse) and differing rows with their columns. Exit status: 0 no drift, 1 drift,
2 could not compare.

With --repair, every drifting sample is copied from the side that is the source of
truth for the group's current mode (legacy in legacy, shadow and canary mode; the
service in new mode; --from overrides), each repair recorded in
strangler.dualwrite_audit, and the comparison is run again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from != "" && from != dualwrite.SideLegacy && from != dualwrite.SideNew {
				return usageErr(fmt.Errorf("--from must be legacy or new, got %q", from))
			}
			t, err := c.dualwriteTarget(cmd, args[0])
			if err != nil {
				var ee *exitError
				if errors.As(err, &ee) {
					return err
				}
				return &exitError{code: exitUsage, err: fmt.Errorf("could not compare: %w", err)}
			}
			defer t.close()
			return c.reconcile(cmd.Context(), t, repair, from, limit, asJSON)
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "copy drifting samples from the source of truth and record each repair")
	cmd.Flags().StringVar(&from, "from", "", "with --repair: copy from legacy or new instead of the mode's source of truth")
	cmd.Flags().IntVar(&limit, "limit", 1000, "list at most this many drifting rows")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// reconcileOutput is reconcile's JSON.
type reconcileOutput struct {
	Mode   string                  `json:"mode,omitempty"`
	Report *dualwrite.Report       `json:"report"`
	Repair *dualwrite.RepairResult `json:"repair,omitempty"`
	After  *dualwrite.Report       `json:"after_repair,omitempty"`
}

func (c *cli) reconcile(ctx context.Context, t *dwTarget, repair bool, from string, limit int, asJSON bool) error {
	opts := dualwrite.ReconcileOptions{Spec: t.spec, Stores: t.stores, MaxListed: limit}
	out := reconcileOutput{}
	mode, modeErr := groupMode(ctx, t.cfg, t.stores.New, t.spec.Group)
	if modeErr == nil {
		out.Mode = mode
	}
	rep, err := dualwrite.Reconcile(ctx, opts)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("could not compare: %w", err)}
	}
	out.Report = rep
	final := rep
	if repair && rep.Total > 0 {
		if from == "" {
			if modeErr != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("cannot tell the source of truth (give --from): %w", modeErr)}
			}
			from = sourceOfTruth(mode)
		}
		res, err := dualwrite.Repair(ctx, opts, rep, from, cliActor())
		out.Repair = &res
		if err != nil {
			c.printReconcile(asJSON, out)
			return err
		}
		if out.After, err = dualwrite.Reconcile(ctx, opts); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("could not compare after the repair: %w", err)}
		}
		final = out.After
	}
	if err := c.printReconcile(asJSON, out); err != nil {
		return err
	}
	if final.Total > 0 {
		return &exitError{code: exitDrift, err: fmt.Errorf("write group %s: %d drifting rows", t.spec.Group, final.Total)}
	}
	return nil
}

func (c *cli) printReconcile(asJSON bool, out reconcileOutput) error {
	return c.print(asJSON, out, func(w io.Writer) {
		mode := out.Mode
		if mode == "" {
			mode = "unknown"
		}
		fmt.Fprintf(w, "write group %s (mode %s)\n", out.Report.Group, mode)
		printReport(w, out.Report)
		if out.Repair != nil {
			fmt.Fprintf(w, "\nrepaired %d samples (%d rows) from %s", out.Repair.Repaired, out.Repair.Rows, out.Repair.From)
			if len(out.Repair.Failed) > 0 {
				fmt.Fprintf(w, "; %d failed:", len(out.Repair.Failed))
				for id, why := range out.Repair.Failed {
					fmt.Fprintf(w, "\n  %s: %s", id, why)
				}
			}
			fmt.Fprintln(w)
			if out.After != nil {
				fmt.Fprintln(w, "\nafter the repair:")
				printReport(w, out.After)
			}
		}
	})
}

func printReport(w io.Writer, rep *dualwrite.Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tLEGACY ROWS\tNEW ROWS\tMISSING\tEXTRA\tDIFFERS")
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", t.Table, t.Legacy, t.New, t.Missing, t.Extra, t.Differs)
	}
	tw.Flush()
	if rep.Total == 0 {
		fmt.Fprintln(w, "no drift")
	} else {
		fmt.Fprintf(w, "drift: %d rows (missing: legacy only; extra: new only)\n", rep.Total)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tTABLE\tKEY\tSAMPLE\tCOLUMNS")
		for _, d := range rep.Drifts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Kind, d.Table, d.Key, d.Aggregate, dash(strings.Join(d.Columns, ",")))
		}
		tw.Flush()
		if rep.Truncated {
			fmt.Fprintf(w, "(first %d listed)\n", len(rep.Drifts))
		}
	}
	fmt.Fprintf(w, "in flight: %d outbox rows to relay (%d dead), %d intents to converge (%d dead)\n",
		rep.Outbox.Pending, rep.Outbox.Dead, rep.Intents.Pending, rep.Intents.Dead)
}
