package samples

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v "github.com/nanopore/strangler/internal/validate"
)

// schemaIssue is the compact form of one expected issue in the table below.
type schemaIssue struct {
	code, message, path string // path as the JSON array text, e.g. ["data","priority"]
}

// schemaCheck validates raw (nil = undefined) with proc's schema and returns
// the output and the issues.
func schemaCheck(tb testing.TB, proc string, raw []byte) (any, []v.Issue) {
	tb.Helper()
	s, ok := Schemas[proc]
	if !ok {
		tb.Fatalf("no schema for %s", proc)
	}
	out, err := v.Parse(s, raw)
	if err == nil {
		return out, nil
	}
	var verr *v.Error
	if !errors.As(err, &verr) {
		tb.Fatalf("%s: unexpected error %v", proc, err)
	}
	return nil, verr.Issues
}

const validCreate = `{"sampleName":"S1","submitterName":"Jo Doe","submitterEmail":"jo@lab.org","sampleType":"DNA","chartField":"HTSF-001"`

func TestSchemasContractExamples(t *testing.T) {
	id := `"a5c0b0e4-1111-4222-8333-444455556666"`
	cases := []struct {
		name, proc, raw string
		want            []schemaIssue // nil: valid
		out             string        // expected output JSON, when valid
	}{
		{"create minimal valid gets defaults", "nanopore.create", validCreate + `}`, nil,
			`{"sampleName":"S1","submitterName":"Jo Doe","submitterEmail":"jo@lab.org","sampleType":"DNA","flowCellCount":1,"priority":"normal","chartField":"HTSF-001"}`},
		{"create trims after the pattern", "nanopore.create", validCreate + `,"sampleName":"  S 1  ","projectId":"P-1 "}`, nil,
			`{"sampleName":"S 1","projectId":"P-1","submitterName":"Jo Doe","submitterEmail":"jo@lab.org","sampleType":"DNA","flowCellCount":1,"priority":"normal","chartField":"HTSF-001"}`},
		{"chart field with trailing space is rejected", "nanopore.create", validCreate + `,"chartField":"HTSF-001 "}`,
			[]schemaIssue{{"invalid_string", schemaMsgChartField, `["chartField"]`}}, ""},
		{"SEQ-999 is accepted", "nanopore.create", validCreate + `,"chartField":"SEQ-999"}`, nil, ""},
		{"ABC-001 and lower case are rejected", "nanopore.create", validCreate + `,"chartField":"htsf-001"}`,
			[]schemaIssue{{"invalid_string", schemaMsgChartField, `["chartField"]`}}, ""},
		{"empty sampleName gives min and pattern", "nanopore.create", validCreate + `,"sampleName":""}`,
			[]schemaIssue{{"too_small", schemaMsgRequired, `["sampleName"]`}, {"invalid_string", schemaMsgAlphanumeric, `["sampleName"]`}}, ""},
		{"empty projectId is rejected", "nanopore.create", validCreate + `,"projectId":""}`,
			[]schemaIssue{{"invalid_string", schemaMsgAlphanumeric, `["projectId"]`}}, ""},
		{"lab name # is rejected", "nanopore.create", validCreate + `,"labName":"#"}`,
			[]schemaIssue{{"invalid_string", schemaMsgLabName, `["labName"]`}}, ""},
		{"sampleType missing", "nanopore.create", `{"sampleName":"S1","submitterName":"Jo","submitterEmail":"jo@lab.org","chartField":"NANO-001"}`,
			[]schemaIssue{{"invalid_type", schemaMsgRequired, `["sampleType"]`}}, ""},
		{"sampleType not a string", "nanopore.create", validCreate + `,"sampleType":5}`,
			[]schemaIssue{{"invalid_type", "Sample type must be DNA, RNA, Protein, or Other", `["sampleType"]`}}, ""},
		{"sampleType is case-sensitive", "nanopore.create", validCreate + `,"sampleType":"dna"}`,
			[]schemaIssue{{"invalid_enum_value", "Invalid enum value. Expected 'DNA' | 'RNA' | 'Protein' | 'Other', received 'dna'", `["sampleType"]`}}, ""},
		{"flowCellCount float", "nanopore.create", validCreate + `,"flowCellCount":1.5}`,
			[]schemaIssue{{"invalid_type", "Expected integer, received float", `["flowCellCount"]`}}, ""},
		{"bad email", "nanopore.create", validCreate + `,"submitterEmail":"nope"}`,
			[]schemaIssue{{"invalid_string", schemaMsgEmail, `["submitterEmail"]`}}, ""},
		{"email is kept as given (declared fix)", "nanopore.create", validCreate + `,"submitterEmail":"jo.update@lab.org"}`, nil,
			`{"sampleName":"S1","submitterName":"Jo Doe","submitterEmail":"jo.update@lab.org","sampleType":"DNA","flowCellCount":1,"priority":"normal","chartField":"HTSF-001"}`},
		{"number-or-null issues come last", "nanopore.create", validCreate + `,"concentration":0,"chartField":"x"}`,
			[]schemaIssue{{"invalid_string", schemaMsgChartField, `["chartField"]`}, {"too_small", "Concentration must be at least 0.001 ng/μL", `["concentration"]`}}, ""},
		{"string concentration is an invalid_union", "nanopore.create", validCreate + `,"concentration":"12"}`,
			[]schemaIssue{{"invalid_union", "Invalid input", `["concentration"]`}}, ""},
		{"null concentration passes", "nanopore.create", validCreate + `,"concentration":null}`, nil, ""},
		{"totalAmount null is rejected", "nanopore.create", validCreate + `,"totalAmount":null}`,
			[]schemaIssue{{"invalid_type", "Expected number, received null", `["totalAmount"]`}}, ""},
		{"amounts must agree", "nanopore.create", validCreate + `,"concentration":2,"volume":3,"totalAmount":7}`,
			[]schemaIssue{{"custom", schemaMsgAmounts, `["totalAmount"]`}}, ""},
		{"amounts within 0.001 agree", "nanopore.create", validCreate + `,"concentration":2,"volume":3,"totalAmount":6.0005}`, nil, ""},
		{"refine runs after dirty field checks", "nanopore.create", validCreate + `,"sampleName":"#","concentration":2,"volume":3,"totalAmount":7}`,
			[]schemaIssue{{"invalid_string", schemaMsgAlphanumeric, `["sampleName"]`}, {"custom", schemaMsgAmounts, `["totalAmount"]`}}, ""},
		{"update needs data", "nanopore.update", `{"id":` + id + `}`,
			[]schemaIssue{{"invalid_type", "Required", `["data"]`}}, ""},
		{"update uses the default uuid message", "nanopore.update", `{"id":"x","data":{}}`,
			[]schemaIssue{{"invalid_string", "Invalid uuid", `["id"]`}}, ""},
		{"update data paths are prefixed", "nanopore.update", `{"id":` + id + `,"data":{"priority":"asap"}}`,
			[]schemaIssue{{"invalid_enum_value", "Invalid enum value. Expected 'low' | 'normal' | 'high' | 'urgent', received 'asap'", `["data","priority"]`}}, ""},
		{"update has no defaults and strips chartField", "nanopore.update", `{"id":` + id + `,"data":{"chartField":"HTSF-001","status":"prep","concentration":null}}`, nil,
			`{"id":"a5c0b0e4-1111-4222-8333-444455556666","data":{"concentration":null,"status":"prep"}}`},
		{"updateStatus custom uuid message and bad status", "nanopore.updateStatus", `{"id":"1","status":"PREP"}`,
			[]schemaIssue{{"invalid_string", schemaMsgUUID, `["id"]`}, {"invalid_enum_value", "Invalid enum value. Expected 'submitted' | 'prep' | 'sequencing' | 'analysis' | 'completed' | 'archived', received 'PREP'", `["status"]`}}, ""},
		{"assign empty assignedTo gives two issues", "nanopore.assign", `{"id":` + id + `,"assignedTo":""}`,
			[]schemaIssue{{"too_small", schemaMsgRequired, `["assignedTo"]`}, {"invalid_string", schemaMsgPersonName, `["assignedTo"]`}}, ""},
		{"delete takes a bare string", "nanopore.delete", `{"id":` + id + `}`,
			[]schemaIssue{{"invalid_type", "Expected string, received object", `[]`}}, ""},
		{"delete non-uuid", "nanopore.delete", `"abc"`,
			[]schemaIssue{{"invalid_string", "Invalid uuid", `[]`}}, ""},
		{"delete nil uuid passes", "nanopore.delete", `"00000000-0000-0000-0000-000000000000"`, nil, `"00000000-0000-0000-0000-000000000000"`},
		{"step procedure undefined input", "nanopore.getProcessingSteps", "",
			[]schemaIssue{{"invalid_type", "Required", `[]`}}, ""},
		{"updateProcessingStep needs updates", "nanopore.updateProcessingStep", `{"stepId":` + id + `}`,
			[]schemaIssue{{"invalid_type", "Required", `["updates"]`}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var raw []byte
			if tc.raw != "" {
				raw = []byte(tc.raw)
			}
			out, issues := schemaCheck(t, tc.proc, raw)
			if tc.want == nil {
				if issues != nil {
					t.Fatalf("want valid, got:\n%s", v.FormatIssues(issues))
				}
				if got := string(v.Stringify(out)); tc.out != "" && got != tc.out {
					t.Fatalf("output\n got %s\nwant %s", got, tc.out)
				}
				return
			}
			if len(issues) != len(tc.want) {
				t.Fatalf("want %d issues, got:\n%s", len(tc.want), v.FormatIssues(issues))
			}
			for i, w := range tc.want {
				is := issues[i]
				if is.Code != w.code || is.Message != w.message || string(v.Stringify(is.Path)) != w.path {
					t.Errorf("issue %d: got %s %q %s, want %s %q %s", i, is.Code, is.Message, v.Stringify(is.Path), w.code, w.message, w.path)
				}
			}
		})
	}
}

// TestSchemasMessageBytes pins the whole message of contract section 5's
// example, byte for byte.
func TestSchemasMessageBytes(t *testing.T) {
	_, issues := schemaCheck(t, "nanopore.create", []byte(validCreate+`,"chartField":"ABC-001"}`))
	want := "[\n  {\n    \"validation\": \"regex\",\n    \"code\": \"invalid_string\",\n    \"message\": \"Chart field must be in format: HTSF-001, NANO-001, or SEQ-001\",\n    \"path\": [\n      \"chartField\"\n    ]\n  }\n]"
	if got := v.FormatIssues(issues); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	_, issues = schemaCheck(t, "nanopore.create", []byte(validCreate+`,"sampleType":null}`))
	want = "[\n  {\n    \"expected\": \"'DNA' | 'RNA' | 'Protein' | 'Other'\",\n    \"received\": \"null\",\n    \"code\": \"invalid_type\",\n    \"path\": [\n      \"sampleType\"\n    ],\n    \"message\": \"Sample type must be DNA, RNA, Protein, or Other\"\n  }\n]"
	if got := v.FormatIssues(issues); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	_, issues = schemaCheck(t, "nanopore.create", []byte(validCreate+`,"volume":0.01}`))
	if got := v.FormatIssues(issues); !strings.Contains(got, `"message": "Volume must be at least 0.1 μL"`) ||
		!strings.Contains(got, "\"minimum\": 0.1,\n    \"type\": \"number\",\n    \"inclusive\": true,\n    \"exact\": false,") {
		t.Fatalf("volume issue rendered as\n%s", got)
	}
}

func TestSchemasCoverEveryProcedureWithInput(t *testing.T) {
	for _, p := range []string{"nanopore.create", "nanopore.update", "nanopore.assign", "nanopore.updateStatus",
		"nanopore.delete", "nanopore.getProcessingSteps", "nanopore.createDefaultProcessingSteps",
		"nanopore.updateProcessingStep", "nanopore.startProcessingStep", "nanopore.completeProcessingStep"} {
		if Schemas[p] == nil {
			t.Errorf("missing schema for %s", p)
		}
	}
	for _, p := range []string{"health", "nanopore.getAll"} {
		if Schemas[p] != nil {
			t.Errorf("%s takes no input, yet has a schema", p)
		}
	}
}

// The differential test: the same raw inputs go through the real zod
// schemas of the stand-in (node, testdata/zod/zodcheck.mjs) and through
// Schemas; messages must be byte-identical and outputs equal.

var zodSeed = flag.Int64("zodseed", 20251128, "seed of the zod differential test's input generator")
var zodCount = flag.Int("zodcount", 2500, "inputs per run of the zod differential test")

// zodPools reads testdata/zod/pools.txt: raw JSON values by pool name.
func zodPools(tb testing.TB) map[string][]string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "zod", "pools.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	pools := map[string][]string{}
	name := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			name = strings.TrimPrefix(line, "# ")
		case name != "":
			pools[name] = append(pools[name], line)
		}
	}
	return pools
}

// zodGen generates raw JSON inputs: mostly near-valid objects with some
// fields dropped, replaced by boundary or hostile values, duplicated or
// joined by unknown keys; sometimes a wrong top-level value.
type zodGen struct {
	rng   *rand.Rand
	pools map[string][]string
}

func (g *zodGen) pick(pool string) string {
	p := g.pools[pool]
	return p[g.rng.IntN(len(p))]
}

// field draws a value for key: a good one, one of its own pools, or junk.
func (g *zodGen) field(good string, pools ...string) string {
	switch r := g.rng.Float64(); {
	case r < 0.5:
		return good
	case r < 0.85:
		return g.pick(pools[g.rng.IntN(len(pools))])
	default:
		return g.pick([]string{"junk", "str", "num"}[g.rng.IntN(3)])
	}
}

// object writes members in a random order, dropping, duplicating and adding
// keys now and then.
func (g *zodGen) object(members [][2]string) string {
	var kept [][2]string
	for _, m := range members {
		if g.rng.Float64() < 0.12 {
			continue
		}
		kept = append(kept, m)
		if g.rng.Float64() < 0.04 {
			kept = append(kept, [2]string{m[0], g.pick("junk")})
		}
	}
	for _, extra := range []string{"extra", "__proto__", "constructor", "0", "chartField", "id"} {
		if g.rng.Float64() < 0.04 {
			kept = append(kept, [2]string{extra, g.pick("junk")})
		}
	}
	if g.rng.Float64() < 0.3 {
		g.rng.Shuffle(len(kept), func(i, j int) { kept[i], kept[j] = kept[j], kept[i] })
	}
	var sb strings.Builder
	sb.WriteByte('{')
	for i, m := range kept {
		if i > 0 {
			sb.WriteString([]string{",", ", ", ",\n"}[g.rng.IntN(3)])
		}
		sb.WriteString(strconv.Quote(m[0]) + ":" + m[1])
	}
	sb.WriteByte('}')
	return sb.String()
}

func (g *zodGen) sampleFields(create bool) [][2]string {
	f := [][2]string{
		{"sampleName", g.field(`"Sample A"`, "str")},
		{"projectId", g.field(`"PRJ-1"`, "str")},
		{"submitterName", g.field(`"Jo Doe"`, "str")},
		{"submitterEmail", g.field(`"jo@lab.org"`, "email")},
		{"labName", g.field(`"Lab, Inc."`, "str")},
		{"sampleType", g.field(`"RNA"`, "sampleType")},
		{"sampleBuffer", g.field(`"TE"`, "str")},
		{"concentration", g.field(`12.5`, "num")},
		{"volume", g.field(`20`, "num")},
		{"totalAmount", g.field(`250`, "num")},
		{"flowCellType", g.field(`"R10.4.1"`, "flowCellType")},
		{"flowCellCount", g.field(`2`, "num")},
		{"priority", g.field(`"high"`, "priority")},
		{"assignedTo", g.field(`"Ann Lee"`, "str")},
		{"libraryPrepBy", g.field(`"O'Brien"`, "str")},
	}
	if create {
		f = append(f, [2]string{"chartField", g.field(`"NANO-001"`, "chart")})
	} else {
		f = append(f, [2]string{"status", g.field(`"prep"`, "status")})
	}
	return f
}

// input returns the raw input of one call of proc, or absent (undefined).
func (g *zodGen) input(proc string) (raw string, present bool) {
	if r := g.rng.Float64(); r < 0.03 {
		return "", false
	} else if r < 0.08 {
		return g.pick([]string{"junk", "str", "num", "uuid"}[g.rng.IntN(4)]), true
	}
	uuid := func() string { return g.field(`"a5c0b0e4-1111-4222-8333-444455556666"`, "uuid") }
	switch proc {
	case "nanopore.create":
		return g.object(g.sampleFields(true)), true
	case "nanopore.update":
		return g.object([][2]string{{"id", uuid()}, {"data", g.object(g.sampleFields(false))}}), true
	case "nanopore.assign":
		return g.object([][2]string{{"id", uuid()}, {"assignedTo", g.field(`"Ann"`, "str")}, {"libraryPrepBy", g.field(`"Bo"`, "str")}}), true
	case "nanopore.updateStatus":
		return g.object([][2]string{{"id", uuid()}, {"status", g.field(`"completed"`, "status")}}), true
	case "nanopore.updateProcessingStep":
		updates := g.object([][2]string{{"assignedTo", g.field(`"x"`, "str")}, {"notes", g.field(`"n"`, "str")},
			{"estimatedDurationHours", g.field(`4`, "num")}, {"resultsData", g.pick("junk")}})
		return g.object([][2]string{{"stepId", uuid()}, {"updates", updates}}), true
	case "nanopore.startProcessingStep":
		return g.object([][2]string{{"stepId", uuid()}, {"assignedTo", g.field(`"x"`, "str")}}), true
	case "nanopore.completeProcessingStep":
		return g.object([][2]string{{"stepId", uuid()}, {"notes", g.field(`"n"`, "str")}, {"resultsData", g.pick("junk")}}), true
	}
	return uuid(), true // the bare-uuid procedures
}

type zodCase struct {
	Proc string  `json:"proc"`
	Raw  *string `json:"raw,omitempty"`
}

type zodAnswer struct {
	OK         bool    `json:"ok"`
	Data       *string `json:"data"`
	Message    string  `json:"message"`
	ParseError string  `json:"parseError"`
}

// runZod asks the real zod (node) about every case, in one process.
func runZod(t *testing.T, cases []zodCase) []zodAnswer {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "testbed", "legacy", "node_modules", "zod", "package.json")); err != nil {
		t.Fatalf("zod is not installed: run `npm ci` in testbed/legacy (or scripts/legacy-standin.sh): %v", err)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("node", filepath.Join("testdata", "zod", "zodcheck.mjs"))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node zodcheck: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("node answered %d lines for %d cases", len(lines), len(cases))
	}
	answers := make([]zodAnswer, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &answers[i]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	return answers
}

// goAnswer is what Schemas make of one case, in zodAnswer's form.
func goAnswer(c zodCase) (zodAnswer, any) {
	var raw []byte
	if c.Raw != nil {
		raw = []byte(*c.Raw)
	}
	out, err := v.Parse(Schemas[c.Proc], raw)
	var verr *v.Error
	switch {
	case err == nil:
		data := string(v.Stringify(out))
		return zodAnswer{OK: true, Data: &data}, out
	case errors.As(err, &verr):
		return zodAnswer{Message: verr.Error()}, nil
	}
	return zodAnswer{ParseError: err.Error()}, nil
}

// withGoEmail replaces zod's sanitised e-mail in its output by ours (the
// declared fix) after checking ours is the input as given.
func withGoEmail(t *testing.T, proc, zodData string, goOut any) string {
	obj, _ := goOut.(*v.Object)
	if proc == "nanopore.update" && obj != nil {
		obj, _ = obj.Value("data").(*v.Object)
	}
	email, has := "", false
	if obj != nil {
		email, has = obj.String("submitterEmail")
	}
	if !has {
		return zodData
	}
	zv, err := v.ParseJSONText(zodData)
	if err != nil {
		t.Fatalf("zod output %q: %v", zodData, err)
	}
	target := zv.(*v.Object)
	if proc == "nanopore.update" {
		target = target.Value("data").(*v.Object)
	}
	target.Set("submitterEmail", email)
	return string(v.Stringify(zv))
}

func TestSchemasMatchZod(t *testing.T) {
	procs := []string{"nanopore.create", "nanopore.update", "nanopore.assign", "nanopore.updateStatus",
		"nanopore.delete", "nanopore.getProcessingSteps", "nanopore.createDefaultProcessingSteps",
		"nanopore.updateProcessingStep", "nanopore.startProcessingStep", "nanopore.completeProcessingStep"}
	g := &zodGen{rng: rand.New(rand.NewPCG(uint64(*zodSeed), 1)), pools: zodPools(t)}
	cases := make([]zodCase, *zodCount)
	for i := range cases {
		proc := procs[i%len(procs)]
		if i%3 == 0 {
			proc = "nanopore.create" // the richest schema gets more inputs
		}
		raw, present := g.input(proc)
		cases[i] = zodCase{Proc: proc}
		if present {
			cases[i].Raw = &raw
		}
	}
	answers := runZod(t, cases)
	failures, valid := 0, 0
	for i, c := range cases {
		want := answers[i]
		got, goOut := goAnswer(c)
		if want.OK && got.OK {
			valid++
			zodData := withGoEmail(t, c.Proc, *want.Data, goOut)
			want.Data = &zodData
		}
		if got.OK != want.OK || got.Message != want.Message || (got.OK && *got.Data != *want.Data) ||
			(got.ParseError == "") != (want.ParseError == "") {
			failures++
			if failures <= 5 {
				raw := "<undefined>"
				if c.Raw != nil {
					raw = *c.Raw
				}
				t.Errorf("case %d %s %s\n go: %+v %s\nzod: %+v %s", i, c.Proc, raw, got, deref(got.Data), want, deref(want.Data))
			}
		}
	}
	t.Logf("seed %d: %d inputs, %d valid, %d mismatches", *zodSeed, len(cases), valid, failures)
	if failures > 0 {
		t.Fatalf("%d of %d inputs differ from zod", failures, len(cases))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
