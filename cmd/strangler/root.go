package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/config"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

// cli holds what every subcommand shares.
type cli struct {
	configPath string
	stdout     io.Writer
	stderr     io.Writer
	environ    []string
}

// loadConfig reads the configuration named by --config; problems are a usage
// error (exit 2) listing every bad key.
func (c *cli) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	cfg, err := config.Load(config.Source{
		Path:     c.configPath,
		Explicit: cmd.Flags().Changed("config"),
		Environ:  c.environ,
	})
	if err != nil {
		return nil, usageErr(fmt.Errorf("invalid configuration:\n%w", err))
	}
	return cfg, nil
}

// Execute runs the command line args and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, args, os.Environ(), stdout, stderr)
}

// execute is Execute with the environment given, for tests.
func execute(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, environ: environ}
	root := c.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "strangler:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "strangler",
		Short:         "Strangler-fig proxy moving the Nanopore Tracking App onto Go services",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&c.configPath, "config", config.DefaultPath, "configuration file (YAML)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(c.serveCmd(), c.migrateCmd(), c.checkConfigCmd(),
		c.routesCmd(), c.flipCmd(), c.rollbackCmd(), c.historyCmd(), c.serveServiceCmd(),
		c.diffsCmd(), c.backfillCmd(), c.reconcileCmd(), c.outboxCmd(), c.tokenCmd())
	return root
}

func (c *cli) checkConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "Validate the configuration and print every invalid or unknown key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			t, err := compileRoutes(cfg, defaultServices())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "configuration is valid: %d routes, route table %s\n", len(t.Routes), t.Hash)
			return nil
		},
	}
}
