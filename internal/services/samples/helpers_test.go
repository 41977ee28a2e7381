package samples

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/trpc"
)

// testClock is an app clock the test sets.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// baseInput is a valid create input as zod hands it over.
func baseInput() CreateInput {
	return CreateInput{
		SampleName:     "Sample A",
		SubmitterName:  "Jo Smith",
		SubmitterEmail: "jo@lab.org",
		SampleType:     "DNA",
		ChartField:     "HTSF-001",
		FlowCellCount:  1,
		Priority:       "normal",
	}
}

// MustCreate creates a sample and returns its decoded object.
func MustCreate(tb testing.TB, svc *Service, in CreateInput) map[string]any {
	tb.Helper()
	b, err := svc.AppendCreate(context.Background(), nil, in)
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	return MustObject(tb, b)
}

// MustObject decodes a JSON object, keeping numbers as json.Number.
func MustObject(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// MustArray decodes a JSON array of objects.
func MustArray(tb testing.TB, b []byte) []map[string]any {
	tb.Helper()
	var a []map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&a); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return a
}

// keysOf returns the keys of a JSON object in the order they appear.
func keysOf(tb testing.TB, b []byte) []string {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		tb.Fatalf("not an object: %s", b)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

// streamBytes returns a function writing an opened Stream into memory:
// streamBytes(t)(svc.GetAll(ctx)).
func streamBytes(tb testing.TB) func(*Stream, error) []byte {
	return func(st *Stream, err error) []byte {
		tb.Helper()
		if err != nil {
			tb.Fatalf("open stream: %v", err)
		}
		var buf bytes.Buffer
		if err := st.WriteData(&buf); err != nil {
			tb.Fatalf("write stream: %v", err)
		}
		return buf.Bytes()
	}
}

// wantError checks an error's tRPC code and message.
func wantError(tb testing.TB, err error, code trpc.Code, msg string) {
	tb.Helper()
	var e *trpc.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error = %v (%T), want *trpc.Error %s %q", err, err, code, msg)
	}
	if e.Code != code || e.Message != msg {
		tb.Fatalf("error = %s %q, want %s %q", e.Code, e.Message, code, msg)
	}
}

func ptr[T any](v T) *T { return &v }

// upperID is an id as a client may send it: PostgreSQL accepts upper case.
func upperID(id any) string { return strings.ToUpper(id.(string)) }
