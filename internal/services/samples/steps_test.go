package samples

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/trpc"
)

func TestProcessingStepsWork(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	svc, _ := MustService(t, clk.Now)
	ctx := context.Background()
	sampleID := MustCreate(t, svc, baseInput())["id"].(string)

	created := streamBytes(t)(svc.CreateDefaultProcessingSteps(ctx, sampleID))
	steps := MustArray(t, created)
	var names []string
	for i, s := range steps {
		names = append(names, s["step_name"].(string))
		if s["sample_id"] != sampleID || s["step_status"] != "pending" || s["created_at"] != FormatTime(t0) {
			t.Errorf("step %d: %v", i, s)
		}
		if got := s["estimated_duration_hours"].(json.Number).String(); got != jsonInt(defaultStepHours[i]) {
			t.Errorf("step %d hours %s", i, got)
		}
	}
	if !slices.Equal(names, defaultStepNames) {
		t.Errorf("steps %v, want %v", names, defaultStepNames)
	}
	wantKeys := []string{"id", "sample_id", "step_name", "step_status", "assigned_to", "started_at",
		"completed_at", "estimated_duration_hours", "notes", "results_data", "created_at", "updated_at"}
	if got := keysOf(t, mustFirst(t, created)); !slices.Equal(got, wantKeys) {
		t.Errorf("step keys %v, want %v", got, wantKeys)
	}
	listed := streamBytes(t)(svc.GetProcessingSteps(ctx, sampleID))
	if string(listed) != string(created) {
		t.Errorf("getProcessingSteps\n%s\nwant the created steps in order\n%s", listed, created)
	}
	checkStepLifecycle(t, svc, clk, steps[1]["id"].(string))
}

// checkStepLifecycle starts, updates and completes a step.
func checkStepLifecycle(t *testing.T, svc *Service, clk *testClock, stepID string) {
	t.Helper()
	ctx := context.Background()
	clk.Set(t0.Add(time.Minute))
	b, err := svc.AppendStartProcessingStep(ctx, nil, StartStepInput{StepID: stepID, AssignedTo: "Grey"})
	if err != nil {
		t.Fatal(err)
	}
	if s := MustObject(t, b); s["step_status"] != "in_progress" || s["started_at"] != FormatTime(t0.Add(time.Minute)) || s["assigned_to"] != "Grey" {
		t.Errorf("start: %s", b)
	}
	b, err = svc.AppendUpdateProcessingStep(ctx, nil, UpdateStepInput{StepID: stepID, Updates: StepUpdates{
		Notes: ptr("half way"), EstimatedDurationHours: ptr(6.0), ResultsData: []byte(`{"b": 1.50, "a": [1, "x"]}`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := MustObject(t, b)
	if s["notes"] != "half way" || s["estimated_duration_hours"] != json.Number("6") || s["assigned_to"] != "Grey" {
		t.Errorf("update: %s", b)
	}
	if raw, _ := json.Marshal(s["results_data"]); string(raw) != `{"a":[1,"x"],"b":1.5}` {
		t.Errorf("results_data %s", raw)
	}
	clk.Set(t0.Add(2 * time.Minute))
	b, err = svc.AppendCompleteProcessingStep(ctx, nil, CompleteStepInput{StepID: stepID, ResultsData: []byte(`0`)})
	if err != nil {
		t.Fatal(err)
	}
	s = MustObject(t, b)
	if s["step_status"] != "completed" || s["completed_at"] != FormatTime(t0.Add(2*time.Minute)) || s["notes"] != nil || s["results_data"] != nil {
		t.Errorf("complete with falsy notes and results clears them: %s", b)
	}
}

func TestProcessingStepErrors(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	missing := "00000000-0000-4000-8000-000000000000"
	if got := streamBytes(t)(svc.GetProcessingSteps(ctx, missing)); string(got) != "[]" {
		t.Errorf("steps of an unknown sample = %s, want []", got)
	}
	_, err := svc.CreateDefaultProcessingSteps(ctx, missing)
	wantError(t, err, trpc.InternalServerError, "Sample not found")
	_, err = svc.AppendStartProcessingStep(ctx, nil, StartStepInput{StepID: missing})
	wantError(t, err, trpc.InternalServerError, "Step not found")
	_, err = svc.AppendCompleteProcessingStep(ctx, nil, CompleteStepInput{StepID: missing})
	wantError(t, err, trpc.InternalServerError, "Step not found")
	_, err = svc.AppendUpdateProcessingStep(ctx, nil, UpdateStepInput{StepID: missing})
	wantError(t, err, trpc.InternalServerError, "Step not found")

	sampleID := MustCreate(t, svc, baseInput())["id"].(string)
	steps := MustArray(t, streamBytes(t)(svc.CreateDefaultProcessingSteps(ctx, sampleID)))
	_, err = svc.AppendUpdateProcessingStep(ctx, nil, UpdateStepInput{StepID: steps[0]["id"].(string),
		Updates: StepUpdates{EstimatedDurationHours: ptr(1.5)}})
	wantError(t, err, trpc.BadRequest, "Invalid input format")
	again := MustArray(t, streamBytes(t)(svc.CreateDefaultProcessingSteps(ctx, sampleID)))
	all := MustArray(t, streamBytes(t)(svc.GetProcessingSteps(ctx, sampleID)))
	if len(again) != 8 || len(all) != 16 {
		t.Errorf("a second call inserts 8 more: got %d, total %d", len(again), len(all))
	}
}

func TestFalsyJSON(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "null": true, "false": true, `""`: true, "0": true, "-0": true, "0.0": true, " 0e5 ": true,
		"1": false, `"0"`: false, "[]": false, "{}": false, "true": false, "-1": false,
	} {
		raw := []byte(in)
		if in == "" {
			raw = nil
		}
		if got := falsyJSON(raw); got != want {
			t.Errorf("falsyJSON(%q) = %v, want %v", in, got, want)
		}
	}
}

func jsonInt(n int32) string { return formatJSNumber(float64(n)) }

// mustFirst returns the first element of a JSON array.
func mustFirst(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || len(a) == 0 {
		tb.Fatalf("not a non-empty array: %s", b)
	}
	return a[0]
}
