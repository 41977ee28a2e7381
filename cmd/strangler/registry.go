package main

import (
	"github.com/nanopore/strangler/internal/services"
	"github.com/nanopore/strangler/internal/services/samples"
)

// defaultServices lists the Go services this binary mounts by name; routes
// name them as service:NAME.
func defaultServices() services.Registry {
	return services.Registry{
		"samples": func(d services.Deps) (services.Service, error) {
			return samples.New(samples.Options{Pool: d.Pool, Logger: d.Logger, Now: d.Now})
		},
	}
}
