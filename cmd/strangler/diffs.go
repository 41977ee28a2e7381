package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/store"
)

// diffsStore opens the shadow records of the configured database.
func (c *cli) diffsStore(cmd *cobra.Command) (*shadow.Store, func(), error) {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		return nil, nil, usageErr(errors.New("no database: set database_url (STRANGLER_DATABASE_URL); mismatch records live there"))
	}
	pool, err := store.Open(cmd.Context(), cfg.DatabaseURL, store.Options{ApplicationName: "strangler-cli", MaxConns: 2})
	if err != nil {
		return nil, nil, err
	}
	return &shadow.Store{Pool: pool}, pool.Close, nil
}

// diffsCmd shows the shadow comparison's mismatches. It exits 0 whenever
// it could read the records, whatever they hold: mismatches are data, not
// a failure of the command.
func (c *cli) diffsCmd() *cobra.Command {
	var route, since string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diffs [show ID]",
		Short: "Show shadow mismatches grouped by route, procedure and JSON path, with a redacted example each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			back, err := shadow.ParseSince(since)
			if err != nil {
				return usageErr(fmt.Errorf("--since: %w", err))
			}
			st, done, err := c.diffsStore(cmd)
			if err != nil {
				return err
			}
			defer done()
			rep, err := st.Report(cmd.Context(), shadow.Filter{Route: route, Since: time.Now().Add(-back), Limit: limit})
			if err != nil {
				return err
			}
			return c.print(asJSON, rep, func(w io.Writer) { shadow.RenderReport(w, rep) })
		},
	}
	cmd.Flags().StringVar(&route, "route", "", "only this route")
	cmd.Flags().StringVar(&since, "since", "1h", "how far back: 30m, 1h, 7d ...")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many groups")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(c.diffsShowCmd())
	return cmd
}

func (c *cli) diffsShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one mismatch record: the request, the differences and both answers side by side",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usageErr(fmt.Errorf("ID must be a record number, got %q", args[0]))
			}
			st, done, err := c.diffsStore(cmd)
			if err != nil {
				return err
			}
			defer done()
			rec, err := st.Get(cmd.Context(), id)
			if errors.Is(err, shadow.ErrNotFound) {
				return usageErr(fmt.Errorf("mismatch #%d: %w (deleted by retention, or never stored)", id, err))
			}
			if err != nil {
				return err
			}
			return c.print(asJSON, rec, func(w io.Writer) { shadow.RenderRecord(w, rec) })
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// print writes v as JSON, or rendered for a person.
func (c *cli) print(asJSON bool, v any, render func(io.Writer)) error {
	if asJSON {
		return writeJSON(c.stdout, v)
	}
	render(c.stdout)
	return nil
}
