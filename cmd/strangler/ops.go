package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/store"
)

// dbControl builds the control surface from the configuration and the
// database alone: the CLI needs no running replica.
func (c *cli) dbControl(cmd *cobra.Command) (*control, func(), error) {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return nil, nil, err
	}
	table, err := compileRoutes(cfg, defaultServices())
	if err != nil {
		return nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		return nil, nil, usageErr(fmt.Errorf("no database: set database_url (STRANGLER_DATABASE_URL); without one, flip through a replica's admin API"))
	}
	pool, err := store.Open(cmd.Context(), cfg.DatabaseURL, store.Options{ApplicationName: "strangler-cli"})
	if err != nil {
		return nil, nil, err
	}
	st := &flags.Store{Pool: pool}
	ctl := &control{source: storeSource{st}, store: st}
	ctl.setTable(cfg.Routes, table)
	ctl.snapshot = func() *flags.Snapshot {
		snap, err := st.Load(context.WithoutCancel(cmd.Context()))
		if err != nil {
			return nil
		}
		return snap
	}
	return ctl, pool.Close, nil
}

func (c *cli) routesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Show every route's mode and which replicas applied the latest flags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctl, done, err := c.dbControl(cmd)
			if err != nil {
				return err
			}
			defer done()
			v, err := ctl.Routes(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, v)
			}
			printRoutes(c.stdout, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printRoutes(w io.Writer, v routing.RoutesView) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tMODE\tTARGET\tCHANGED\tBY\tREASON")
	for _, r := range v.Routes {
		mode := r.Mode
		if r.Mode == "canary" {
			mode = fmt.Sprintf("canary %d%%", r.Percent)
		}
		changed := "-"
		if r.ChangedAt != nil {
			changed = r.ChangedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, mode, dash(r.Target), changed, dash(r.ChangedBy), dash(r.Reason))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nflags version %d, route table %s\n", v.FlagsVersion, v.ConfigHash)
	if len(v.Replicas) == 0 {
		fmt.Fprintln(w, "no replica has reported in the last minute")
		return
	}
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tFLAGS VERSION\tROUTE TABLE\tSEEN")
	for _, r := range v.Replicas {
		applied := fmt.Sprint(r.FlagsVersion)
		if r.FlagsVersion < v.FlagsVersion {
			applied += " (behind)"
		}
		table := r.ConfigHash
		if r.ConfigDiffers {
			table += " (DIFFERS from this config)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\n", r.ID, applied, table, time.Since(r.SeenAt).Round(time.Second))
	}
	tw.Flush()
}

func (c *cli) flipCmd() *cobra.Command {
	var percent int
	var reason string
	cmd := &cobra.Command{
		Use:   "flip ROUTE MODE",
		Short: "Put a route into legacy, shadow, canary or new mode",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErr(fmt.Errorf("--reason is required: say why, it goes into the flag history"))
			}
			ctl, done, err := c.dbControl(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := ctl.Flip(cmd.Context(), args[0], args[1], percent, flags.Meta{Actor: cliActor(), Reason: reason, Source: "cli"})
			return c.report(res, err)
		},
	}
	cmd.Flags().IntVar(&percent, "percent", 0, "share of users on the new side in canary mode (1-100)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the history)")
	return cmd
}

func (c *cli) rollbackCmd() *cobra.Command {
	var all bool
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback (ROUTE... | --all)",
		Short: "Put routes back to legacy at once, on every replica",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErr(fmt.Errorf("name the routes to roll back, or give --all"))
			}
			if strings.TrimSpace(reason) == "" {
				return usageErr(fmt.Errorf("--reason is required: say why, it goes into the flag history"))
			}
			ctl, done, err := c.dbControl(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := ctl.Rollback(cmd.Context(), args, all, flags.Meta{Actor: cliActor(), Reason: reason, Source: "cli"})
			return c.report(res, err)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "roll back every route")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the history)")
	return cmd
}

// report prints what a flag change did.
func (c *cli) report(res flags.Result, err error) error {
	if err != nil {
		if isOpError(err) {
			return usageErr(err)
		}
		return err
	}
	if res.Note != "" {
		fmt.Fprintln(c.stdout, res.Note)
	}
	for _, o := range res.Outcomes {
		switch {
		case o.Applied:
			from := "default"
			if o.Before != nil {
				from = o.Before.Mode
			}
			fmt.Fprintf(c.stdout, "%s: %s -> %s\n", o.Change.Key, from, describe(o.Change))
		default:
			fmt.Fprintf(c.stdout, "%s: %s (%s)\n", o.Change.Key, describe(o.Change), o.Skipped)
		}
	}
	fmt.Fprintf(c.stdout, "flags version %d; replicas apply it through LISTEN/NOTIFY (see `strangler routes`)\n", res.Version)
	return nil
}

func describe(ch flags.Change) string {
	if ch.Mode == "canary" {
		return fmt.Sprintf("canary %d%%", ch.Percent)
	}
	return ch.Mode
}

func (c *cli) historyCmd() *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history [ROUTE]",
		Short: "Show the flag history (who, when, why, before, after)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctl, done, err := c.dbControl(cmd)
			if err != nil {
				return err
			}
			defer done()
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			h, err := ctl.History(cmd.Context(), id, limit)
			if err != nil {
				if isOpError(err) {
					return usageErr(err)
				}
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, map[string]any{"history": h})
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tFLAG\tBEFORE\tAFTER\tACTOR\tSOURCE\tREASON")
			for _, e := range h {
				before := "default"
				if e.Before != nil {
					before = describe(flags.Change{Mode: e.Before.Mode, Percent: e.Before.Percent})
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Key, before,
					describe(flags.Change{Mode: e.After.Mode, Percent: e.After.Percent}), e.Actor, e.Source, e.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "how many entries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
