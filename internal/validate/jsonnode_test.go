package validate

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// nodeJSONScript answers, per input line (a JSON string holding the text),
// JSON.stringify's output or JSON.parse's error message.
const nodeJSONScript = `
const rl = require('node:readline').createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  const text = JSON.parse(line);
  let out;
  try { out = { ok: JSON.stringify(JSON.parse(text)) ?? null }; } catch (e) { out = { err: e.message }; }
  process.stdout.write(JSON.stringify(out) + '\n');
});`

// jsonMutations derives hostile texts from valid ones: truncations, flipped
// bytes and insertions at random places.
func jsonMutations(rng *rand.Rand, n int) []string {
	seeds := []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\ud83d\ude00"}}`, `[1.5e3,-0,0.25,"x\"y",{}]`,
		`{"sampleName":"S","concentration":12.5,"2":1,"1":2}`, `"\ud800\\\/\b\f\n\r\t"`, `-12.5E-3`,
		`[[],[[]],{"":""}]`, `{"k":"` + strings.Repeat("long ", 10) + `"}`, `{"é😀":"\u2028"}`,
	}
	junk := []string{"", ",", "}", "]", "{", "[", `"`, `\`, "x", "0", "01", "-", ".", "e", "+", " ", "\n", "\u00e9", "😀", "\ufeff", "nul", "tru", ":", `\u12`, `\x`}
	out := append([]string{}, seeds...)
	for len(out) < n {
		s := seeds[rng.IntN(len(seeds))]
		i := rng.IntN(len(s) + 1)
		for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
			i-- // stay on a UTF-8 boundary
		}
		switch rng.IntN(3) {
		case 0:
			s = s[:i]
		case 1:
			s = s[:i] + junk[rng.IntN(len(junk))] + s[i:]
		default:
			j := min(len(s), i+1+rng.IntN(3))
			for j < len(s) && s[j]&0xC0 == 0x80 {
				j++
			}
			s = s[:i] + junk[rng.IntN(len(junk))] + s[j:]
		}
		out = append(out, s)
	}
	return out
}

func TestParseJSONMatchesNode(t *testing.T) {
	fixed, err := os.ReadFile("testdata/json-errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(strings.TrimSuffix(string(fixed), "\n"), "\n")
	texts = append(texts, jsonMutations(rand.New(rand.NewPCG(7, 11)), 3000)...)
	var in bytes.Buffer
	for _, s := range texts {
		b, _ := json.Marshal(s)
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command("node", "-e", nodeJSONScript)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("node answered %d lines for %d texts", len(lines), len(texts))
	}
	// The outcome (error or not) and every successful output must match;
	// error wording may differ (contract section 7) but should rarely.
	bad, wording := 0, 0
	for i, s := range texts {
		var want struct {
			OK  *string `json:"ok"`
			Err string  `json:"err"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
			t.Fatal(err)
		}
		v, err := ParseJSONText(s)
		switch {
		case (err == nil) != (want.OK != nil):
			bad++
			t.Errorf("%q: outcome differs: go err=%v, node %s", s, err, lines[i])
		case err == nil && string(Stringify(v)) != *want.OK:
			bad++
			t.Errorf("%q: go %s, node %s", s, Stringify(v), *want.OK)
		case err != nil && err.Error() != want.Err:
			if wording++; wording <= 3 {
				t.Logf("wording differs for %q: go %q, node %q", s, err, want.Err)
			}
		}
	}
	t.Logf("%d texts, %d outcome mismatches, %d error wordings differ", len(texts), bad, wording)
	if bad > 0 || wording*20 > len(texts) {
		t.Fatalf("%d outcome mismatches, %d wording differences of %d texts", bad, wording, len(texts))
	}
}
