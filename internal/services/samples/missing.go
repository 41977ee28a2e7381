package samples

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/trpc"
)

// MissingFunc is told that a primary write names a sample this store does
// not hold, and reports whether the sample is there now. The proxy installs
// one while the dual writes run (dualwrite.Writer.Rescue): right after a
// write group flips to new, a sample legacy created an instant before may
// not have been converged here yet; the hook copies it from legacy (only
// when legacy has it and no relay row of it is pending) so that the write
// finds it instead of answering "Sample not found".
type MissingFunc func(ctx context.Context, sampleID string) bool

// SetMissing installs (or, with nil, removes) the missing-sample hook.
func (s *Service) SetMissing(f MissingFunc) {
	if f == nil {
		s.missing.Store(nil)
		return
	}
	s.missing.Store(&f)
}

// missingHook holds the MissingFunc.
type missingHook = atomic.Pointer[MissingFunc]

// sampleIDOf returns the sample a write names, for the mutations that
// answer "not found" for a missing sample.
var sampleIDOf = map[string]func(trpc.Input) string{
	"nanopore.update":                       func(in trpc.Input) string { return str(in.Object(), "id") },
	"nanopore.assign":                       func(in trpc.Input) string { return str(in.Object(), "id") },
	"nanopore.updateStatus":                 func(in trpc.Input) string { return str(in.Object(), "id") },
	"nanopore.delete":                       func(in trpc.Input) string { return in.String() },
	"nanopore.createDefaultProcessingSteps": func(in trpc.Input) string { return in.String() },
}

// rescued runs a primary write once more when it found no sample and the
// missing-sample hook brought it. A write that found nothing wrote nothing,
// so running it again never applies it twice.
func (s *Service) rescued(idOf func(trpc.Input) string, h trpc.Handler) trpc.Handler {
	return func(ctx context.Context, in trpc.Input) (any, error) {
		out, err := h(ctx, in)
		if err == nil || !sampleMissing(err) {
			return out, err
		}
		f := s.missing.Load()
		if _, secondary := dualwrite.SecondaryFrom(ctx); f == nil || secondary || !(*f)(ctx, idOf(in)) {
			return out, err
		}
		return h(ctx, in)
	}
}

// sampleMissing reports the errors of a write whose sample does not exist.
func sampleMissing(err error) bool {
	var e *trpc.Error
	return errors.As(err, &e) && (e.Message == msgSampleNotFound || e.Code == trpc.NotFound)
}
