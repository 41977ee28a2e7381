package main

import (
	"context"
	"time"

	"github.com/nanopore/strangler/internal/admin"
	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/shadow"
)

// openAdmin builds the admin listener's handler: health, readiness,
// metrics, the admin API with its access control, and the console.
func (m *Main) openAdmin() {
	ac := m.Config.Admin
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
		// The guard follows the setting made through the API: at start, and
		// then every few seconds, so that a change made through another
		// replica reaches this one.
		m.guardView = opts.Guard.(*admin.GuardView)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.guardView.Apply(ctx)
		cancel()
	}
	opts.Auth = admin.NewAuth(authOptions(m.Config, ac, tokens))
	if m.shadow != nil {
		// A difference declared in the console counts as accepted at once.
		opts.AcceptedChanged = func() { _ = m.shadow.ReloadDeclared(context.Background()) }
	}
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

// followGuardSetting re-applies the guard's run-time setting (on or off,
// changed through any replica's admin API) until ctx ends.
func (m *Main) followGuardSetting(ctx context.Context) {
	if m.guardView == nil {
		return
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			m.guardView.Apply(actx)
			cancel()
		}
	}
}
