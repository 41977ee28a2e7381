package flags

import (
	"context"
	"sync"
	"sync/atomic"

	of "github.com/open-feature/go-sdk/openfeature"
)

// ProviderName is the provider's OpenFeature metadata name.
const ProviderName = "strangler"

// Provider is the OpenFeature provider of route modes. It evaluates from an
// in-memory snapshot only; a Syncer (database) or FileSource feeds it, and it
// tells the SDK of every change with a configuration-changed event.
//
// Flags evaluate as objects {"mode": "canary", "percent": 20} or, as
// strings, to their mode.
type Provider struct {
	snap   atomic.Pointer[Snapshot]
	events chan of.Event

	mu      sync.Mutex
	applied func(*Snapshot) // test hook and heartbeat trigger
}

var (
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.EventHandler    = (*Provider)(nil)
)

// NewProvider makes a provider holding an empty snapshot.
func NewProvider() *Provider {
	p := &Provider{events: make(chan of.Event, 64)}
	p.snap.Store(&Snapshot{Flags: map[string]Flag{}})
	return p
}

// Snapshot returns the flags the provider evaluates from.
func (p *Provider) Snapshot() *Snapshot { return p.snap.Load() }

// Set replaces the snapshot and emits a change event naming the flags that
// changed.
func (p *Provider) Set(s *Snapshot) {
	p.mu.Lock()
	old := p.snap.Swap(s)
	hook := p.applied
	p.mu.Unlock()
	keys := changed(old, s)
	if len(keys) > 0 || old.Version != s.Version {
		p.emit(of.ProviderConfigChange, keys)
	}
	if hook != nil {
		hook(s)
	}
}

// OnApplied registers a function called after each Set (heartbeats).
func (p *Provider) OnApplied(f func(*Snapshot)) {
	p.mu.Lock()
	p.applied = f
	p.mu.Unlock()
}

func (p *Provider) emit(t of.EventType, keys []string) {
	ev := of.Event{ProviderName: ProviderName, EventType: t,
		ProviderEventDetails: of.ProviderEventDetails{FlagChanges: keys}}
	select {
	case p.events <- ev:
	default:
		// The SDK drains events; a full channel means a burst, and the
		// listeners re-read the whole snapshot anyway.
	}
}

// Metadata implements of.FeatureProvider.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: ProviderName} }

// Hooks implements of.FeatureProvider.
func (p *Provider) Hooks() []of.Hook { return nil }

// EventChannel implements of.EventHandler.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

func (p *Provider) lookup(key string) (Flag, of.ProviderResolutionDetail) {
	f, ok := p.snap.Load().Get(key)
	if !ok {
		return f, of.ProviderResolutionDetail{
			Reason:          of.DefaultReason,
			ResolutionError: of.NewFlagNotFoundResolutionError("flag " + key + " has never been set"),
		}
	}
	return f, of.ProviderResolutionDetail{Reason: of.StaticReason, Variant: f.Mode,
		FlagMetadata: of.FlagMetadata{"version": f.Version, "percent": f.Percent}}
}

// StringEvaluation returns the flag's mode.
func (p *Provider) StringEvaluation(_ context.Context, key string, def string, _ of.FlattenedContext) of.StringResolutionDetail {
	f, d := p.lookup(key)
	if d.ResolutionError != (of.ResolutionError{}) {
		return of.StringResolutionDetail{Value: def, ProviderResolutionDetail: d}
	}
	return of.StringResolutionDetail{Value: f.Mode, ProviderResolutionDetail: d}
}

// ObjectEvaluation returns {"mode":..., "percent":...}.
func (p *Provider) ObjectEvaluation(_ context.Context, key string, def any, _ of.FlattenedContext) of.InterfaceResolutionDetail {
	f, d := p.lookup(key)
	if d.ResolutionError != (of.ResolutionError{}) {
		return of.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: d}
	}
	return of.InterfaceResolutionDetail{Value: map[string]any{"mode": f.Mode, "percent": int64(f.Percent)}, ProviderResolutionDetail: d}
}

// IntEvaluation returns the canary percentage.
func (p *Provider) IntEvaluation(_ context.Context, key string, def int64, _ of.FlattenedContext) of.IntResolutionDetail {
	f, d := p.lookup(key)
	if d.ResolutionError != (of.ResolutionError{}) {
		return of.IntResolutionDetail{Value: def, ProviderResolutionDetail: d}
	}
	return of.IntResolutionDetail{Value: int64(f.Percent), ProviderResolutionDetail: d}
}

// BooleanEvaluation is true when the flag sends traffic to the new side.
func (p *Provider) BooleanEvaluation(_ context.Context, key string, def bool, _ of.FlattenedContext) of.BoolResolutionDetail {
	f, d := p.lookup(key)
	if d.ResolutionError != (of.ResolutionError{}) {
		return of.BoolResolutionDetail{Value: def, ProviderResolutionDetail: d}
	}
	return of.BoolResolutionDetail{Value: f.Mode != "legacy", ProviderResolutionDetail: d}
}

// FloatEvaluation is not used by route flags.
func (p *Provider) FloatEvaluation(_ context.Context, key string, def float64, _ of.FlattenedContext) of.FloatResolutionDetail {
	return of.FloatResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{
		Reason: of.ErrorReason, ResolutionError: of.NewTypeMismatchResolutionError("route flags are not numbers")}}
}
