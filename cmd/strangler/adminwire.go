package main

import (
	"context"
	"reflect"
	"time"

	"github.com/nanopore/strangler/internal/admin"
	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/shadow"
)

// openAdmin builds the admin listener's handler: health, readiness,
// metrics, the admin API with its access control, and the console.
func (m *Main) openAdmin() {
	ac := adminSection(m.Config)
	opts := admin.Options{Gatherer: m.Registry, Health: m.health, Logger: m.Logger, Control: m.control,
		Guard: &admin.GuardView{Guard: m.guard, Config: m.Config.Guard, Pool: m.pool}}
	var tokens *admin.TokenStore
	if m.pool != nil {
		tokens = &admin.TokenStore{Pool: m.pool, TTL: ac.TokenCache}
		st := &shadow.Store{Pool: m.pool}
		opts.Diffs, opts.Accepted, opts.Tokens = st, st, tokens
		opts.Audit = func(ctx context.Context, actor, action, subject, reason string, detail map[string]any) error {
			return admin.Audit(ctx, m.pool, actor, action, subject, reason, detail)
		}
		// The guard follows the setting made through the API, if it can.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		opts.Guard.(*admin.GuardView).Apply(ctx)
		cancel()
	}
	opts.Auth = admin.NewAuth(authOptions(m.Config, ac, tokens))
	m.admin = admin.New(opts)
}

// authOptions turns the configuration into the admin authenticator's
// options.
func authOptions(cfg *config.Config, ac config.Admin, tokens *admin.TokenStore) admin.AuthOptions {
	role, _ := admin.ParseRole(ac.TokenRole) // validated by config.Load
	o := admin.AuthOptions{
		ConfigTokenHashes: cfg.AdminTokenHashes,
		ConfigTokenRole:   role,
		BreakGlass:        admin.BreakGlassSource(ac.BreakGlassToken, ac.BreakGlassTokenFile),
		Tokens:            tokens,
		SessionSecret:     []byte(ac.SessionSecret),
		SessionTTL:        ac.SessionTTL,
	}
	if oc := ac.OIDC; oc.Issuer != "" {
		o.OIDC = &admin.OIDCOptions{Issuer: oc.Issuer, ClientID: oc.ClientID, ClientSecret: oc.ClientSecret,
			RedirectURL: oc.RedirectURL, Scopes: oc.Scopes, RolesClaim: oc.RolesClaim, RolePrefix: oc.RolePrefix}
	}
	return o
}

// adminSection returns the configuration's admin section. config.Config
// gains its Admin field through the lead (see internal/config/admin.go);
// until it has one, the defaults apply.
func adminSection(cfg *config.Config) config.Admin {
	if f := reflect.ValueOf(cfg).Elem().FieldByName("Admin"); f.IsValid() {
		if a, ok := f.Interface().(config.Admin); ok {
			return a
		}
	}
	return config.DefaultAdmin()
}
