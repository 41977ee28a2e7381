package dualwrite

import "context"

// Secondary marks a call the proxy makes to an in-process service to replay
// a write legacy has already answered (the internal channel). It travels as
// a context value, so no request from the public listener can carry it: an
// HTTP request has no way to set a Go context value, and the listener drops
// every X-Strangler-* header anyway.
type Secondary struct {
	// CreateID is the key legacy gave the row a create call made; the
	// service must use it instead of a fresh one.
	CreateID string
	// RequestID is the client request the write belongs to (for logs).
	RequestID string
}

type secondaryKey struct{}

// WithSecondary returns ctx marked as a secondary execution.
func WithSecondary(ctx context.Context, s Secondary) context.Context {
	return context.WithValue(ctx, secondaryKey{}, s)
}

// SecondaryFrom reports whether ctx is a secondary execution. A service
// answers it as it would a primary call, using CreateID for a create, but
// keeps nothing: it writes no outbox row and rolls its transaction back
// (the converge writes legacy's rows instead).
func SecondaryFrom(ctx context.Context) (Secondary, bool) {
	s, ok := ctx.Value(secondaryKey{}).(Secondary)
	return s, ok
}
