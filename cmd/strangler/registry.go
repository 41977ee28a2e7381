package main

import (
	"github.com/nanopore/strangler/internal/services"
)

// defaultServices lists the Go services this binary mounts by name.
func defaultServices() services.Registry {
	return services.Registry{}
}
