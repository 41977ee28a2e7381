package samples

import (
	"context"
	"io"

	"github.com/nanopore/strangler/internal/trpc"
)

// ProcedureInfo names one procedure the service answers and its kind, for
// the proxy's route table.
type ProcedureInfo struct {
	Name string
	Kind trpc.Kind
}

// Procedures lists every procedure of contract section 4 that Handler
// answers, in the contract's order.
func (s *Service) Procedures() []ProcedureInfo {
	out := make([]ProcedureInfo, len(s.procs))
	for i, p := range s.procs {
		out[i] = ProcedureInfo{Name: p.Name, Kind: p.Kind}
	}
	return out
}

// declare returns the procedure declarations with their input schemas
// (schemas.go) and handlers.
func (s *Service) declare() []trpc.Procedure {
	q := func(name string, h trpc.Handler) trpc.Procedure {
		return trpc.Procedure{Name: name, Kind: trpc.Query, Input: Schemas[name], Handler: h}
	}
	m := func(name string, h trpc.Handler) trpc.Procedure {
		return trpc.Procedure{Name: name, Kind: trpc.Mutation, Input: Schemas[name], Handler: h}
	}
	return []trpc.Procedure{
		q("health", s.health),
		q("nanopore.getAll", func(ctx context.Context, _ trpc.Input) (any, error) { return s.GetAll(ctx) }),
		m("nanopore.create", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			return s.AppendCreate(ctx, buf, createInput(in.Object()))
		})),
		m("nanopore.update", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			return s.AppendUpdate(ctx, buf, updateInput(in.Object()))
		})),
		m("nanopore.assign", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			o := in.Object()
			return s.AppendAssign(ctx, buf, AssignInput{ID: str(o, "id"), AssignedTo: str(o, "assignedTo"), LibraryPrepBy: str(o, "libraryPrepBy")})
		})),
		m("nanopore.updateStatus", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			o := in.Object()
			return s.AppendUpdateStatus(ctx, buf, UpdateStatusInput{ID: str(o, "id"), Status: str(o, "status")})
		})),
		m("nanopore.delete", func(ctx context.Context, in trpc.Input) (any, error) {
			if err := s.Delete(ctx, in.String()); err != nil {
				return nil, err
			}
			return []byte(`{"success":true}`), nil
		}),
		q("nanopore.getProcessingSteps", func(ctx context.Context, in trpc.Input) (any, error) {
			return s.GetProcessingSteps(ctx, in.String())
		}),
		m("nanopore.createDefaultProcessingSteps", func(ctx context.Context, in trpc.Input) (any, error) {
			return s.CreateDefaultProcessingSteps(ctx, in.String())
		}),
		m("nanopore.updateProcessingStep", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			o := in.Object()
			return s.AppendUpdateProcessingStep(ctx, buf, UpdateStepInput{StepID: str(o, "stepId"), Updates: stepUpdates(o.Value("updates"))})
		})),
		m("nanopore.startProcessingStep", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			o := in.Object()
			return s.AppendStartProcessingStep(ctx, buf, StartStepInput{StepID: str(o, "stepId"), AssignedTo: str(o, "assignedTo")})
		})),
		m("nanopore.completeProcessingStep", s.appender(func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
			o := in.Object()
			return s.AppendCompleteProcessingStep(ctx, buf, CompleteStepInput{StepID: str(o, "stepId"), Notes: str(o, "notes"), ResultsData: rawJSON(o.Value("resultsData"))})
		})),
	}
}

// health answers like legacy's: ok and the app clock, never touching the
// database (Service.Health is the real check).
func (s *Service) health(context.Context, trpc.Input) (any, error) {
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"status":"ok","timestamp":"`...)
	buf = appendISOTime(buf, s.now())
	return append(buf, `"}`...), nil
}

// appendFunc appends one procedure's JSON answer to buf.
type appendFunc func(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error)

// appender adapts an appendFunc to a trpc.Handler that encodes into a pooled
// buffer and hands it to the router as StreamData, which returns the buffer
// to the pool once written.
func (s *Service) appender(f appendFunc) trpc.Handler {
	return func(ctx context.Context, in trpc.Input) (any, error) {
		bp := s.getBuf()
		buf, err := f(ctx, (*bp)[:0], in)
		*bp = buf
		if err != nil {
			s.putBuf(bp)
			return nil, err
		}
		return &pooledJSON{svc: s, buf: bp}, nil
	}
}

// pooledJSON is an encoded answer in a pooled buffer.
type pooledJSON struct {
	svc *Service
	buf *[]byte
}

func (p *pooledJSON) WriteData(w io.Writer) error {
	_, err := w.Write(*p.buf)
	p.svc.putBuf(p.buf)
	return err
}
