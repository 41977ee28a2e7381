package samples

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/internal/validate"
)

// MustStandin starts the legacy stand-in (testbed/legacy, the real tRPC and
// zod with legacy's defects) on a database of its own, with the getAll
// snapshot disabled (the Go service's declared fix), and returns a client.
func MustStandin(tb testing.TB) *client {
	tb.Helper()
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "../../../scripts/legacy-standin.sh")
	cmd := exec.Command("bash", script, "--port", "0", "--host", "127.0.0.1",
		"--database-url", testutil.CreateDB(tb), "--getall-ttl", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the stand-in: %v", err)
	}
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "legacy stand-in listening on "); ok {
				ready <- u
			}
		}
		close(ready)
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			tb.Fatalf("the stand-in exited before listening: %v", cmd.Wait())
		}
		return &client{tb: tb, base: u, hc: &http.Client{Timeout: time.Minute}}
	case <-time.After(2 * time.Minute): // a ceiling for npm ci on a loaded machine
		tb.Fatal("the stand-in did not start")
	}
	return nil
}

// step is one request of the differential scenario; {A} and {B} stand for
// the ids of the samples the scenario created under those names.
type step struct {
	method, path, body string
	save               string // name to save the created id under
}

var missingID = "00000000-0000-4000-8000-00000000abcd"

var scenario = []step{
	{method: "GET", path: "/api/trpc/health"},
	{method: "GET", path: "/api/trpc/nanopore.getAll"},
	{method: "POST", path: "/api/trpc/nanopore.create", save: "A", body: `{"sampleName":" Sample A ","projectId":"PRJ-1",
		"submitterName":"Jo O'Neil","submitterEmail":"John.ONeil@Lab.org","labName":"Lab, Core","sampleType":"DNA",
		"sampleBuffer":"TE <b>&</b>","concentration":1.23456,"volume":3.456,"totalAmount":4.26664,"flowCellType":"R10.4.1",
		"flowCellCount":2,"priority":"high","assignedTo":"Grey","libraryPrepBy":"Jenny","chartField":"SEQ-999","extra":true}`},
	{method: "POST", path: "/api/trpc/nanopore.create", save: "B", body: `{"sampleName":"B","submitterName":"Al",
		"submitterEmail":"al@lab.org","sampleType":"RNA","sampleBuffer":"","concentration":null,"totalAmount":2,"chartField":"NANO-001"}`},
	{method: "POST", path: "/api/trpc/nanopore.create", body: `{"sampleName":"","submitterEmail":"x","sampleType":"dna",
		"concentration":"5","volume":0.01,"flowCellCount":1.5,"chartField":"HTSF-001 "}`},
	{method: "POST", path: "/api/trpc/nanopore.create", body: `{"sampleName":"   ","submitterName":"Al","submitterEmail":"al@lab.org",
		"sampleType":"DNA","chartField":"HTSF-002"}`},
	{method: "POST", path: "/api/trpc/nanopore.create", body: `{"sampleName":"Long","submitterName":"Al","submitterEmail":"` +
		strings.Repeat("a", 250) + `@lab.org","sampleType":"DNA","chartField":"HTSF-002"}`},
	{method: "GET", path: "/api/trpc/nanopore.getAll"},
	{method: "POST", path: "/api/trpc/nanopore.update", body: `{"id":"{A}","data":{}}`},
	{method: "POST", path: "/api/trpc/nanopore.update", body: `{"id":"{A}","data":{"status":"prep","volume":null,"sampleBuffer":"",
		"concentration":7,"flowCellCount":3,"chartField":"SEQ-001"}}`},
	{method: "POST", path: "/api/trpc/nanopore.update", body: `{"id":"` + missingID + `","data":{"priority":"low"}}`},
	{method: "POST", path: "/api/trpc/nanopore.update", body: `{"id":"nope","data":{"priority":"top"}}`},
	{method: "POST", path: "/api/trpc/nanopore.assign", body: `{"id":"{A}","assignedTo":"Stephanie","libraryPrepBy":"Grey"}`},
	{method: "POST", path: "/api/trpc/nanopore.assign", body: `{"id":"{A}","assignedTo":"Stephanie"}`},
	{method: "POST", path: "/api/trpc/nanopore.assign", body: `{"id":"nope","assignedTo":""}`},
	{method: "POST", path: "/api/trpc/nanopore.updateStatus", body: `{"id":"{B}","status":"completed"}`},
	{method: "POST", path: "/api/trpc/nanopore.updateStatus", body: `{"id":"{B}","status":"prep"}`},
	{method: "POST", path: "/api/trpc/nanopore.updateStatus", body: `{"id":"{A}","status":"PREP"}`},
	{method: "POST", path: "/api/trpc/nanopore.updateStatus", body: `{"id":"` + missingID + `","status":"archived"}`},
	{method: "GET", path: "/api/trpc/health,nanopore.getAll?batch=1"},
	{method: "POST", path: "/api/trpc/nanopore.updateStatus,nanopore.delete?batch=1", body: `{"0":{"id":"{A}","status":"archived"},"1":"` + missingID + `"}`},
	{method: "POST", path: "/api/trpc/nanopore.delete", body: `"{B}"`},
	{method: "POST", path: "/api/trpc/nanopore.delete", body: `"{B}"`},
	{method: "POST", path: "/api/trpc/nanopore.delete", body: `{"id":"{A}"}`},
	{method: "POST", path: "/api/trpc/nanopore.delete", body: `"00000000-0000-0000-0000-000000000000"`},
	{method: "GET", path: "/api/trpc/nanopore.getAll"},
}

// TestSameAnswersAsTheLegacyStandin runs one scenario against the stand-in
// and the Go service and requires the same status, content type and body
// for every request, once ids are mapped and timestamps reduced to their
// presence (contract 7). Declared fixes (steps, e-mail mangling, getAll
// staleness) stay out of the scenario.
func TestSameAnswersAsTheLegacyStandin(t *testing.T) {
	t.Parallel()
	legacy := MustStandin(t)
	svc, _ := MustService(t, nil)
	goSide := MustServer(t, svc)
	ids := map[string][2]string{} // name -> legacy id, Go id
	for i, st := range scenario {
		var answers [2]string
		for side, c := range []*client{legacy, goSide} {
			path, body := st.path, st.body
			for name, pair := range ids {
				path = strings.ReplaceAll(path, "{"+name+"}", pair[side])
				body = strings.ReplaceAll(body, "{"+name+"}", pair[side])
			}
			status, h, got := c.do(st.method, path, body)
			if st.save != "" {
				pair := ids[st.save]
				pair[side] = MustObject(t, data(t)(status, got))["id"].(string)
				ids[st.save] = pair
			}
			answers[side] = fmt.Sprintf("%d %s %s", status, h.Get("Content-Type"), normalise(t, got, ids, side))
		}
		if answers[0] != answers[1] {
			t.Errorf("step %d %s %s:\nlegacy %s\ngo     %s", i, st.method, st.path, answers[0], answers[1])
		}
	}
}

var isoTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// normalise rewrites an answer with ids replaced by their scenario names
// and timestamps by "<time>", keeping key order.
func normalise(tb testing.TB, body string, ids map[string][2]string, side int) string {
	v, err := validate.ParseJSON([]byte(body))
	if err != nil {
		tb.Fatalf("answer is not JSON: %s", body)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			if isoTime.MatchString(x) {
				return "<time>"
			}
			for name, pair := range ids {
				x = strings.ReplaceAll(x, pair[side], "{"+name+"}")
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case *validate.Object:
			for _, k := range x.Keys() {
				x.Set(k, walk(x.Value(k)))
			}
		}
		return v
	}
	return string(validate.AppendValue(nil, walk(v)))
}
