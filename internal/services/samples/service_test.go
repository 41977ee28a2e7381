package samples

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/trpc"
)

// t0 is the app clock of these tests: in the past, so that the trigger's
// now() is always later than any app-clock timestamp.
var t0 = time.Date(2024, 3, 4, 5, 6, 7, 525678000, time.UTC)

func TestCreateAnswersLikeLegacy(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, newClock(t0).Now)
	in := baseInput()
	in.SubmitterEmail = " Delete.Me@select.org " // legacy would mangle and refuse it
	in.Concentration, in.Volume, in.TotalAmount = 1.23456, 3.456, 2
	b, err := svc.AppendCreate(context.Background(), nil, in)
	if err != nil {
		t.Fatal(err)
	}
	id := MustObject(t, b)["id"].(string)
	want := `{"id":"` + id + `","sample_name":"Sample A","project_id":null,"submitter_name":"Jo Smith",` +
		`"submitter_email":"Delete.Me@select.org","lab_name":null,"sample_type":"DNA","sample_buffer":null,` +
		`"concentration":"1.235","volume":"3.46","total_amount":"2.000","flow_cell_type":null,` +
		`"flow_cell_count":1,"status":"submitted","priority":"normal","assigned_to":null,"library_prep_by":null,` +
		`"submitted_at":"2024-03-04T05:06:07.525Z","started_at":null,"completed_at":null,` +
		`"created_at":"2024-03-04T05:06:07.525Z","updated_at":"2024-03-04T05:06:07.525Z",` +
		`"created_by":"550e8400-e29b-41d4-a716-446655440000","chart_field":"HTSF-001"}`
	if string(b) != want {
		t.Errorf("create answered\n%s\nwant\n%s", b, want)
	}
	if len(id) != 36 || id[14] != '4' || id != strings.ToLower(id) {
		t.Errorf("id %q is not a lower-case v4 uuid", id)
	}
	// Stored at millisecond precision, like a JS Date.
	var micros int64
	err = pool.QueryRow(context.Background(),
		`SELECT extract(microseconds FROM submitted_at)::bigint FROM samples.nanopore_samples WHERE id = $1`, id).Scan(&micros)
	if err != nil || micros != 7525000 {
		t.Errorf("submitted_at seconds+micros = %d, %v; want 7525000", micros, err)
	}
}

func TestCreateDecimalsRoundLikePostgreSQL(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	tests := []struct {
		name                string
		conc, vol, total    float64
		wantC, wantV, wantT any
	}{
		{"contract examples", 1.23456, 3.456, 2, "1.235", "3.46", "2.000"},
		{"fixed scale", 12.5, 20, 250, "12.500", "20.00", "250.000"},
		{"half away from zero on the decimal text, not the float", 1.0005, 2.675, 0.0015, "1.001", "2.68", "0.002"},
		{"falsy is null", 0, 0, 0, nil, nil, nil},
		{"bounds", 10000, 1000, 100000, "10000.000", "1000.00", "100000.000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			in.Concentration, in.Volume, in.TotalAmount = tt.conc, tt.vol, tt.total
			got := MustCreate(t, svc, in)
			if got["concentration"] != tt.wantC || got["volume"] != tt.wantV || got["total_amount"] != tt.wantT {
				t.Errorf("got %v %v %v, want %v %v %v", got["concentration"], got["volume"], got["total_amount"],
					tt.wantC, tt.wantV, tt.wantT)
			}
		})
	}
}

func TestCreateStoredValues(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	in := baseInput()
	in.ProjectID, in.LabName, in.SampleBuffer = "", "", ""
	in.FlowCellCount, in.Priority = 0, ""
	got := MustCreate(t, svc, in)
	for _, k := range []string{"project_id", "lab_name", "sample_buffer", "flow_cell_type", "assigned_to", "library_prep_by"} {
		if got[k] != nil {
			t.Errorf("%s = %v, want null", k, got[k])
		}
	}
	if got["flow_cell_count"].(interface{ String() string }).String() != "1" || got["priority"] != "normal" || got["status"] != "submitted" {
		t.Errorf("defaults: count %v priority %v status %v", got["flow_cell_count"], got["priority"], got["status"])
	}
	in = baseInput()
	in.ProjectID, in.LabName, in.SampleBuffer, in.FlowCellType = "P-1", "Lab, O'Neil", "TE", "R10.4.1"
	in.FlowCellCount, in.Priority, in.AssignedTo, in.LibraryPrepBy = 3, "urgent", "Grey", "Jenny"
	got = MustCreate(t, svc, in)
	want := map[string]any{"project_id": "P-1", "lab_name": "Lab, O'Neil", "sample_buffer": "TE",
		"flow_cell_type": "R10.4.1", "priority": "urgent", "assigned_to": "Grey", "library_prep_by": "Jenny"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestCreateServiceRecheck(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, nil)
	tests := []struct {
		name   string
		change func(*CreateInput)
		msg    string
	}{
		{"name of spaces trimmed to empty", func(in *CreateInput) { in.SampleName = "" },
			"Validation failed: Sample name is required"},
		{"several problems joined", func(in *CreateInput) { in.SubmitterName = ""; in.SubmitterEmail = "no-at-sign" },
			"Validation failed: Submitter name is required, Invalid email format"},
		{"email without a dot", func(in *CreateInput) { in.SubmitterEmail = "jo@lab" },
			"Validation failed: Invalid email format"},
		{"missing chart field", func(in *CreateInput) { in.ChartField = " " },
			"Validation failed: Chart field is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			tt.change(&in)
			_, err := svc.AppendCreate(context.Background(), nil, in)
			wantError(t, err, trpc.BadRequest, tt.msg)
		})
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM samples.nanopore_samples`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused creates left %d rows (%v)", n, err)
	}
}

func TestCreateDatabaseErrors(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	in := baseInput()
	in.SubmitterEmail = strings.Repeat("a", 250) + "@lab.org" // zod sets no maximum, the column does
	_, err := svc.AppendCreate(context.Background(), nil, in)
	wantError(t, err, trpc.BadRequest, "Input value is too long")
}

func TestSampleKeysInColumnOrder(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	b, err := svc.AppendCreate(context.Background(), nil, baseInput())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "sample_name", "project_id", "submitter_name", "submitter_email", "lab_name",
		"sample_type", "sample_buffer", "concentration", "volume", "total_amount", "flow_cell_type",
		"flow_cell_count", "status", "priority", "assigned_to", "library_prep_by", "submitted_at",
		"started_at", "completed_at", "created_at", "updated_at", "created_by", "chart_field"}
	if got := keysOf(t, b); !slices.Equal(got, want) {
		t.Errorf("keys %v\nwant %v", got, want)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	if err := svc.Health(context.Background()); err != nil {
		t.Errorf("health on a migrated database: %v", err)
	}
	bare := MustTestDB(t, false)
	unmigrated, err := New(Options{Pool: bare})
	if err != nil {
		t.Fatal(err)
	}
	if err := unmigrated.Health(context.Background()); err == nil {
		t.Error("health without the samples schema should fail")
	}
}

func TestMissingSchemaNeverFallsThrough(t *testing.T) {
	t.Parallel()
	pool := MustTestDB(t, false)
	ctx := context.Background()
	// A legacy-like table in public must not be used by mistake.
	if _, err := pool.Exec(ctx, `CREATE TABLE public.nanopore_samples (id uuid)`); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.GetAll(ctx)
	wantError(t, err, trpc.InternalServerError, `relation "samples.nanopore_samples" does not exist`)
	_, err = svc.AppendCreate(ctx, nil, baseInput())
	wantError(t, err, trpc.InternalServerError, `relation "samples.nanopore_samples" does not exist`)
}

func TestNewRequiresPool(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a pool should fail")
	}
}
