// Package services is the small registry through which the proxy mounts Go
// services by name (routes name them as service:NAME). The services know
// nothing of the proxy; they only satisfy Service.
package services

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Service is a Go service the proxy can mount in-process or run alone with
// `strangler serve-service NAME`.
type Service interface {
	// Handler serves the service's routes (full paths, e.g. /api/trpc/...).
	Handler() http.Handler
	// Health checks the service's own store (a query on its own schema).
	Health(ctx context.Context) error
	// Close releases what the service holds (not the pool).
	Close()
}

// Deps is what a service is built from.
type Deps struct {
	Pool   *pgxpool.Pool
	Logger zerolog.Logger
	Now    func() time.Time
}

// Factory builds a service.
type Factory func(Deps) (Service, error)

// Registry maps service names to factories.
type Registry map[string]Factory

// Names lists the registered names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
