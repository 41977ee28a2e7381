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
// (schemas.go) and handlers, in the contract's order.
func (s *Service) declare() []trpc.Procedure {
	return []trpc.Procedure{
		procedure("health", trpc.Query, s.health),
		procedure("nanopore.getAll", trpc.Query, s.getAll),
		procedure("nanopore.create", trpc.Mutation, s.appender(s.create)),
		procedure("nanopore.update", trpc.Mutation, s.appender(s.update)),
		procedure("nanopore.assign", trpc.Mutation, s.appender(s.assign)),
		procedure("nanopore.updateStatus", trpc.Mutation, s.appender(s.updateStatus)),
		procedure("nanopore.delete", trpc.Mutation, s.delete),
		procedure("nanopore.getProcessingSteps", trpc.Query, s.getSteps),
		procedure("nanopore.createDefaultProcessingSteps", trpc.Mutation, s.createSteps),
		procedure("nanopore.updateProcessingStep", trpc.Mutation, s.appender(s.updateStep)),
		procedure("nanopore.startProcessingStep", trpc.Mutation, s.appender(s.startStep)),
		procedure("nanopore.completeProcessingStep", trpc.Mutation, s.appender(s.completeStep)),
	}
}

func procedure(name string, kind trpc.Kind, h trpc.Handler) trpc.Procedure {
	return trpc.Procedure{Name: name, Kind: kind, Input: Schemas[name], Handler: h}
}

// declareAll is declare with the mutations wrapped: a secondary execution
// is rolled back (secondary.go), a primary write of a sample not here yet
// may be rescued (missing.go).
func (s *Service) declareAll() []trpc.Procedure {
	procs := s.declare()
	for i, p := range procs {
		if idOf, ok := sampleIDOf[p.Name]; ok {
			procs[i].Handler = s.rescued(idOf, p.Handler)
		}
		if p.Kind == trpc.Mutation {
			procs[i].Handler = s.rolledBack(procs[i].Handler)
		}
	}
	return procs
}

func (s *Service) getAll(ctx context.Context, _ trpc.Input) (any, error) { return s.GetAll(ctx) }

func (s *Service) create(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	return s.AppendCreate(ctx, buf, createInput(in.Object()))
}

func (s *Service) update(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	return s.AppendUpdate(ctx, buf, updateInput(in.Object()))
}

func (s *Service) assign(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	o := in.Object()
	return s.AppendAssign(ctx, buf, AssignInput{ID: str(o, "id"), AssignedTo: str(o, "assignedTo"), LibraryPrepBy: str(o, "libraryPrepBy")})
}

func (s *Service) updateStatus(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	o := in.Object()
	return s.AppendUpdateStatus(ctx, buf, UpdateStatusInput{ID: str(o, "id"), Status: str(o, "status")})
}

func (s *Service) delete(ctx context.Context, in trpc.Input) (any, error) {
	if err := s.Delete(ctx, in.String()); err != nil {
		return nil, err
	}
	return []byte(`{"success":true}`), nil
}

func (s *Service) getSteps(ctx context.Context, in trpc.Input) (any, error) {
	return s.GetProcessingSteps(ctx, in.String())
}

func (s *Service) createSteps(ctx context.Context, in trpc.Input) (any, error) {
	return s.CreateDefaultProcessingSteps(ctx, in.String())
}

func (s *Service) updateStep(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	o := in.Object()
	return s.AppendUpdateProcessingStep(ctx, buf, UpdateStepInput{StepID: str(o, "stepId"), Updates: stepUpdates(o.Value("updates"))})
}

func (s *Service) startStep(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	o := in.Object()
	return s.AppendStartProcessingStep(ctx, buf, StartStepInput{StepID: str(o, "stepId"), AssignedTo: str(o, "assignedTo")})
}

func (s *Service) completeStep(ctx context.Context, buf []byte, in trpc.Input) ([]byte, error) {
	o := in.Object()
	return s.AppendCompleteProcessingStep(ctx, buf, CompleteStepInput{StepID: str(o, "stepId"), Notes: str(o, "notes"), ResultsData: rawJSON(o.Value("resultsData"))})
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
