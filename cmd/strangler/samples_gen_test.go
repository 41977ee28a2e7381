package main

// Issue 4 through the proxy, continued: generated inputs (the Go service and
// the stand-in give the same status and the same issue list), 50 concurrent
// clients, getAll over 100,000 samples with the proxy as a process, and
// clients that give up on their writes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/internal/validate"
)

// genSeedEnv overrides the generator's seed (the default keeps runs equal).
const genSeedEnv = "SAMPLES_GEN_SEED"

// genInputs is how many generated inputs are compared (issue 4: 2,000+).
const genInputs = 2400

// gen makes create/update/assign/updateStatus/delete inputs: valid,
// near-valid (boundaries of contract 4.3) and hostile (wrong types, unicode,
// huge strings, nulls, extra keys, SQL and HTML fragments).
type gen struct{ r *rand.Rand }

// genInput is one generated call. In body, @@k@@ stands for sample k's id
// on each side and @@Uk@@ for it in upper case.
type genInput struct {
	proc, body, class string
	batch             bool
	target            int    // sample the call names (-1: none)
	email             string // the submitterEmail given as a string ("" none)
}

func (g *gen) pick(list ...string) string { return list[g.r.IntN(len(list))] }
func (g *gen) chance(p float64) bool      { return g.r.Float64() < p }
func quote(s string) string               { return string(validate.AppendString(nil, s)) }

// word is a random string of n characters from set.
func (g *gen) word(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.r.IntN(len(set))]
	}
	return string(b)
}

const (
	letters    = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	alnumChars = letters + "0123456789 -_."
)

// hostile returns a value no field expects, or one meant to hurt.
func (g *gen) hostile() string {
	switch g.r.IntN(5) {
	case 0:
		return g.pick(`null`, `true`, `false`, `0`, `-1`, `1e400`, `[]`, `{}`, `["a"]`, `{"a":1}`, `[null]`, `""`)
	case 1: // unicode: emoji, combining, bidi, BOM, NBSP, line separator, lone surrogates, NUL
		return `"` + g.pick(`🧬🧪`, `e\u0301`, `\u202eRTL`, `\ufeffx`, `\u00a0Ann`, `a\u2028b`, `\ud800`, `x\udfffy`,
			`\u0000`, `Zoë`, `名前`, `\t`, `\\`, `\"`, `\/`) + `"`
	case 2: // huge
		return quote(strings.Repeat(g.pick("a", "A1 ", "é", "🧬"), 1000+g.r.IntN(60000)))
	case 3: // SQL and injection fragments
		return quote(g.pick(`'; DROP TABLE nanopore_samples; --`, `1 OR 1=1`, `' OR '1'='1`, `x' UNION SELECT * FROM users --`,
			`Robert'); DELETE FROM users;--`, `${jndi:ldap://x/a}`, `../../etc/passwd`, `%00`, `/* c */ SELECT`, `xp_cmdshell`))
	default: // HTML fragments
		return quote(g.pick(`<script>alert(1)</script>`, `<img src=x onerror=alert(1)>`, `<b>&amp;</b>`, `javascript:alert(1)`,
			`"><svg onload=alert(1)>`, `<!-- x -->`))
	}
}

// A fieldGen makes one field's valid and near-valid values (JSON text; ""
// omits the field).
type fieldGen struct {
	name           string
	required       bool
	valid, nearly  func(g *gen) string
	mangledByEmail bool
}

func alnumField(name string, required bool, max int) fieldGen {
	return fieldGen{name: name, required: required,
		valid: func(g *gen) string { return quote(g.word(letters, 1) + g.word(alnumChars, g.r.IntN(30))) },
		nearly: func(g *gen) string {
			return quote(g.pick("", " ", strings.Repeat("n", max), strings.Repeat("n", max+1), " padded\t", "\u00a0nbsp",
				"tab\there", "a/b", "Ünï", "dots...", "x\u2028", "-_-"))
		}}
}

func personField(name string, required bool) fieldGen {
	return fieldGen{name: name, required: required,
		valid: func(g *gen) string {
			return quote(g.word(letters, 1+g.r.IntN(8)) + g.pick("", " ", "-", "'", ". ") + g.word(letters, g.r.IntN(8)))
		},
		nearly: func(g *gen) string {
			return quote(g.pick("", " ", "J0", "O'Neil-Smith Jr.", strings.Repeat("P", 255), strings.Repeat("P", 256), "\u00a0Ann ", "Ann_Lee", "Zoë"))
		}}
}

func enumField(name string, required bool, values ...string) fieldGen {
	return fieldGen{name: name, required: required,
		valid: func(g *gen) string { return quote(g.pick(values...)) },
		nearly: func(g *gen) string {
			v := g.pick(values...)
			return quote(g.pick(strings.ToLower(v), strings.ToUpper(v), v+" ", " "+v, "", "other"))
		}}
}

func numberField(name string, min, max string, nullable bool) fieldGen {
	return fieldGen{name: name,
		valid: func(g *gen) string {
			if nullable && g.chance(0.1) {
				return "null"
			}
			lo, _ := strconv.ParseFloat(min, 64)
			hi, _ := strconv.ParseFloat(max, 64)
			return validate.FormatNumber(lo + g.r.Float64()*(hi-lo)/g.pick2(1, 100))
		},
		nearly: func(g *gen) string {
			return g.pick(min, max, "0", "-0", "-1", "1e-7", max+"1", "0.0009999", "1.0005", "2.0005", "123.4565", "1E2",
				"0.30000000000000004", "null", `"5"`, "1e400", "9999.9995")
		}}
}

func (g *gen) pick2(a, b float64) float64 {
	if g.chance(0.5) {
		return a
	}
	return b
}

var (
	emailField = fieldGen{name: "submitterEmail", required: true, mangledByEmail: true,
		valid: func(g *gen) string {
			local := g.word("abcdefghijklmnopqrstuvwxyz", 1) + g.word("abcdefghijklmnopqrstuvwxyz0123456789._+-", g.r.IntN(12))
			local = strings.TrimRight(strings.ReplaceAll(local, "..", "."), ".")
			if g.chance(0.1) { // legacy strips SQL keywords (declared fix)
				local = g.pick("drop.", "jo.update.", "select", "x.delete", "xp_a", "a--b.", "Union.") + local
			}
			return quote(local + "@" + g.pick("lab.org", "Sub.Example.ORG", "x-y.co", "uni.ac.uk"))
		},
		nearly: func(g *gen) string {
			return quote(g.pick("a@b", "a..b@x.org", ".a@x.org", "a@x.c", "a@-x.org", "a b@x.org", "", "@x.org", "a@x.org ",
				strings.Repeat("a", 250)+"@lab.org", "a@"+strings.Repeat("b", 63)+".org", "\"q\"@x.org", "a+tag@x.org"))
		}}
	chartField = fieldGen{name: "chartField", required: true,
		valid: func(g *gen) string {
			return quote(g.pick("HTSF", "NANO", "SEQ") + "-" + strconv.Itoa(100+g.r.IntN(900)))
		},
		nearly: func(g *gen) string {
			return quote(g.pick("", "htsf-001", "HTSF-0011", "HTSF-01", "HTSF-001 ", " HTSF-001", "HTSF-001\n", "ABC-001", "SEQ_001"))
		}}
	labField = fieldGen{name: "labName",
		valid: func(g *gen) string { return quote(g.word(letters, 1) + g.word(alnumChars+",'", g.r.IntN(30))) },
		nearly: func(g *gen) string {
			return quote(g.pick("", "#", "Lab, Core's 2.", strings.Repeat("L", 256), "Lab\u00a0A"))
		}}
	bufferField = fieldGen{name: "sampleBuffer",
		valid: func(g *gen) string { return quote(g.word(alnumChars+"<>&\"\\/", g.r.IntN(40))) },
		nearly: func(g *gen) string {
			return quote(g.pick("", "  ", strings.Repeat("b", 100), strings.Repeat("b", 101), strings.Repeat("🧬", 50),
				strings.Repeat("🧬", 51), " x\ufeff", "μ×"))
		}}
	countField = fieldGen{name: "flowCellCount", valid: func(g *gen) string { return strconv.Itoa(1 + g.r.IntN(10)) }, nearly: func(g *gen) string {
		return g.pick("0", "11", "1.5", "2.0", "1e0", "-1", "10.000000000000002", "1e21", `"2"`, "null")
	}}
)

// createFields are create's fields in schema order (contract 5).
var createFields = []fieldGen{
	alnumField("sampleName", true, 255), alnumField("projectId", false, 100), personField("submitterName", true),
	emailField, labField, enumField("sampleType", true, "DNA", "RNA", "Protein", "Other"), bufferField,
	numberField("concentration", "0.001", "10000", true), numberField("volume", "0.1", "1000", true),
	numberField("totalAmount", "0.001", "100000", false), enumField("flowCellType", false, "R9.4.1", "R10.4.1", "R10.5.1", "Other"),
	countField, enumField("priority", false, "low", "normal", "high", "urgent"), personField("assignedTo", false),
	personField("libraryPrepBy", false), chartField,
}

var statusField = enumField("status", false, "submitted", "prep", "sequencing", "analysis", "completed", "archived")

// object builds a JSON object from fields: every required field and some
// optional ones, each valid, nearly valid or hostile by class; hostile
// objects also get extra keys and duplicates.
func (g *gen) object(fields []fieldGen, class string, allOptional bool, in *genInput) string {
	var parts []string
	for _, f := range fields {
		if !(f.required && !allOptional) && !g.chance(0.4) {
			continue
		}
		v := f.valid(g)
		switch {
		case class == "near" && g.chance(0.15):
			v = f.nearly(g)
		case class == "hostile" && g.chance(0.2):
			v = g.hostile()
		case class != "valid" && g.chance(0.03):
			continue // a required field goes missing
		}
		if f.mangledByEmail {
			_ = json.Unmarshal([]byte(v), &in.email)
		}
		parts = append(parts, quote(f.name)+":"+v)
	}
	if class == "hostile" && g.chance(0.5) {
		extra := g.pick(`"extra":`+g.hostile(), `"__proto__":{"status":"prep","sampleName":"x"}`, `"constructor":{"name":1}`,
			`"sampleName":`+g.hostile(), `"":null`)
		parts = append(parts, extra)
	}
	if class == "hostile" && g.chance(0.3) { // key order must not matter
		g.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// id names a live sample (as its placeholder) or something else.
func (g *gen) id(live []int, class string) (string, int) {
	if len(live) > 0 && (class == "valid" || g.chance(0.7)) {
		k := live[g.r.IntN(len(live))]
		if g.chance(0.05) {
			return fmt.Sprintf(`"@@U%d@@"`, k), k
		}
		return fmt.Sprintf(`"@@%d@@"`, k), k
	}
	if class == "hostile" {
		return g.hostile(), -1
	}
	return g.pick(`"00000000-0000-0000-0000-000000000000"`, `"not-a-uuid"`, `"`+randomUUID(g.r)+`"`,
		`"00000000-0000-4000-8000-00000000abcd"`, `"{00000000-0000-4000-8000-000000000000}"`, `""`), -1
}

func randomUUID(r *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// next makes the next input given the live samples.
func (g *gen) next(live []int) genInput {
	class := g.pick("valid", "valid", "near", "near", "hostile")
	in := genInput{class: class, target: -1, batch: g.chance(0.15)}
	switch p := g.r.IntN(100); {
	case p < 35 || len(live) < 3:
		in.proc, in.body = "nanopore.create", g.object(createFields, class, false, &in)
	case p < 60:
		id, k := g.id(live, class)
		data := g.object(append(createFields[:len(createFields)-1:len(createFields)-1], statusField), class, true, &in)
		in.proc, in.target, in.body = "nanopore.update", k, `{"id":`+id+`,"data":`+data+`}`
	case p < 72:
		id, k := g.id(live, class)
		in.proc, in.target = "nanopore.assign", k
		in.body = g.object([]fieldGen{personField("assignedTo", true), personField("libraryPrepBy", false)}, class, false, &in)
		in.body = `{"id":` + id + "," + strings.TrimPrefix(in.body, "{")
	case p < 85:
		id, k := g.id(live, class)
		in.proc, in.target, in.body = "nanopore.updateStatus", k, `{"id":`+id+`,"status":`+statusField.valid(g)+`}`
		if class != "valid" && g.chance(0.5) {
			in.body = `{"id":` + id + `,"status":` + g.pick(statusField.nearly(g), g.hostile()) + `}`
		}
	default:
		id, k := g.id(live, class)
		in.proc, in.target, in.body = "nanopore.delete", k, id
		if class == "hostile" && g.chance(0.3) {
			in.body = `{"id":` + id + `}`
		}
	}
	if class == "hostile" && g.chance(0.08) { // the whole input is wrong
		in.body, in.target = g.pick(`null`, `[]`, `"x"`, `1`, `true`, `{}`, `{"id":`, `{'a':1}`, `{"a":1,}`, `NaN`, ``,
			strings.Repeat("[", 40)+strings.Repeat("]", 40), strings.Repeat(`{"a":`, 3000)+"1"+strings.Repeat("}", 3000)), -1
		in.email = ""
	}
	return in
}

// genSample is a sample both sides hold, each under its own id.
type genSample struct {
	ids [2]string
	// emailDiffers: legacy stored a mangled address (declared fix), so the
	// two rows differ in submitter_email until an update sets it again.
	emailDiffers bool
}

// genRun sends generated inputs to legacy and to the proxy and compares.
type genRun struct {
	t       *testing.T
	bases   [2]string
	client  *http.Client
	samples []genSample
	live    []int
	ids     [2]*idMap
	counts  map[string]int
	errors  int
}

// genAnswer is one side's answer to one input.
type genAnswer struct {
	status int
	ctype  string
	body   string
	env    any    // the call's envelope (entry 0 of a batch)
	id     string // the id of the sample it returned, if any
}

var placeholder = regexp.MustCompile(`@@(U?)(\d+)@@`)

// bind puts a side's ids into a generated body.
func (r *genRun) bind(side int, body string) string {
	return placeholder.ReplaceAllStringFunc(body, func(m string) string {
		sub := placeholder.FindStringSubmatch(m)
		k, _ := strconv.Atoi(sub[2])
		if sub[1] == "U" {
			return strings.ToUpper(r.samples[k].ids[side])
		}
		return r.samples[k].ids[side]
	})
}

func (r *genRun) send(side int, in genInput) genAnswer {
	body, target := r.bind(side, in.body), "/api/trpc/"+in.proc
	if in.batch {
		body, target = `{"0":`+body+`}`, target+"?batch=1"
	}
	req, _ := http.NewRequest(http.MethodPost, r.bases[side]+target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s on %s: %v", in.proc, in.body, sideName[side], err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := genAnswer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}
	a.env = parseJSON(a.body)
	if arr, ok := a.env.([]any); ok && in.batch && len(arr) == 1 {
		a.env = arr[0]
	}
	a.id = a.column("id") // before normalisation rewrites it
	return a
}

// step sends one input to both sides at once, compares, and keeps the
// sample pool in step with what both sides now hold.
func (r *genRun) step(in genInput) {
	var ans [2]genAnswer
	var wg sync.WaitGroup
	for side := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); ans[side] = r.send(side, in) }()
	}
	wg.Wait()
	outcome, err := r.compare(in, ans)
	r.counts[in.proc+" "+in.class]++
	r.counts[fmt.Sprintf("status %d", ans[onLegacy].status)]++
	r.counts[outcome]++
	if err != nil {
		r.errors++
		r.t.Errorf("%s (%s, batch %v) %.400s\n%v", in.proc, in.class, in.batch, r.bind(onLegacy, in.body), err)
		if r.errors >= 25 {
			r.t.Fatalf("stopping after %d differences", r.errors)
		}
		return
	}
	r.track(in, ans, outcome)
}

// track updates the sample pool after an input both sides answered alike
// (or as the e-mail fix says).
func (r *genRun) track(in genInput, ans [2]genAnswer, outcome string) {
	switch {
	case outcome == "fix: e-mail refused by legacy only": // only the Go service has it: remove it
		r.send(onGo, genInput{proc: "nanopore.delete", body: quote(ans[onGo].id)})
	case in.proc == "nanopore.create" && ans[onLegacy].id != "":
		s := genSample{ids: [2]string{ans[onLegacy].id, ans[onGo].id}}
		s.emailDiffers = legacyEmail(in.email) != in.email
		r.samples = append(r.samples, s)
		r.live = append(r.live, len(r.samples)-1)
	case in.proc == "nanopore.update" && ans[onLegacy].id != "" && in.email != "":
		r.samples[in.target].emailDiffers = legacyEmail(in.email) != in.email
	case in.proc == "nanopore.delete" && ans[onLegacy].status == 200:
		for i, k := range r.live {
			if k == in.target {
				r.live = append(r.live[:i], r.live[i+1:]...)
				break
			}
		}
	}
}

// compare checks one pair of answers: same status and content type, the
// same issue list (byte for byte), the same other messages (JSON.parse
// wording aside) and the same data once ids and timestamps are normalised.
// The e-mail fix is the only accepted difference.
func (r *genRun) compare(in genInput, ans [2]genAnswer) (string, error) {
	st := [2]int{entryStatus(ans[0].env, ans[0].status), entryStatus(ans[1].env, ans[1].status)}
	mangled := in.email != "" && legacyEmail(in.email) != in.email
	if st[0] != st[1] || ans[0].status != ans[1].status || ans[0].ctype != ans[1].ctype {
		msg, _, _ := envelopeError(ans[onLegacy].env)
		if in.proc == "nanopore.create" && mangled && st[onGo] == 200 && msg == "Validation failed: Invalid email format" &&
			ans[onGo].column("submitter_email") == strings.TrimSpace(in.email) {
			return "fix: e-mail refused by legacy only", nil
		}
		return "", fmt.Errorf("legacy %d %s %.600s\ngo     %d %s %.600s", ans[0].status, ans[0].ctype, ans[0].body, ans[1].status, ans[1].ctype, ans[1].body)
	}
	if st[0] != 200 {
		if in.proc == "nanopore.create" && mangled && emailRecheckOnly(ans) {
			return "fix: e-mail refused by legacy's re-check too", nil
		}
		return fmt.Sprintf("same error %d", st[0]), r.compareErrors(ans)
	}
	mask := mangled || in.target >= 0 && r.samples[in.target].emailDiffers && in.email == ""
	if mangled && ans[onGo].column("submitter_email") != strings.TrimSpace(in.email) {
		return "", fmt.Errorf("the Go service stored %q for %q", ans[onGo].column("submitter_email"), in.email)
	}
	var text [2]string
	for side := range 2 {
		if in.proc == "nanopore.create" { // the new sample's ids map to its number
			r.ids[side].ids[ans[side].id] = fmt.Sprintf("<s:%d>", len(r.samples))
		}
		text[side] = string(validate.AppendValue(nil, r.ids[side].value(ans[side].env)))
		if mask {
			text[side] = storedEmail.ReplaceAllString(text[side], `"submitter_email":"<masked>"`)
		}
	}
	if text[0] != text[1] {
		return "", fmt.Errorf("answers differ:\nlegacy %.1500s\ngo     %.1500s", text[0], text[1])
	}
	if mangled {
		return "fix: e-mail stored as given", nil
	}
	return "same data", nil
}

// emailRecheckOnly says whether create's service re-check failed on both
// sides and legacy's only extra complaint is the address it mangled first
// ("Validation failed: Submitter name is required, Invalid email format"
// against the same without the last item).
func emailRecheckOnly(ans [2]genAnswer) bool {
	legacy, _, _ := envelopeError(ans[onLegacy].env)
	viaGo, _, _ := envelopeError(ans[onGo].env)
	return strings.HasPrefix(viaGo, "Validation failed: ") && legacy == viaGo+", Invalid email format"
}

var storedEmail = regexp.MustCompile(`"submitter_email":"(?:[^"\\]|\\.)*"`)

// column is one string column of a sample answer ("" if none).
func (a genAnswer) column(key string) string {
	d, _ := envelopeData(a.env)
	o, _ := d.(*validate.Object)
	if o == nil {
		return ""
	}
	v, _ := o.String(key)
	return v
}

// compareErrors compares two error envelopes: zod issue lists byte for
// byte (and says how they differ), JSON.parse failures by code, status and
// path only, every other message exactly (ids normalised).
func (r *genRun) compareErrors(ans [2]genAnswer) error {
	var msg [2]string
	var env [2]string
	for side := range 2 {
		msg[side], _, _ = envelopeError(ans[side].env)
		env[side] = string(validate.AppendValue(nil, r.ids[side].value(ans[side].env)))
		if m := msg[side]; strings.HasPrefix(m, "[") || jsonParseMessage.MatchString(m) {
			env[side] = strings.Replace(env[side], string(validate.AppendString(nil, r.ids[side].text(m))), `"<message>"`, 1)
		}
	}
	if env[0] != env[1] {
		return fmt.Errorf("error envelopes differ:\nlegacy %.1500s\ngo     %.1500s", env[0], env[1])
	}
	if !strings.HasPrefix(msg[onLegacy], "[") {
		return nil // a JSON.parse message: its wording may differ
	}
	if msg[0] == msg[1] {
		return nil
	}
	var issues [2][]any
	for side := range 2 {
		_ = json.Unmarshal([]byte(msg[side]), &issues[side])
	}
	how := "the issues differ"
	switch {
	case reflect.DeepEqual(issues[0], issues[1]):
		how = "the same issues, but not the same bytes (key order or spacing)"
	case sameMultiset(issues[0], issues[1]):
		how = "the same issues in another order"
	}
	return fmt.Errorf("zod message: %s:\nlegacy %.1500s\ngo     %.1500s", how, msg[0], msg[1])
}

func sameMultiset(a, b []any) bool {
	count := map[string]int{}
	for _, v := range a {
		k, _ := json.Marshal(v)
		count[string(k)]++
	}
	for _, v := range b {
		k, _ := json.Marshal(v)
		count[string(k)]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// TestGeneratedInputsGetTheSameAnswersThroughTheProxy is issue 4's
// generated-input proof: 2,400 inputs, one at a time, each to the stand-in
// and to the proxy at once.
func TestGeneratedInputsGetTheSameAnswersThroughTheProxy(t *testing.T) {
	t.Parallel()
	seed := uint64(20261128)
	if s := os.Getenv(genSeedEnv); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set %s to change it)", seed, genSeedEnv)
	direct := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t)})
	proxy := startSamplesProxy(t)
	r := &genRun{t: t, bases: [2]string{direct.URL, proxy.PublicURL()}, counts: map[string]int{},
		client: &http.Client{Timeout: e2eTimeout},
		ids:    [2]*idMap{{ids: map[string]string{}, keep: true}, {ids: map[string]string{}, keep: true}}}
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for range genInputs {
		r.step(g.next(r.live))
	}
	t.Logf("%d inputs: %v", genInputs, r.counts)
	for _, want := range []string{"status 200", "status 400", "status 404", "status 500", "fix: e-mail stored as given",
		"fix: e-mail refused by legacy only", "nanopore.delete hostile", "nanopore.update near"} {
		if r.counts[want] == 0 {
			t.Errorf("the generator never produced %q", want)
		}
	}
	if n := trpcRequests(t, proxy.behind); len(n) != 0 {
		t.Errorf("%d generated requests reached legacy behind the proxy, e.g. %s", len(n), n[0])
	}
}

// legacyEmail is what legacy's sanitiser leaves of an address zod accepted
// (contract 4.3; testbed/legacy/src/schemas.mjs): only the SQL keyword,
// comment and xp_/sp_ steps can touch such an address.
func legacyEmail(s string) string {
	s = sqlKeyword.ReplaceAllString(s, "")
	s = sqlComment.ReplaceAllString(s, "")
	s = sqlProcWord.ReplaceAllString(s, "")
	return strings.TrimSpace(s)
}

var (
	sqlKeyword   = regexp.MustCompile(`(?i)\b(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|EXEC|EXECUTE|UNION|DECLARE)\b`)
	sqlComment   = regexp.MustCompile(`(?m)--.*$`)
	sqlProcWord  = regexp.MustCompile(`(?i)\b(xp|sp)_\w*`)
	serviceEmail = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)
)

// proxyCall makes one mutation through the proxy and returns its data.
func proxyCall(c *http.Client, base, proc, input string) (*validate.Object, error) {
	resp, err := c.Post(base+"/api/trpc/"+proc, "application/json", strings.NewReader(input))
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	data, ok := envelopeData(parseJSON(string(b)))
	o, _ := data.(*validate.Object)
	if resp.StatusCode != 200 || !ok || (o == nil && proc != "nanopore.delete") {
		return nil, fmt.Errorf("%s %s: %d %s", proc, input, resp.StatusCode, b)
	}
	return o, nil
}

// sharedFields are written by one client each, five times; the last value
// must survive.
var sharedFields = []struct{ key, last string }{
	{"sampleName", `"shared v5"`}, {"projectId", `"P-5"`}, {"labName", `"Lab 5"`}, {"sampleBuffer", `"TE 5"`},
	{"concentration", `5`}, {"volume", `5`}, {"flowCellCount", `5`}, {"submitterEmail", `"w5@lab.org"`},
	{"libraryPrepBy", `"Prep E"`}, {"priority", `"urgent"`},
}

// fieldValue is client n's v-th write of its shared field.
func fieldValue(key string, v int) string {
	switch key {
	case "concentration", "volume", "flowCellCount":
		return strconv.Itoa(v)
	case "libraryPrepBy":
		return `"Prep ` + string(rune('A'+v-1)) + `"`
	case "priority":
		return `"` + []string{"low", "normal", "high", "low", "urgent"}[v-1] + `"`
	case "submitterEmail":
		return fmt.Sprintf(`"w%d@lab.org"`, v)
	}
	return strings.Replace(map[string]string{"sampleName": `"shared vN"`, "projectId": `"P-N"`, "labName": `"Lab N"`,
		"sampleBuffer": `"TE N"`}[key], "N", strconv.Itoa(v), 1)
}

// TestFiftyClientsThroughTheProxyLoseNoUpdate re-checks, through the proxy,
// the samples package's concurrency proof: 50 clients create, update,
// assign, move and delete at once; ten of them also write one field each of
// a shared sample while the rest move its status.
func TestFiftyClientsThroughTheProxyLoseNoUpdate(t *testing.T) {
	t.Parallel()
	p := startSamplesProxy(t)
	c := &http.Client{Timeout: e2eTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	base := p.PublicURL()
	newSample := func(name string) string {
		return `{"sampleName":"` + name + `","submitterName":"Jo","submitterEmail":"jo@lab.org","sampleType":"DNA","chartField":"SEQ-001"}`
	}
	shared, err := proxyCall(c, base, "nanopore.create", newSample("shared"))
	if err != nil {
		t.Fatal(err)
	}
	sharedID, _ := shared.String("id")
	const clients = 50
	kept := make([]string, clients)
	errs := make(chan error, clients)
	start := make(chan struct{})
	for n := range clients {
		go func() {
			<-start
			var err error
			kept[n], err = oneClient(c, base, n, sharedID, newSample)
			errs <- err
		}()
	}
	close(start)
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	checkFinalState(t, p, c, sharedID, kept)
}

// oneClient is client n's work; it returns the id of the sample it kept.
func oneClient(c *http.Client, base string, n int, shared string, newSample func(string) string) (string, error) {
	var own [2]string
	for i := range own {
		o, err := proxyCall(c, base, "nanopore.create", newSample(fmt.Sprintf("c%d s%d", n, i)))
		if err != nil {
			return "", err
		}
		own[i], _ = o.String("id")
	}
	calls := [][2]string{}
	for v := 1; v <= 5; v++ {
		calls = append(calls, [2]string{"nanopore.update", fmt.Sprintf(`{"id":"%s","data":{"sampleName":"c%d v%d"}}`, own[0], n, v)})
		if n < len(sharedFields) {
			f := sharedFields[n].key
			calls = append(calls, [2]string{"nanopore.update", `{"id":"` + shared + `","data":{"` + f + `":` + fieldValue(f, v) + `}}`})
		} else {
			st := []string{"prep", "sequencing", "analysis", "completed", "archived"}[(n+v)%5]
			calls = append(calls, [2]string{"nanopore.updateStatus", `{"id":"` + shared + `","status":"` + st + `"}`})
		}
	}
	calls = append(calls, [2]string{"nanopore.assign", fmt.Sprintf(`{"id":"%s","assignedTo":"Client %c"}`, own[0], 'A'+n%26)},
		[2]string{"nanopore.updateStatus", `{"id":"` + own[0] + `","status":"sequencing"}`},
		[2]string{"nanopore.delete", `"` + own[1] + `"`})
	for _, call := range calls {
		if _, err := proxyCall(c, base, call[0], call[1]); err != nil {
			return "", fmt.Errorf("client %d: %w", n, err)
		}
	}
	return own[0], nil
}

// checkFinalState reads getAll through the proxy and the table itself.
func checkFinalState(t *testing.T, p *samplesProxy, c *http.Client, shared string, kept []string) {
	t.Helper()
	resp, err := c.Get(p.PublicURL() + "/api/trpc/nanopore.getAll")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	data, _ := envelopeData(parseJSON(string(b)))
	rows, _ := data.([]any)
	byID := map[string]*validate.Object{}
	for _, v := range rows {
		o := v.(*validate.Object)
		id, _ := o.String("id")
		byID[id] = o
	}
	if len(rows) != 1+len(kept) || len(byID) != len(rows) {
		t.Fatalf("getAll lists %d samples (%d distinct), want %d", len(rows), len(byID), 1+len(kept))
	}
	for n, id := range kept {
		o := byID[id]
		name, _ := o.String("sample_name")
		who, _ := o.String("assigned_to")
		st, _ := o.String("status")
		if name != fmt.Sprintf("c%d v5", n) || who != fmt.Sprintf("Client %c", 'A'+n%26) || st != "sequencing" {
			t.Errorf("client %d's sample lost an update: %s", n, validate.AppendValue(nil, o))
		}
	}
	row := string(validate.AppendValue(nil, byID[shared]))
	for _, f := range []string{`"sample_name":"shared v5"`, `"project_id":"P-5"`, `"lab_name":"Lab 5"`, `"sample_buffer":"TE 5"`,
		`"concentration":"5.000"`, `"volume":"5.00"`, `"flow_cell_count":5`, `"submitter_email":"w5@lab.org"`,
		`"library_prep_by":"Prep E"`, `"priority":"urgent"`} {
		if !strings.Contains(row, f) {
			t.Errorf("the shared sample lost a write: want %s in %s", f, row)
		}
	}
	var total, others int
	pool := testutil.Pool(t, p.db)
	err = pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE status IS NULL OR updated_at < created_at)
		FROM samples.nanopore_samples`).Scan(&total, &others)
	if err != nil || total != len(rows) || others != 0 {
		t.Errorf("the table holds %d samples (%d inconsistent), getAll listed %d: %v", total, others, len(rows), err)
	}
	if n := trpcRequests(t, p.behind); len(n) != 0 {
		t.Errorf("%d requests reached legacy behind the proxy, e.g. %s", len(n), n[0])
	}
}

// scaleRows is the getAll size of issue 4's scale proof.
const scaleRows = 100_000

// TestGetAllOf100000SamplesKeepsTheProxyProcessSmall runs the strangler
// binary with getAll in new mode over 100,000 samples (about 65 MB of JSON)
// and reads the answer through it: every sample is listed once, newest
// first, and the process's peak resident size (VmHWM) grows by far less
// than the answer, since the service streams rows as it encodes them.
func TestGetAllOf100000SamplesKeepsTheProxyProcessSmall(t *testing.T) {
	t.Parallel()
	db := migratedDB(t)
	pool := testutil.Pool(t, db)
	if _, err := pool.Exec(context.Background(), `INSERT INTO samples.nanopore_samples (id, sample_name, project_id,
 submitter_name, submitter_email, lab_name, sample_type, sample_buffer, concentration, volume, total_amount,
 flow_cell_type, flow_cell_count, status, priority, assigned_to, library_prep_by, submitted_at, created_at,
 updated_at, created_by, chart_field)
SELECT gen_random_uuid(), 'Scale ' || g, 'PRJ-' || g, 'Jane Doe', 'jane.' || g || '@lab.example.org', 'Core Lab',
 'RNA', 'TE', 12.5, 20, 250, 'R10.4.1', 2, 'prep', 'high', 'Kim Park', 'Lee Wong',
 timestamptz '2026-01-01' + g * interval '1 second', now(), now(), '`+demoUserID+`', 'NANO-001'
FROM generate_series(1, $1::integer) g`, scaleRows); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cliRun(t, db, "flip", "nanopore.getAll", "new", "--reason", "scale"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	legacy := newLegacyStub(t)
	s := testutil.StartStrangler(t, testutil.StranglerOptions{Env: []string{
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0", "STRANGLER_DATABASE_URL=" + db,
		"STRANGLER_LEGACY_URL=" + legacy.URL, "STRANGLER_LOG_ACCESS=false", "STRANGLER_ADMIN_TOKEN_HASHES=" + tokenHash(testToken),
	}})
	before, _, err := testutil.ProcMemory(s.PID())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.PublicURL+"/api/trpc/nanopore.getAll", nil)
	req.Header.Set("X-Strangler-Token", testToken)
	resp, err := (&http.Client{Timeout: 5 * e2eTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-Strangler-Target"); resp.StatusCode != 200 || got != "service:samples" {
		t.Fatalf("getAll answered %d by %q", resp.StatusCode, got)
	}
	n, size := readScaleList(t, resp.Body)
	after, _, err := testutil.ProcMemory(s.PID())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("getAll of %d samples: %d bytes through the proxy; VmHWM %d KiB before, %d KiB after", n, size, before>>10, after>>10)
	if n != scaleRows || size < 50<<20 {
		t.Fatalf("listed %d samples in %d bytes", n, size)
	}
	const bound = 16 << 20 // a buffered answer alone would be 60+ MB
	if after-before > bound {
		t.Errorf("the proxy's peak RSS grew by %d KiB while streaming; want < %d KiB", (after-before)>>10, bound>>10)
	}
	for len(legacy.paths) > 0 {
		if p := <-legacy.paths; strings.Contains(p, "/api/trpc") { // not the proxy's health checks
			t.Errorf("%s reached legacy", p)
		}
	}
}

// readScaleList decodes getAll's answer one sample at a time and checks
// each: the columns in order, newest first, every seeded sample once.
func readScaleList(t *testing.T, body io.Reader) (int, int64) {
	t.Helper()
	counted := &countingReader{r: body}
	dec := json.NewDecoder(counted)
	for _, want := range []string{"{", "result", "{", "data", "["} {
		tok, err := dec.Token()
		if err != nil || fmt.Sprint(tok) != want {
			t.Fatalf("answer starts with %v (%v), want %s", tok, err, want)
		}
	}
	seen := make([]bool, scaleRows+1)
	n, last := 0, scaleRows+1
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("sample %d: %v", n, err)
		}
		var row struct {
			SampleName string `json:"sample_name"`
		}
		_ = json.Unmarshal(raw, &row)
		g, err := strconv.Atoi(strings.TrimPrefix(row.SampleName, "Scale "))
		if err != nil || g >= last || seen[g] || !bytes.HasPrefix(raw, []byte(`{"id":"`)) ||
			!bytes.HasSuffix(raw, []byte(`,"created_by":"`+demoUserID+`","chart_field":"NANO-001"}`)) {
			t.Fatalf("sample %d out of order, repeated or malformed: %s", n, raw)
		}
		seen[g], last = true, g
		n++
	}
	if _, err := io.Copy(io.Discard, counted); err != nil {
		t.Fatal(err)
	}
	return n, counted.n
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestWritesClientsGaveUpOnDoNotOpenTheBreaker: clients that leave before
// their answer (a closed tab, an aborted fetch) say nothing about the new
// side, so the next write must still be answered by the Go service. (The
// benchmark found the opposite: the in-process service answers a request
// whose client left with 500, and the proxy counted it as a new-side
// failure, so ten of them opened the breaker and the guard rolled the
// routes back; fixed in 14c61d2.) The pool is large enough for every
// create to wait inside the database, behind a table lock.
func TestWritesClientsGaveUpOnDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	legacy := newLegacyStub(t)
	db := migratedDB(t)
	if code, out, errOut := cliRun(t, db, "flip", "samples", "new", "--reason", "cancel test"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	m := startReplica(t, legacy.URL, db+"&pool_max_conns=64") // every create reaches the database
	if r, ok := m.router.State().Table.ByID("nanopore.create"); !ok || m.router.State().Mode(r).Mode.String() != "new" {
		t.Fatal("the samples group is not in new mode")
	}
	pool := testutil.Pool(t, db)
	ctx := context.Background()
	lock, err := pool.Begin(ctx) // creates now wait inside the database
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Rollback(ctx) }) // before the pool closes
	if _, err := lock.Exec(ctx, `LOCK TABLE samples.nanopore_samples IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	const leaving = 40
	gone, leave := context.WithCancel(ctx)
	for range leaving {
		go func() {
			req, _ := http.NewRequestWithContext(gone, http.MethodPost, m.PublicURL()+"/api/trpc/nanopore.create",
				strings.NewReader(`{"sampleName":"S","submitterName":"Jo","submitterEmail":"jo@lab.org","sampleType":"DNA","chartField":"SEQ-001"}`))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	waiting := func() (n int) {
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%INSERT INTO samples.nanopore_samples%'`).Scan(&n)
		return n
	}
	testutil.Eventually(t, e2eTimeout, "every create waiting on the lock", func() bool { return waiting() == leaving })
	leave()
	testutil.Eventually(t, e2eTimeout, "the proxy done with every abandoned create", func() bool {
		return createsAnswered(t, m) == leaving
	})
	_ = lock.Rollback(ctx)
	req, _ := http.NewRequest(http.MethodPost, m.PublicURL()+"/api/trpc/nanopore.create",
		strings.NewReader(`{"sampleName":"After","submitterName":"Jo","submitterEmail":"jo@lab.org","sampleType":"DNA","chartField":"SEQ-001"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Strangler-Token", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Strangler-Target") != "service:samples" {
		t.Errorf("after %d clients left, a create was answered %d by %q: %s", leaving, resp.StatusCode,
			resp.Header.Get("X-Strangler-Target"), body)
	}
}

// createsAnswered counts the creates the proxy has finished, whatever their
// status (strangler_requests_total).
func createsAnswered(t *testing.T, m *Main) int {
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "strangler_requests_total" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == "nanopore.create" {
					n += metric.GetCounter().GetValue()
				}
			}
		}
	}
	return int(n)
}
