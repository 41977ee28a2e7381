package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/admin"
	"github.com/nanopore/strangler/internal/store"
)

// tokenStore opens the API tokens of the configured database: the CLI
// manages them with the database credentials alone.
func (c *cli) tokenStore(cmd *cobra.Command) (*admin.TokenStore, func(), error) {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		return nil, nil, usageErr(errors.New("no database: set database_url (STRANGLER_DATABASE_URL); API tokens live there"))
	}
	pool, err := store.Open(cmd.Context(), cfg.DatabaseURL, store.Options{ApplicationName: "strangler-cli", MaxConns: 2})
	if err != nil {
		return nil, nil, err
	}
	return &admin.TokenStore{Pool: pool}, pool.Close, nil
}

// tokenCmd manages the admin API's tokens for machines.
func (c *cli) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens of the admin listener (stored hashed, with an expiry)",
	}
	cmd.AddCommand(c.tokenCreateCmd(), c.tokenListCmd(), c.tokenRevokeCmd())
	return cmd
}

func (c *cli) tokenCreateCmd() *cobra.Command {
	var role, expires string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a token and print it (the only time it is shown)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := admin.ParseTTL(expires)
			if err != nil {
				return usageErr(fmt.Errorf("--%w", err))
			}
			ts, done, err := c.tokenStore(cmd)
			if err != nil {
				return err
			}
			defer done()
			raw, t, err := ts.Create(cmd.Context(), args[0], admin.Role(role), ttl, cliActor())
			var te *admin.TokenError
			if errors.As(err, &te) {
				return usageErr(err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, map[string]any{"token": raw, "info": t})
			}
			fmt.Fprintln(c.stdout, raw)
			fmt.Fprintf(c.stderr, "token %s: role %s, expires %s; store it now, it is not shown again\n",
				t.Name, t.Role, t.ExpiresAt.Local().Format(time.DateTime))
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "viewer", "viewer, engineer, sre or admin")
	cmd.Flags().StringVar(&expires, "expires", "90d", "lifetime: 90d, 12h, 30m (at most two years)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (c *cli) tokenListCmd() *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the live tokens (--all: revoked and expired ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, done, err := c.tokenStore(cmd)
			if err != nil {
				return err
			}
			defer done()
			list, err := ts.List(cmd.Context(), all)
			if err != nil {
				return err
			}
			if asJSON {
				if list == nil {
					list = []admin.Token{}
				}
				return writeJSON(c.stdout, map[string]any{"tokens": list})
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tBY\tEXPIRES\tREVOKED")
			for _, t := range list {
				revoked := "-"
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Local().Format(time.DateTime) + " by " + t.RevokedBy
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.Local().Format(time.DateTime),
					t.CreatedBy, t.ExpiresAt.Local().Format(time.DateTime), revoked)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also revoked and expired tokens")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (c *cli) tokenRevokeCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke the live token of a name (every replica refuses it within admin.token_cache)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErr(errors.New("--reason is required: say why, it goes into the audit log"))
			}
			ts, done, err := c.tokenStore(cmd)
			if err != nil {
				return err
			}
			defer done()
			t, err := ts.Revoke(cmd.Context(), args[0], cliActor(), reason)
			if errors.Is(err, admin.ErrNoToken) {
				return usageErr(fmt.Errorf("token %q: %w", args[0], err))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "token %s (role %s) revoked\n", t.Name, t.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit log)")
	return cmd
}
