package samples

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/trpc"
)

// Options configure a Service. Zero fields get defaults.
type Options struct {
	// Pool is the database pool; required. The service never closes it.
	Pool *pgxpool.Pool
	// Logger receives what cannot reach a client, such as a getAll stream
	// broken after its first bytes. The zero Logger discards everything.
	Logger zerolog.Logger
	// Now is the app clock (create's timestamps, started_at, completed_at).
	// Zero value: time.Now.
	Now func() time.Time
}

// Service answers the legacy app's sample procedures from the samples
// schema. It is safe for concurrent use and holds no global state.
type Service struct {
	pool *pgxpool.Pool
	log  zerolog.Logger
	now  func() time.Time
	// queryOpts go before every query's arguments: binary results (the
	// encoder reads raw wire bytes) and, if needed, an exec mode that can
	// honour them.
	queryOpts []any
	bufs      sync.Pool

	procs   []trpc.Procedure
	router  *trpc.Router
	missing missingHook
}

// New returns a Service over opts.Pool.
func New(opts Options) (*Service, error) {
	if opts.Pool == nil {
		return nil, errors.New("samples: Options.Pool is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{
		pool: opts.Pool,
		log:  opts.Logger, // the caller scopes it (serve-service adds the service name)
		now:  opts.Now,
	}
	s.queryOpts = queryOptions(opts.Pool.Config().ConnConfig.DefaultQueryExecMode)
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	s.procs = s.declareAll()
	router, err := trpc.NewRouter(trpc.Options{}, s.procs...)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	s.router = router
	return s, nil
}

// Handler serves the procedures at their full paths (/api/trpc/...), with
// the legacy app's envelopes, guards and headers (package trpc).
func (s *Service) Handler() http.Handler { return s.router }

// queryOptions asks for binary results and, when the pool's default mode
// cannot honour result formats (plain exec or the simple protocol, used
// behind PgBouncer), for DescribeExec, which can and keeps no named
// statements on the server.
func queryOptions(mode pgx.QueryExecMode) []any {
	formats := pgx.QueryResultFormats{pgx.BinaryFormatCode}
	switch mode {
	case pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
		return []any{pgx.QueryExecModeDescribeExec, formats}
	}
	return []any{formats}
}

// Health runs a query on the service's own table, so that a missing schema
// or an unreachable database reports unhealthy (the tRPC `health` procedure,
// like legacy's, never touches the database).
func (s *Service) Health(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, sqlHealth)
	if err != nil {
		return fmt.Errorf("samples health: %w", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("samples health: %w", err)
	}
	return nil
}

// Close releases what the service holds. The pool belongs to the caller and
// stays open.
func (s *Service) Close() {}

// getBuf and putBuf pool the encoding buffers; buffers that grew past 1 MB
// are dropped so that one huge answer does not pin memory.
func (s *Service) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Service) putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return
	}
	*b = (*b)[:0]
	s.bufs.Put(b)
}

// clock returns the app clock truncated to milliseconds, the precision of
// the JS Date legacy writes with.
func (s *Service) clock() time.Time {
	return s.now().Truncate(time.Millisecond)
}
