package validate

import (
	"errors"
	"math"
	"testing"
)

func TestParseJSONLikeJSONParse(t *testing.T) {
	cases := []struct{ name, in, out string }{
		{"duplicate keys: last wins, first position", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{"integer-like keys first, ascending", `{"b":1,"2":2,"a":3,"1":4,"01":5}`, `{"1":4,"2":2,"b":1,"a":3,"01":5}`},
		{"surrogate pair escape", `"\ud83d\ude00"`, `"😀"`},
		{"lone surrogates survive", `["\ud800","x\udc00y"]`, `["\ud800","x\udc00y"]`},
		{"overflow is Infinity, stringified null", `[1e999,-1e999]`, `[null,null]`},
		{"negative zero stringifies as 0", `-0`, `0`},
		{"U+2028 stays raw", "\"a\u2028b\"", "\"a\u2028b\""},
		{"control characters escape lower-case", `"\u0001\u001f\b"`, `"\u0001\u001f\b"`},
		{"no HTML escaping", `"<a>&</a>"`, `"<a>&</a>"`},
		{"whitespace", " \t\n\r{ \"a\" : [ 1 , 2 ] }\r\n", `{"a":[1,2]}`},
		{"__proto__ is an own key", `{"__proto__":{"x":1}}`, `{"__proto__":{"x":1}}`},
		{"numbers like JS", `[1E2,2.5e3,1e21,1e-7,0.000001,123456789012345678901234,0.1]`, `[100,2500,1e+21,1e-7,0.000001,1.2345678901234569e+23,0.1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseJSONText(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(Stringify(v)); got != tc.out {
				t.Fatalf("got %s want %s", got, tc.out)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{``, "Unexpected end of JSON input"},
		{`{"a":1`, "Expected ',' or '}' after property value in JSON at position 6"},
		{`[1,`, "Unexpected end of JSON input"},
		{`01`, "Unexpected number in JSON at position 1"},
		{`{a:1}`, "Expected property name or '}' in JSON at position 1"},
		{`{"a":1,}`, "Expected double-quoted property name in JSON at position 7"},
		{`[1,]`, "Unexpected token ']', \"[1,]\" is not valid JSON"},
		{`{"a" 1}`, "Expected ':' after property name in JSON at position 5"},
		{`[1 2]`, "Expected ',' or ']' after array element in JSON at position 3"},
		{`1 2`, "Unexpected non-whitespace character after JSON at position 2"},
		{`-`, "No number after minus sign in JSON at position 1"},
		{`-a`, "No number after minus sign in JSON at position 1"},
		{`1.`, "Unterminated fractional number in JSON at position 2"},
		{`"\x"`, "Bad escaped character in JSON at position 2"},
		{"\"a\nb\"", "Bad control character in string literal in JSON at position 2"},
		{`"\u12"`, "Bad Unicode escape in JSON at position 5"},
		{"\ufeff{}", "Unexpected token '\ufeff', \"\ufeff{}\" is not valid JSON"},
		{`undefined`, "\"undefined\" is not valid JSON"},
		{`nulx`, "Unexpected token 'x', \"nulx\" is not valid JSON"},
	}
	for _, tc := range cases {
		_, err := ParseJSONText(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Message != tc.msg {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.msg)
		}
	}
}

func TestDecodeUTF8ReplacesLikeWHATWG(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
	}{
		{[]byte("ok é"), "ok é"},
		{[]byte{0xE2, 0x82, 'x'}, "\uFFFDx"},             // truncated sequence: one U+FFFD
		{[]byte{0xFF, 0xFF}, "\uFFFD\uFFFD"},             // each invalid byte
		{[]byte{0xED, 0xA0, 0x80}, "\uFFFD\uFFFD\uFFFD"}, // encoded surrogate
		{[]byte{0xF0, 0x9F, 0x98}, "\uFFFD"},             // truncated at end
		{[]byte{0xC0, 0xAF}, "\uFFFD\uFFFD"},             // overlong
	}
	for _, tc := range cases {
		if got := DecodeUTF8(tc.in); got != tc.want {
			t.Errorf("%x: got %q want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	cases := map[float64]string{
		0: "0", 1: "1", -1.5: "-1.5", 0.001: "0.001", 1e21: "1e+21", 1e20: "100000000000000000000",
		1e-6: "0.000001", 1e-7: "1e-7", 1.5e-7: "1.5e-7", 123.456: "123.456", 5e-324: "5e-324",
		math.MaxFloat64: "1.7976931348623157e+308", 10000: "10000", 1e300 * 10: "1e+301",
		math.Inf(1): "Infinity", math.Copysign(0, -1): "0",
	}
	for f, want := range cases {
		if got := FormatNumber(f); got != want {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
	}
}

func TestStringHelpersCountLikeJS(t *testing.T) {
	if n := UTF16Len("a😀é"); n != 4 {
		t.Errorf("UTF16Len = %d, want 4", n)
	}
	lone, _ := ParseJSONText(`"\ud800x"`)
	if n := UTF16Len(lone.(string)); n != 2 {
		t.Errorf("lone surrogate UTF16Len = %d, want 2", n)
	}
	in := "\ufeff\u00a0\u2028 \t x \u3000\u205f\n"
	if got := TrimJS(in); got != "x" {
		t.Errorf("TrimJS = %q", got)
	}
	if got := TrimJS("\u0085x\u180e"); got != "\u0085x\u180e" {
		t.Errorf("TrimJS must keep U+0085 and U+180E, got %q", got)
	}
}

func TestCompileJSRegexp(t *testing.T) {
	re, err := CompileJSRegexp(`^[a-zA-Z0-9\s\-_.]+$`)
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"a b": true, "a\u2028b": true, "a\u00a0b": true, "a\u0085b": false,
		"a\nb": true, "a\n": true, "é": false, "a.b-c_d": true, "": false} {
		if re.MatchString(s) != want {
			t.Errorf("%q: want %v", s, want)
		}
	}
	dot, _ := CompileJSRegexp(`^a.b$`)
	if dot.MatchString("a\u2028b") || !dot.MatchString("axb") {
		t.Error("'.' must exclude JS line terminators")
	}
	for _, bad := range []string{`(?=a)`, `(a)\1`, `[\S]`, `[]`} {
		if _, err := CompileJSRegexp(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestEmailAndUUIDFollowZod(t *testing.T) {
	for s, want := range map[string]bool{"jo@lab.org": true, "a..b@lab.org": false, ".a@lab.org": false,
		"a.@lab.org": false, "A+B@LAB.ORG": true, "\u212a@lab.org": false, "\u017f@lab.org": false,
		"a@lab.org\n": false, "a@lab.c": false, "a'b@lab.org": true, "a@-lab.org": false, "a@lab-.org": true} {
		if isEmail(s) != want {
			t.Errorf("email %q: want %v", s, want)
		}
	}
	for s, want := range map[string]bool{"00000000-0000-0000-0000-000000000000": true,
		"A5C0B0E4-1111-4222-8333-444455556666": true, "a5c0b0e4-1111-4222-8333-44445555666": false,
		"a5c0b0e4-1111-4222-8333-444455556666\n": false, "g5c0b0e4-1111-4222-8333-444455556666": false} {
		if isUUID(s) != want {
			t.Errorf("uuid %q: want %v", s, want)
		}
	}
}

func TestDecodeIntoStruct(t *testing.T) {
	out, err := Parse(Shape(F("name", String().Trim()), F("n", Default(Number(), 1.0))), []byte(`{"name":" x ","extra":1}`))
	if err != nil {
		t.Fatal(err)
	}
	var dst struct {
		Name string  `json:"name"`
		N    float64 `json:"n"`
	}
	if err := Decode(out, &dst); err != nil || dst.Name != "x" || dst.N != 1 {
		t.Fatalf("got %+v, %v", dst, err)
	}
}
