package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
)

// TestE2ETRPCScenarioTranscriptsAreIdentical runs the real @trpc/client
// scenario (httpLink and httpBatchLink) once straight against a stand-in and
// once through the proxy in front of another stand-in, each on a fresh
// database: the transcripts must be byte-identical, and both stand-ins must
// have received the same requests.
func TestE2ETRPCScenarioTranscriptsAreIdentical(t *testing.T) {
	t.Parallel()
	direct := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), RequestLog: true})
	behind := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), RequestLog: true})
	proxy := startProxy(t, behind.URL)

	want := runScenario(t, direct.URL)
	got := runScenario(t, proxy.URL)
	if !bytes.Contains(want, []byte(`"<id:1>"`)) || !bytes.Contains(want, []byte(`"httpBatchLink"`)) {
		t.Fatalf("the direct transcript does not look like the scenario's:\n%.2000s", want)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("transcripts differ: %s", firstDifference(want, got))
	}
	wantReqs, gotReqs := trpcRequests(t, direct), trpcRequests(t, behind)
	if len(wantReqs) == 0 || !slices.Equal(wantReqs, gotReqs) {
		t.Errorf("legacy received different tRPC requests through the proxy:\ndirect:  %q\nproxied: %q", wantReqs, gotReqs)
	}
}

// runScenario runs testbed/e2e/trpc-scenario.mjs against base and returns
// its transcript.
func runScenario(t *testing.T, base string) []byte {
	t.Helper()
	root := testutil.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "testbed", "e2e", "node_modules", "@trpc", "client")); err != nil {
		t.Fatalf("the tRPC client is not installed (run `make deps`): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "testbed", "e2e", "trpc-scenario.mjs"), "--url", base)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scenario against %s: %v\nstderr:\n%s\nstdout:\n%.2000s", base, err, stderr.String(), stdout.String())
	}
	return stdout.Bytes()
}

// trpcRequests lists the tRPC requests a stand-in received, sample ids
// masked and sorted: calls of one step may travel concurrently, so only the
// multiset is stable.
func trpcRequests(t *testing.T, s *testutil.Standin) []string {
	t.Helper()
	var out []string
	for _, r := range s.Requests(t) {
		if strings.HasPrefix(r.URL, "/api/trpc") {
			u := uuidPattern.ReplaceAllString(r.URL, "<uuid>")
			out = append(out, r.Method+" "+u+" "+r.Header("content-type"))
		}
	}
	slices.Sort(out)
	return out
}

// firstDifference describes where two texts first differ, by line.
func firstDifference(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			from := max(0, i-5)
			return "line " + strconv.Itoa(i+1) + ":\n--- direct\n" + strings.Join(al[from:min(len(al), i+3)], "\n") +
				"\n--- through the proxy\n" + strings.Join(bl[from:min(len(bl), i+3)], "\n")
		}
	}
	return "no line differs (line endings?)"
}
