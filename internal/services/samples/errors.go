package samples

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nanopore/strangler/internal/trpc"
)

func badRequest(msg string) *trpc.Error { return trpc.Errorf(trpc.BadRequest, msg) }
func internal(msg string) *trpc.Error   { return trpc.Errorf(trpc.InternalServerError, msg) }

// The messages legacy answers with for a missing row (contract 4.4 to 4.7).
// Steps follow the samples' pattern: a declared fix, legacy never gets there.
const (
	msgSampleNotFound = "Sample not found"
	msgStepNotFound   = "Step not found"
)

// msgPoolClosed is node-postgres's text for a closed pool, which legacy
// answers after SIGTERM (contract 10); a closed pgx pool answers the same.
const msgPoolClosed = "Cannot use a pool after calling end on the pool"

// mapError turns a database or driver error into the tRPC error legacy
// would answer with (contract 6). A *trpc.Error passes through unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var e *trpc.Error
	if errors.As(err, &e) {
		return e
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return mapPgError(pgErr)
	}
	switch {
	case isPoolClosed(err):
		return internal(msgPoolClosed)
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return internal("Database operation timed out")
	case isConnectionError(err):
		return internal("Database connection failed")
	case strings.Contains(err.Error(), "timeout"):
		return internal("Database operation timed out")
	}
	return internal(err.Error())
}

// mapPgError maps a PostgreSQL error by SQLSTATE.
func mapPgError(e *pgconn.PgError) *trpc.Error {
	switch e.Code {
	case "23505":
		return badRequest("A record with this value already exists")
	case "23503":
		return badRequest("Referenced record does not exist")
	case "23502":
		return badRequest("Required field is missing")
	case "22P02":
		if strings.Contains(e.Message, "uuid") {
			return badRequest("Invalid ID format")
		}
		return badRequest("Invalid input format")
	case "22001":
		return badRequest("Input value is too long")
	}
	if strings.Contains(e.Message, "timeout") {
		return internal("Database operation timed out")
	}
	return internal(e.Message)
}

// isConnectionError reports a refused, reset or terminated connection, which
// node-postgres words "connect ECONNREFUSED" or "Connection terminated".
func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}

// isPoolClosed reports pgxpool's "closed pool" error (puddle.ErrClosedPool,
// matched by text so that puddle need not become a direct dependency).
func isPoolClosed(err error) bool {
	return err.Error() == "closed pool"
}
