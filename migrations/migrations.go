// Package migrations embeds the SQL that `strangler migrate` applies.
//
// Each schema owns a folder: strangler/ for the proxy's own tables and one
// folder per Go service (samples/, ...). Files are named NNNN_name.sql and are
// applied in (folder order, file name) order, one transaction each. Every
// statement names its schema; nothing relies on the search path.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed */*.sql
var FS embed.FS

// Order lists the schema folders in the order they are applied. A folder not
// listed here is refused by the migrator, so a new service must add itself.
var Order = []string{"strangler", "samples"}
