package routing

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/nanopore/strangler/internal/config"
)

// Mode is a route's state, the value of its flag.
type Mode uint8

// The modes of a route (DESIGN.md "Modes of a route").
const (
	ModeLegacy Mode = iota // legacy answers, nothing else
	ModeShadow             // legacy answers, the new side is compared
	ModeCanary             // reads: new for a sticky share of users
	ModeNew                // the new side answers
)

var modeNames = [...]string{"legacy", "shadow", "canary", "new"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "unknown"
}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown mode %q: use legacy, shadow, canary or new", s)
}

// NeedsNew says whether a mode sends traffic to the new side.
func (m Mode) NeedsNew() bool { return m != ModeLegacy }

// Kind is a tRPC procedure's type.
type Kind uint8

// Procedure kinds.
const (
	KindNone     Kind = iota // not a tRPC route
	KindQuery                // safe by declaration
	KindMutation             // writes
)

func (k Kind) String() string {
	switch k {
	case KindQuery:
		return "query"
	case KindMutation:
		return "mutation"
	}
	return "none"
}

// Side is where one request (or one tRPC call) goes.
type Side uint8

// Sides.
const (
	SideLegacy Side = iota
	SideNew
	SideDeny
)

func (s Side) String() string {
	switch s {
	case SideNew:
		return "new"
	case SideDeny:
		return "deny"
	}
	return "legacy"
}

// TargetKind says what the new side of a route is.
type TargetKind uint8

// Target kinds.
const (
	TargetNone    TargetKind = iota // no new side yet
	TargetService                   // an in-process Go service
	TargetURL                       // a remote service
)

// Target is a route's new side.
type Target struct {
	Kind TargetKind
	// Name is the service name (TargetService) or the URL text (TargetURL).
	Name string
	// URL is the first instance of a remote target; URLs lists them all
	// (a target may name several instances, separated by commas).
	URL  *url.URL
	URLs []*url.URL
}

func (t Target) String() string {
	switch t.Kind {
	case TargetService:
		return "service:" + t.Name
	case TargetURL:
		return t.Name
	}
	return ""
}

// parseTarget reads "service:NAME" or an http(s) URL; services lists the
// registered in-process services.
func parseTarget(s string, services map[string]bool) (Target, error) {
	if s == "" {
		return Target{}, nil
	}
	if name, ok := strings.CutPrefix(s, "service:"); ok {
		if !services[name] {
			return Target{}, fmt.Errorf("unknown service %q (registered: %s)", name, listKeys(services))
		}
		return Target{Kind: TargetService, Name: name}, nil
	}
	urls, err := ParseURLs(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q is neither service:NAME nor http(s) URLs: %v", s, err)
	}
	return Target{Kind: TargetURL, Name: s, URL: urls[0], URLs: urls}, nil
}

// ParseURLs reads one or more http(s) base URLs separated by commas.
func ParseURLs(s string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q is not an http(s) URL", part)
		}
		out = append(out, u)
	}
	return out, nil
}

// Route is one compiled, immutable route.
type Route struct {
	// Index is the route's position in Table.Routes; snapshots of modes are
	// slices indexed by it.
	Index          int
	ID             string
	Flag           string
	Target         Target
	DefaultMode    Mode
	DefaultPercent int
	Safe           bool
	Deny           bool
	DenyReason     string
	// WriteGroup is the write group the route belongs to ("" = none).
	WriteGroup string
	// Auth, when set, requires a verified bearer token.
	Auth      *config.RouteAuth
	AllowFrom []netip.Prefix

	match matcher
	// procedures this route takes, with their kinds (tRPC routes only).
	Procedures map[string]Kind
}

// Allowed says whether a client address may pass a deny route.
func (r *Route) Allowed(addr netip.Addr) bool {
	for _, n := range r.AllowFrom {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

func listKeys(m map[string]bool) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return strings.Join(sortStrings(keys), ", ")
}
