package samples

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/trpc"
)

func TestMapError(t *testing.T) {
	pg := func(code, msg string) error {
		return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code, Message: msg})
	}
	tests := []struct {
		name string
		err  error
		code trpc.Code
		msg  string
	}{
		{"unique", pg("23505", "duplicate key"), trpc.BadRequest, "A record with this value already exists"},
		{"foreign key", pg("23503", "violates foreign key"), trpc.BadRequest, "Referenced record does not exist"},
		{"not null", pg("23502", "null value"), trpc.BadRequest, "Required field is missing"},
		{"bad uuid", pg("22P02", `invalid input syntax for type uuid: "x"`), trpc.BadRequest, "Invalid ID format"},
		{"other syntax", pg("22P02", `invalid input syntax for type integer: "1.5"`), trpc.BadRequest, "Invalid input format"},
		{"too long", pg("22001", "value too long for type character varying(255)"), trpc.BadRequest, "Input value is too long"},
		{"statement timeout", pg("57014", "canceling statement due to statement timeout"), trpc.InternalServerError, "Database operation timed out"},
		{"other pg error keeps its message", pg("23514", `new row for relation "nanopore_samples" violates check constraint "valid_volume"`),
			trpc.InternalServerError, `new row for relation "nanopore_samples" violates check constraint "valid_volume"`},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), trpc.InternalServerError, "Database operation timed out"},
		{"closed pool", errors.New("closed pool"), trpc.InternalServerError, "Cannot use a pool after calling end on the pool"},
		{"app error passes", badRequest("Validation failed: x"), trpc.BadRequest, "Validation failed: x"},
		{"anything else keeps its message", errors.New("boom"), trpc.InternalServerError, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, mapError(tt.err), tt.code, tt.msg)
		})
	}
	if mapError(nil) != nil {
		t.Error("mapError(nil) should be nil")
	}
}

func TestDatabaseDownAnswersConnectionFailed(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // lazy: does not connect yet
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	svc, err := New(Options{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = svc.AppendCreate(ctx, nil, baseInput())
	wantError(t, err, trpc.InternalServerError, "Database connection failed")
	_, err = svc.GetAll(ctx)
	wantError(t, err, trpc.InternalServerError, "Database connection failed")
	if svc.Health(ctx) == nil {
		t.Error("health should fail with the database down")
	}
}

func TestClosedPoolAnswersLikeLegacyAfterSIGTERM(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, nil)
	pool.Close()
	_, err := svc.AppendCreate(context.Background(), nil, baseInput())
	wantError(t, err, trpc.InternalServerError, "Cannot use a pool after calling end on the pool")
}
