package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/store"
)

func (c *cli) migrateCmd() *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply every pending embedded migration (safe to run from several replicas at once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			if dbURL == "" {
				dbURL = cfg.DatabaseURL
			}
			if dbURL == "" {
				return usageErr(fmt.Errorf("no database: set database_url (STRANGLER_DATABASE_URL) or --database-url"))
			}
			pool, err := store.Open(cmd.Context(), dbURL, store.Options{ApplicationName: "strangler-migrate"})
			if err != nil {
				return err
			}
			defer pool.Close()
			applied, err := store.Migrate(cmd.Context(), pool)
			for _, name := range applied {
				fmt.Fprintln(c.stdout, "applied", name)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(c.stdout, "database is up to date")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", "", "database to migrate (default: database_url from the configuration)")
	return cmd
}
