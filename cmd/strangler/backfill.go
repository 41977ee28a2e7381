package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/dualwrite"
)

func (c *cli) backfillCmd() *cobra.Command {
	var opts dualwrite.BackfillOptions
	var logEvery time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "backfill GROUP",
		Short: "Copy a write group's legacy rows into its service schema (resumable, rate-limited, --dry-run)",
		Long: `Copy the legacy rows of a write group (samples: samples, then their processing steps,
details and attachments) into the service schema, in key order, a batch per
transaction. Rows the service schema already holds are left alone (dual writes keep
them current), so it is safe while dual writes run. Progress is recorded with each
batch: a killed backfill started again resumes after the last batch it committed
(--restart starts over). A progress bar goes to stderr on a terminal; otherwise a
JSON progress line every --log-every. Run strangler reconcile afterwards.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Batch < 1 || opts.Rate < 0 {
				return usageErr(fmt.Errorf("--batch must be at least 1 and --rate at least 0"))
			}
			t, err := c.dualwriteTarget(cmd, args[0])
			if err != nil {
				return err
			}
			defer t.close()
			opts.Spec, opts.Stores = t.spec, t.stores
			show := c.progressShow(logEvery)
			opts.Progress = show.update
			res, err := dualwrite.Backfill(cmd.Context(), opts)
			show.end()
			if err != nil {
				return fmt.Errorf("backfill %s stopped after %d of %d rows (run it again to resume): %w", t.spec.Group, res.Done, res.Total, err)
			}
			return c.print(asJSON, res, func(w io.Writer) { printBackfill(w, t.spec.Group, res) })
		},
	}
	cmd.Flags().IntVar(&opts.Batch, "batch", 1000, "rows per transaction")
	cmd.Flags().Float64Var(&opts.Rate, "rate", 0, "at most this many rows per second (0: no limit)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "count what would be copied; write nothing")
	cmd.Flags().BoolVar(&opts.Restart, "restart", false, "forget the recorded progress and start from the first row")
	cmd.Flags().DurationVar(&logEvery, "log-every", 5*time.Second, "without a terminal: how often to log progress")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func printBackfill(w io.Writer, group string, r dualwrite.BackfillResult) {
	what := "copied"
	if r.DryRun {
		what = "would copy"
	}
	resumed := ""
	if r.Resumed {
		resumed = " (resumed)"
	}
	fmt.Fprintf(w, "backfill %s%s: %d of %d rows read, %s %d, %d already there, %.1fs, %.0f rows/s\n",
		group, resumed, r.Done, r.Total, what, r.Copied, r.Skipped, r.Elapsed.Seconds(), r.RowsPerSecond)
}

// progress shows a backfill's progress: a bar redrawn on a terminal, or a
// log line now and then.
type progress struct {
	w        io.Writer
	tty      bool
	log      zerolog.Logger
	every    time.Duration
	last     time.Time
	lastSeen dualwrite.Progress
	drawn    bool
}

func (c *cli) progressShow(every time.Duration) *progress {
	p := &progress{w: c.stderr, every: every, log: zerolog.New(c.stderr).With().Timestamp().Logger()}
	if f, ok := c.stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.tty = true
	}
	return p
}

func (p *progress) update(pr dualwrite.Progress) {
	p.lastSeen = pr
	if p.tty {
		p.drawn = true
		fmt.Fprintf(p.w, "\r%s", bar(pr))
		return
	}
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	p.log.Info().Str("table", pr.Table).Int64("done", pr.Done).Int64("total", pr.Total).Int64("copied", pr.Copied).
		Int64("skipped", pr.Skipped).Float64("rows_per_second", pr.RowsPerSecond).Msg("backfill progress")
}

func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// bar draws "[=====>    ]  52% 52000/100000 rows  nanopore_samples  8100 rows/s  ETA 6s".
func bar(pr dualwrite.Progress) string {
	const width = 30
	frac := 1.0
	if pr.Total > 0 {
		frac = float64(pr.Done) / float64(pr.Total)
	}
	n := int(frac * width)
	b := strings.Repeat("=", n)
	if n < width {
		b += ">" + strings.Repeat(" ", width-n-1)
	}
	eta := "-"
	if pr.RowsPerSecond > 0 {
		eta = time.Duration(float64(pr.Total-pr.Done) / pr.RowsPerSecond * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s] %3.0f%% %d/%d rows  %-26s %6.0f rows/s  ETA %s ", b, frac*100, pr.Done, pr.Total, pr.Table, pr.RowsPerSecond, eta)
}
