package admin

import (
	"slices"
	"strings"
)

// Role is what a caller of the admin API may do; a caller may hold
// several roles and may do what any of them allows.
type Role string

// The roles (config.AdminRoles names the same).
const (
	RoleViewer   Role = "viewer"
	RoleEngineer Role = "engineer"
	RoleSRE      Role = "sre"
	RoleAdmin    Role = "admin"
)

// Permission is one kind of admin operation.
type Permission string

// The permissions, by endpoint:
//
//	read      every GET under /api (routes, history, diffs, accepted, guard, live)
//	flip      PUT /api/routes/ID into any mode (legacy too: undoing one's own step)
//	rollback  POST /api/rollback (a route, a write group or everything), and
//	          PUT /api/routes/ID back to legacy
//	accept    POST and DELETE /api/accepted (declared accepted differences)
//	guard     PUT /api/guard (guard settings)
//	tokens    GET, POST and DELETE /api/tokens
const (
	PermRead     Permission = "read"
	PermFlip     Permission = "flip"
	PermRollback Permission = "rollback"
	PermAccept   Permission = "accept"
	PermGuard    Permission = "guard"
	PermTokens   Permission = "tokens"
)

// grants says what each role may do. engineer and sre are side by side:
// an engineer moves routes forward and judges differences; an SRE rolls
// back and tunes the guard, and never moves a route out of legacy.
var grants = map[Role][]Permission{
	RoleViewer:   {PermRead},
	RoleEngineer: {PermRead, PermFlip, PermAccept},
	RoleSRE:      {PermRead, PermRollback, PermGuard},
	RoleAdmin:    {PermRead, PermFlip, PermRollback, PermAccept, PermGuard, PermTokens},
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	_, ok := grants[r]
	return r, ok
}

// Principal is an authenticated caller.
type Principal struct {
	// Actor names the caller in the flag history and the audit log:
	// oidc:<email or subject>, token:<name>, break-glass.
	Actor string `json:"actor"`
	// Name is what the console shows (an e-mail, a token's name).
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
	// Via is how the caller proved who it is: oidc, token, config-token,
	// break-glass.
	Via string `json:"via"`
	// Session: the request carried the console's session cookie, so that
	// its writes need the CSRF token.
	Session bool `json:"session"`
}

// Can says whether the principal holds a role that grants p.
func (p Principal) Can(perm Permission) bool {
	for _, r := range p.Roles {
		if slices.Contains(grants[r], perm) {
			return true
		}
	}
	return false
}

// Permissions lists what the principal may do, for the console.
func (p Principal) Permissions() []Permission {
	var out []Permission
	for _, perm := range []Permission{PermRead, PermFlip, PermRollback, PermAccept, PermGuard, PermTokens} {
		if p.Can(perm) {
			out = append(out, perm)
		}
	}
	return out
}

// rolesFromClaim turns the values of an identity provider's roles claim
// into roles: a value prefix+ROLE grants ROLE; other values are ignored.
func rolesFromClaim(values []string, prefix string) []Role {
	var out []Role
	for _, v := range values {
		name, ok := strings.CutPrefix(v, prefix)
		if !ok {
			continue
		}
		if r, ok := ParseRole(name); ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// capRoles keeps the roles of rs that grant nothing beyond limit's
// permissions (the break-glass token is sre at most).
func capRoles(rs []Role, limit Role) []Role {
	var out []Role
	for _, r := range rs {
		if r == limit || r == RoleViewer {
			out = append(out, r)
		}
	}
	return out
}
