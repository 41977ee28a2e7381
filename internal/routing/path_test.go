package routing

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/", "/"},
		{"", "/"},
		{"/api/migrate", "/api/migrate"},
		{"/api/migrate/", "/api/migrate"},
		{"//api/migrate", "/api/migrate"},
		{"/api//migrate", "/api/migrate"},
		{"/api/%6Digrate", "/api/migrate"},
		{"/api/%6digrate", "/api/migrate"},
		{"/%61pi/migrate", "/api/migrate"},
		{"/api%2Fmigrate", "/api/migrate"},
		{"/api%2fmigrate", "/api/migrate"},
		{"/api/%252Fmigrate", "/api/migrate"},
		{"/api/mig%2572ate", "/api/migrate"},
		{"/api/./migrate", "/api/migrate"},
		{"/api/x/../migrate", "/api/migrate"},
		{"/api/x/%2e%2e/migrate", "/api/migrate"},
		{"/api/x/%2E%2E/migrate", "/api/migrate"},
		{"/api/x/.%2e/migrate", "/api/migrate"},
		{"/../../api/migrate", "/api/migrate"},
		{"/api\\migrate", "/api/migrate"},
		{"/api%5Cmigrate", "/api/migrate"},
		{"/API/Migrate", "/api/migrate"},
		{"/api/MIGRATE/", "/api/migrate"},
		{"/api/migrate/.", "/api/migrate"},
		{"/api/migrate/x/..", "/api/migrate"},
		{"/api/trpc/nanopore.getAll", "/api/trpc/nanopore.getall"},
		{"/a/%zz/b", "/a/%zz/b"},
		{"/a/%", "/a/%"},
	}
	for _, c := range cases {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalizeDoesNotAllocateOnCanonicalPaths(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { _ = Normalize("/api/trpc/nanopore.getall") })
	if n != 0 {
		t.Errorf("%v allocations for a canonical path", n)
	}
}

// FuzzNormalize checks the normaliser's invariants on any input: it never
// panics, is idempotent, yields a clean absolute path, and never turns a
// path that spells /api/migrate into one that does not.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/api/migrate", "//api/%6Digrate/", "/a/../b", "/%2e%2e/x", "\\x\\y", "/%25%32%46", "/\xff/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Normalize(in)
		// Decoding stops after a few rounds (a nested escape could cost
		// quadratic time), so only fully decoded results are stable.
		if !strings.Contains(out, "%") && Normalize(out) != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, Normalize(out))
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("%q -> %q is not absolute", in, out)
		}
		if len(out) > 1 && out[len(out)-1] == '/' {
			t.Fatalf("%q -> %q keeps a trailing slash", in, out)
		}
	})
}
