package samples

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestAppendText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Sample A", `"Sample A"`},
		{"empty", "", `""`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls lower-case hex", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"DEL stays raw", "\x7f", "\"\x7f\""},
		{"no HTML escaping", "<a>&</a>", `"<a>&</a>"`},
		{"line separators stay raw", "\u2028\u2029", "\"\u2028\u2029\""},
		{"non-ASCII raw", "μL × 10 😀", `"μL × 10 😀"`},
		{"slash raw", "a/b", `"a/b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendText(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("appendText(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"contract example", time.Date(2026, 11, 28, 10, 2, 57, 525000000, time.UTC), "2026-11-28T10:02:57.525Z"},
		{"truncated, not rounded", time.Date(2026, 11, 28, 10, 2, 57, 999999999, time.UTC), "2026-11-28T10:02:57.999Z"},
		{"microseconds dropped", time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC), "2026-01-02T03:04:05.678Z"},
		{"zero fraction", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000Z"},
		{"converted to UTC", time.Date(2026, 6, 1, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "2026-06-01T00:00:00.000Z"},
		{"before 1970 floors", time.UnixMicro(-1).UTC(), "1969-12-31T23:59:59.999Z"},
		{"year 0", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00.000Z"},
		{"negative year", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "-000001-01-01T00:00:00.000Z"},
		{"five-digit year", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "+010000-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime(%v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendValueBinary(t *testing.T) {
	micros := func(t time.Time) []byte {
		return binary.BigEndian.AppendUint64(nil, uint64(t.UnixMicro()-pgEpochMicros))
	}
	ts := time.Date(2026, 11, 28, 10, 2, 57, 525999000, time.UTC)
	uuid := []byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}
	tests := []struct {
		name string
		kind kind
		in   []byte
		want string
	}{
		{"null", kindText, nil, "null"},
		{"uuid", kindUUID, uuid, `"550e8400-e29b-41d4-a716-446655440000"`},
		{"int", kindInt, binary.BigEndian.AppendUint32(nil, 7), "7"},
		{"negative int", kindInt, binary.BigEndian.AppendUint32(nil, math.MaxUint32), "-1"},
		{"numeric text kept", kindNum, []byte("2.000"), `"2.000"`},
		{"time", kindTime, micros(ts), `"2026-11-28T10:02:57.525Z"`},
		{"infinity", kindTime, binary.BigEndian.AppendUint64(nil, math.MaxInt64), "null"},
		{"pg epoch", kindTime, make([]byte, 8), `"2000-01-01T00:00:00.000Z"`},
		{"json", kindJSON, []byte(`{"a": [1.50, 2], "b": "x y"}`), `{"a":[1.5,2],"b":"x y"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendValue(nil, tt.kind, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := appendValue(nil, kindUUID, []byte("short")); err == nil {
		t.Error("a uuid of 5 bytes should fail")
	}
}

func TestFormatJSNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1.23456, "1.23456"},
		{1.0005, "1.0005"},                              // the float is 1.000499999...; PostgreSQL rounds the text to 1.001
		{math.Nextafter(0.3, 1), "0.30000000000000004"}, // 0.1 + 0.2 at run time
		{100000, "100000"},
		{0.001, "0.001"},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
	}
	for _, tt := range tests {
		if got := formatJSNumber(tt.in); got != tt.want {
			t.Errorf("formatJSNumber(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAppendJSONText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`null`, `null`},
		{`{"a": 1, "b": [true, false, null]}`, `{"a":1,"b":[true,false,null]}`},
		{`{"s": "a b\"c\\ \u001f é"}`, `{"s":"a b\"c\\ \u001f é"}`},
		{`[1.50, -0, 1E2, 0.0000001]`, `[1.5,0,100,1e-7]`},
		{`"text"`, `"text"`},
	}
	for _, tt := range tests {
		got, err := appendJSONText(nil, []byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if string(got) != tt.want {
			t.Errorf("appendJSONText(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if _, err := appendJSONText(nil, []byte(`"open`)); err == nil {
		t.Error("an unterminated string should fail")
	}
}

func TestLegacyEmailTest(t *testing.T) {
	emails := map[string]bool{
		"Delete.Me@select.org": true,
		"jo.@lab.org":          true,
		"a@b.c":                true,
		"a@.b.c":               true,
		"a@b.":                 false,
		"a@.b":                 false,
		"@b.c":                 false,
		"a@b":                  false,
		"a b@c.d":              false,
		"a@b@c.d":              false,
		"a@b\u00a0.c":          false, // JS \s includes U+00A0
		"a@b\u0085.c":          true,  // ... but not U+0085
	}
	for in, want := range emails {
		if got := legacyEmail.MatchString(in); got != want {
			t.Errorf("legacy email test of %q = %v, want %v", in, got, want)
		}
	}
}

func TestWellFormed(t *testing.T) {
	lone := "a\xed\xa0\x80b\xed\xb0\x80\xed\xb0\x80" // WTF-8 of "a\uD800b\uDC00\uDC00"
	if got, want := wellFormed(lone), "a\uFFFDb\uFFFD\uFFFD"; got != want {
		t.Errorf("wellFormed = %q, want %q (one U+FFFD per lone surrogate, as Node)", got, want)
	}
	if s := "plain μ"; wellFormed(s) != s {
		t.Error("valid UTF-8 must pass unchanged")
	}
}

// TestPGTimeMatchesTimePackage: the civil-date arithmetic of appendPGTime
// gives what time.UnixMicro, Date and Clock give, from year -4713 (the
// oldest timestamptz) to 294000, around the epochs, leap days and
// century rules, and for instants before 1970 (floored, never rounded).
func TestPGTimeMatchesTimePackage(t *testing.T) {
	byTime := func(pgMicros int64) string {
		return `"` + FormatTime(time.UnixMicro(pgMicros+pgEpochMicros)) + `"`
	}
	var cases []int64
	for _, d := range []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2100, 2, 28, 23, 59, 59, 0, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 2, 29, 0, 0, 0, 1000, time.UTC), time.Date(0, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(294000, 12, 31, 23, 59, 59, 999999000, time.UTC),
	} {
		us := d.UnixMicro() - pgEpochMicros
		cases = append(cases, us-1, us, us+1, us+999, us+1000)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	lo := time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).UnixMicro() - pgEpochMicros
	// Random instants up to year 200000 (the span from -4713 to the top of
	// timestamptz's range, 294276, does not fit an int64 of microseconds);
	// the edge cases above go to 294000.
	hi := time.Date(200000, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro() - pgEpochMicros
	for range 100000 {
		cases = append(cases, lo+rng.Int64N(hi-lo))
	}
	for range 100000 { // the years lab data has
		cases = append(cases, rng.Int64N(100*365*86400*1e6)-50*365*86400*1e6)
	}
	for _, us := range cases {
		if got, want := string(appendPGTime(nil, us)), byTime(us); got != want {
			t.Fatalf("appendPGTime(%d) = %s, want %s", us, got, want)
		}
	}
}
