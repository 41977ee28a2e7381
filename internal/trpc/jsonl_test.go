package trpc_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/trpc"
)

// getBody GETs url (with trpc-accept when accept is set) and returns the
// status and body.
func getBody(t *testing.T, url, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Trpc-Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestJSONLCarriesTheBatchEnvelopes: decoded, the JSONL answer holds the
// envelopes of the plain batch answer (errors apart: tRPC 11.4.3 labels
// them with the first call's path), a streamed output included, and the
// status is 200 whatever the calls gave.
func TestJSONLCarriesTheBatchEnvelopes(t *testing.T) {
	srv := guardRouter(t)
	target := srv.URL + "/api/trpc/big,health,nope?batch=1"
	status, plain := getBody(t, target, "")
	streamStatus, stream := getBody(t, target, "application/jsonl")
	if status != 207 || streamStatus != 200 {
		t.Fatalf("status %d plain, %d streamed", status, streamStatus)
	}
	want, err := trpc.ParseBatch([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	got, err := trpc.ParseJSONL([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	wantErr := strings.Replace(string(want[2].Raw), `"path":"nope"`, `"path":"big"`, 1)
	if len(got) != 3 || string(got[0].Raw) != string(want[0].Raw) || string(got[1].Raw) != string(want[1].Raw) ||
		string(got[2].Raw) != wantErr || got[2].Status != 404 {
		t.Fatalf("decoded %d entries; third: %s", len(got), got[min(2, len(got)-1)].Raw)
	}
	lines := strings.Split(stream, "\n")
	if len(lines) != 9 || lines[0] != `{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]],"2":[[0],[null,0,2]]}` ||
		!strings.HasPrefix(lines[6], `[5,0,[[[{"i":0},`) || !strings.HasSuffix(lines[6], `{"i":99999}]]]]`) ||
		lines[7] != `[6,0,[[{"status":"ok"}]]]` || lines[8] != "" {
		t.Fatalf("%d lines: %.300q", len(lines), lines)
	}
}

func TestParseJSONLTakesLinesInAnyOrder(t *testing.T) {
	body := `{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}
[3,0,[[{"data":0}],["data",0,5]]]
[1,0,[[{"result":0}],["result",0,3]]]
 [5,0,[[]]]
[0,0,[[{"result":0}],["result",0,2]]]
[4,0,[[{"a":[1,"x"],"b":null}]]]
[2,0,[[{"data":0}],["data",0,4]]]
`
	got, err := trpc.ParseJSONL([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	raws := []string{string(got[0].Raw), string(got[1].Raw)}
	if !slices.Equal(raws, []string{`{"result":{"data":{"a":[1,"x"],"b":null}}}`, `{"result":{}}`}) {
		t.Fatalf("got %q", raws)
	}
}

func TestParseJSONLRefusesOtherBodies(t *testing.T) {
	for _, body := range []string{
		``,
		`[{"result":{"data":1}}]`,
		"{\"0\":[[0],[null,0,0]]}\n", // the promise never settles
		"{\"0\":[[0],[null,0,0]]}\n[0,1,[[{\"message\":\"x\"}]]]\n",      // a rejected promise
		"{\"0\":[[0],[null,1,0]]}\n[0,1,[[1]]]\n",                        // an async iterable
		"{\"0\":[[0],[null,0,0]]}\n[0,0,[[1],[\"k\",0,0]]]\n",            // a key on a non-object
		"{\"0\":[[0],[null,0,0]]}\n[0,0,[[{}],[\"k\",0,0]]]\n",           // a cycle
		"{\"0\":[[0],[null,0,0]],\"1\":[[0],[null,0,0]]}\n[0,0,[[1]]]\n", // one promise used twice
		"{\"0\":[[0],[null,0,0]]}\nnot json\n",
	} {
		if _, err := trpc.ParseJSONL([]byte(body)); !errors.Is(err, trpc.ErrNotJSONL) {
			t.Errorf("%q: err %v", body, err)
		}
	}
}

// FuzzParseJSONL: any body either decodes to envelopes that are JSON
// objects or is refused with ErrNotJSONL; nothing panics or loops.
func FuzzParseJSONL(f *testing.F) {
	f.Add("{\"0\":[[0],[null,0,0]]}\n[0,0,[[{\"result\":0}],[\"result\",0,1]]]\n[1,0,[[{\"data\":0}],[\"data\",0,2]]]\n[2,0,[[[]]]]\n")
	f.Add("{\"0\":[[0],[null,0,0]]}\n[0,0,[[{\"error\":{\"message\":\"x\",\"code\":-32600,\"data\":{\"httpStatus\":400}}}]]]\n")
	f.Add("{\"0\":[[0],[null,0,0]]}\n[0,0,[[{}],[\"k\",0,0]]]\n")
	f.Fuzz(func(t *testing.T, body string) {
		entries, err := trpc.ParseJSONL([]byte(body))
		if err != nil {
			if !errors.Is(err, trpc.ErrNotJSONL) {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, e := range entries {
			if _, err := trpc.EnvelopeStatus(e.Raw); err != nil {
				t.Fatalf("entry %s: %v", e.Raw, err)
			}
		}
	})
}
