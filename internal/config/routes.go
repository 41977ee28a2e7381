package config

// Route is one entry of the route table. Package routing compiles and
// validates the table; see docs/routes.md for the precedence rules.
type Route struct {
	// ID names the route in flags, metrics, logs and the CLI. For tRPC
	// procedures it is the procedure name ("nanopore.getAll").
	ID string `mapstructure:"id"`
	// Match says which requests the route takes.
	Match Match `mapstructure:"match"`
	// Target is the new side: "service:NAME" for an in-process Go service,
	// or an http(s) URL. Empty: no new side yet (only legacy mode is allowed).
	Target string `mapstructure:"target"`
	// Flag is the flag key holding the route's mode (default: ID).
	Flag string `mapstructure:"flag"`
	// DefaultMode applies until the flag is first set: legacy, shadow, canary
	// or new (default legacy).
	DefaultMode string `mapstructure:"default_mode"`
	// DefaultPercent is the canary percentage with DefaultMode canary.
	DefaultPercent int `mapstructure:"default_percent"`
	// Safe declares that repeating the request has no effect, so that it may
	// be shadowed and retried on legacy. tRPC queries are safe by their kind;
	// any other route is unsafe unless declared, because legacy has
	// destructive GETs.
	Safe bool `mapstructure:"safe"`
	// WriteGroup names the routes whose mutations write the same tables
	// ("samples"): a write group has one mode at a time, and flipping one of
	// its routes flips them all.
	WriteGroup string `mapstructure:"write_group"`
	// Auth, when set, requires a valid OIDC/JWT bearer token from Issuer on
	// this route; the verified identity reaches the upstream as X-User-Id,
	// X-User-Email and X-User-Role (client-sent values are always dropped).
	Auth *RouteAuth `mapstructure:"auth"`
	// Deny answers 403 for every method and never forwards. It is a property
	// of the route, not a mode: no flip, rollback or guard opens it.
	Deny bool `mapstructure:"deny"`
	// DenyReason is the reason given in the 403 answer.
	DenyReason string `mapstructure:"deny_reason"`
	// AllowFrom lists operator networks (CIDR or IP) that a deny route still
	// lets through to legacy. Empty by default.
	AllowFrom []string `mapstructure:"allow_from"`
}

// Match selects requests. Exactly one of Path, Prefix, Pattern and
// Procedures is set.
type Match struct {
	// Path matches one normalised path exactly ("/api/migrate").
	Path string `mapstructure:"path" json:"path,omitempty"`
	// Prefix matches a path and everything below it ("/api/backup").
	Prefix string `mapstructure:"prefix" json:"prefix,omitempty"`
	// Pattern matches segments with parameters ("/api/samples/:id").
	Pattern string `mapstructure:"pattern" json:"pattern,omitempty"`
	// Methods restricts the HTTP methods (default: all).
	Methods []string `mapstructure:"methods" json:"methods,omitempty"`
	// Query adds conditions on query parameters.
	Query []QueryCondition `mapstructure:"query" json:"query,omitempty"`
	// Procedures makes this a tRPC route: it takes these procedures of the
	// tRPC endpoint, each declared as a query or a mutation.
	Procedures []Procedure `mapstructure:"procedures" json:"procedures,omitempty"`
}

// QueryCondition tests one query parameter's first value, parsed as the
// browser's URLSearchParams does. Set exactly one test.
type QueryCondition struct {
	Param string `mapstructure:"param" json:"param,omitempty"`
	// Absent: the parameter does not occur.
	Absent bool `mapstructure:"absent" json:"absent,omitempty"`
	// In: the parameter occurs and its value is one of these.
	In []string `mapstructure:"in" json:"in,omitempty"`
	// NotIn: the parameter is absent, empty, or not one of these; this is
	// the safe way to deny everything but an allow-list.
	NotIn []string `mapstructure:"not_in" json:"not_in,omitempty"`
}

// Procedure is one tRPC procedure a route takes.
type Procedure struct {
	Name string `mapstructure:"name" json:"name,omitempty"`
	// Kind is query or mutation.
	Kind string `mapstructure:"kind" json:"kind,omitempty"`
}

// RouteAuth says which tokens a route accepts.
type RouteAuth struct {
	Issuer string `mapstructure:"issuer" json:"issuer"`
	// Audience is the required "aud" (empty: any).
	Audience string `mapstructure:"audience" json:"audience,omitempty"`
	// RolesClaim names the claim holding roles ("roles", "realm_access.roles").
	RolesClaim string `mapstructure:"roles_claim" json:"roles_claim,omitempty"`
}
