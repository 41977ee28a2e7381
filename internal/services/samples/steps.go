package samples

import (
	"bytes"
	"context"

	"github.com/nanopore/strangler/internal/validate"
)

// The processing-step procedures are broken in legacy (every call answers
// 500 `timer.done is not a function`, contract 4.8). The service implements
// what that code intended instead, a declared fix, and words its errors after
// the sample procedures:
//   - getProcessingSteps of an unknown sample: [] (a filter, not a lookup);
//   - createDefaultProcessingSteps of an unknown sample: 500 `Sample not found`;
//   - update/start/complete of an unknown step: 500 `Step not found`;
//   - a value the database refuses maps like every other (contract 6), for
//     example estimatedDurationHours 1.5: 400 `Invalid input format`.

// GetProcessingSteps opens a Stream of a sample's steps in created_at order.
func (s *Service) GetProcessingSteps(ctx context.Context, sampleID string) (*Stream, error) {
	return s.openStream(ctx, stepColumns, sqlGetSteps, sampleID)
}

// CreateDefaultProcessingSteps inserts the eight default steps of contract
// 3.6 for a sample, in one transaction, and opens a Stream of them. Calling
// it twice inserts sixteen, as legacy's code would: it does not de-duplicate.
func (s *Service) CreateDefaultProcessingSteps(ctx context.Context, sampleID string) (*Stream, error) {
	st, err := s.openStream(ctx, stepColumns, sqlCreateSteps, sampleID, s.clock(), defaultStepNames, defaultStepHours, outbox(ctx))
	if err != nil {
		return nil, err
	}
	if st.rows == nil {
		return nil, internal(msgSampleNotFound)
	}
	return st, nil
}

// stepChange says which step columns one statement writes.
type stepChange struct {
	status      any // nil: keep
	started     any // nil: keep
	completed   any // nil: keep
	setAssigned bool
	assigned    any
	setNotes    bool
	notes       any
	setHours    bool
	hours       any
	setResults  bool
	results     any
}

// appendStep applies c to a step and appends the updated step object.
func (s *Service) appendStep(ctx context.Context, buf []byte, stepID string, c stepChange) ([]byte, error) {
	return s.appendOne(ctx, buf, stepColumns, msgStepNotFound, sqlUpdateStep, stepID,
		c.status, c.started, c.completed, c.setAssigned, c.assigned, c.setNotes, c.notes,
		c.setHours, c.hours, c.setResults, c.results, outbox(ctx))
}

// AppendUpdateProcessingStep writes the given fields of a step.
func (s *Service) AppendUpdateProcessingStep(ctx context.Context, buf []byte, in UpdateStepInput) ([]byte, error) {
	u := in.Updates
	c := stepChange{
		setAssigned: u.AssignedTo != nil, assigned: u.AssignedTo,
		setNotes: u.Notes != nil, notes: u.Notes,
		setHours:   u.EstimatedDurationHours != nil,
		setResults: u.ResultsData != nil, results: jsonArg(u.ResultsData),
	}
	if u.EstimatedDurationHours != nil {
		// As a JS app would send it: PostgreSQL refuses "1.5" for an integer.
		c.hours = formatJSNumber(*u.EstimatedDurationHours)
	}
	return s.appendStep(ctx, buf, in.StepID, c)
}

// AppendStartProcessingStep sets a step in_progress, started now, assigned
// to the given person or nobody.
func (s *Service) AppendStartProcessingStep(ctx context.Context, buf []byte, in StartStepInput) ([]byte, error) {
	return s.appendStep(ctx, buf, in.StepID, stepChange{
		status: "in_progress", started: s.clock(),
		setAssigned: true, assigned: nullString(in.AssignedTo),
	})
}

// AppendCompleteProcessingStep sets a step completed, completed now, with
// the given notes and results or none.
func (s *Service) AppendCompleteProcessingStep(ctx context.Context, buf []byte, in CompleteStepInput) ([]byte, error) {
	var results any
	if !falsyJSON(in.ResultsData) {
		results = string(in.ResultsData)
	}
	return s.appendStep(ctx, buf, in.StepID, stepChange{
		status: "completed", completed: s.clock(),
		setNotes: true, notes: nullString(in.Notes),
		setResults: true, results: results,
	})
}

// jsonArg is raw JSON as a jsonb parameter; the literal null is SQL NULL, as
// node-postgres sends a JS null.
func jsonArg(raw []byte) any {
	if raw == nil || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return string(raw)
}

// falsyJSON reports a raw JSON value that JS treats as false: absent, null,
// false, 0 (-0 too) or "".
func falsyJSON(raw []byte) bool {
	if raw == nil {
		return true
	}
	v, err := validate.ParseJSON(raw)
	if err != nil {
		return false
	}
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	}
	return false
}
