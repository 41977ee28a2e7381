package trpc

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		name, rest, query string
		names             []string
		batch             bool
		err               error
	}{
		{"single", "/nanopore.getAll", "", []string{"nanopore.getAll"}, false, nil},
		{"batch", "/nanopore.getAll,health/", "batch=1", []string{"nanopore.getAll", "health"}, true, nil},
		{"empty", "", "", []string{""}, false, nil},
		{"slash", "/", "", []string{""}, false, nil},
		{"two trailing slashes", "/health//", "", []string{"health"}, false, nil},
		{"three trailing slashes", "/health///", "", []string{"health/"}, false, nil},
		{"double leading slash", "//health", "", []string{"/health"}, false, nil},
		{"no batch: commas kept", "/a,b", "", []string{"a,b"}, false, nil},
		{"batch=0", "/a,b", "batch=0", []string{"a,b"}, false, nil},
		{"batch=true", "/a,b", "batch=true", []string{"a,b"}, false, nil},
		{"first batch wins", "/a,b", "batch=0&batch=1", []string{"a,b"}, false, nil},
		{"encoded name", "/a,b", "x=1&b%61tch=1", []string{"a", "b"}, true, nil},
		{"empty names", "/,a,", "batch=1", []string{"", "a", ""}, true, nil},
		{"escaped comma splits", "/a%2Cb", "batch=1", []string{"a", "b"}, true, nil},
		{"unicode", "/%C3%A9", "", []string{"é"}, false, nil},
		{"bad escape", "/%zz", "", nil, false, ErrMalformedPath},
		{"not utf-8", "/%FF", "", nil, false, ErrMalformedPath},
		{"truncated utf-8", "/%E0%A4", "", nil, false, ErrMalformedPath},
		{"too long", "/" + strings.Repeat("a", MaxPathBytes), "", nil, false, ErrTooLarge},
		{"too many calls", "/" + strings.Repeat(",", MaxCalls), "batch=1", nil, false, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseURL(tc.rest, tc.query)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && (!reflect.DeepEqual(req.Names, tc.names) || req.Batch != tc.batch) {
				t.Fatalf("got %q batch=%v, want %q batch=%v", req.Names, req.Batch, tc.names, tc.batch)
			}
		})
	}
}

func TestParseURLBounds(t *testing.T) {
	rest := "/" + strings.Repeat("nanopore.getAll,", MaxCalls-1) + "health"
	if len(rest) > MaxPathBytes {
		rest = "/" + strings.Repeat("a,", MaxCalls-1) + "b"
	}
	req, err := ParseURL(rest, "batch=1")
	if err != nil || len(req.Names) != MaxCalls {
		t.Fatalf("10,000 calls: %d names, %v", len(req.Names), err)
	}
	big := "/" + strings.Repeat("x", MaxPathBytes-1)
	if req, err := ParseURL(big, "batch=1"); err != nil || len(req.Names[0]) != MaxPathBytes-1 {
		t.Fatalf("64 KiB path: %v", err)
	}
}

func TestParseURLAllocatesOnlyTheSlice(t *testing.T) {
	allocs := testing.AllocsPerRun(200, func() {
		_, _ = ParseURL("/nanopore.getAll,health,nanopore.getProcessingSteps", "batch=1&input=%7B%7D")
	})
	if allocs > 1 {
		t.Fatalf("ParseURL allocates %.0f times per call, want 1", allocs)
	}
}

func BenchmarkParseURL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseURL("/nanopore.getAll,health,nanopore.getProcessingSteps", "batch=1&input=%7B%220%22%3Anull%7D")
	}
}

func TestExtractInputs(t *testing.T) {
	batch := func(n int, q string) Request { return Request{Names: make([]string, n), Batch: true, RawQuery: q} }
	cases := []struct {
		name   string
		req    Request
		method string
		body   string
		want   []string // "<nil>" for undefined
		errMsg string
	}{
		{"GET single", Request{Names: []string{"p"}, RawQuery: "input=%22x%22"}, "GET", "", []string{`"x"`}, ""},
		{"GET single absent", Request{Names: []string{"p"}}, "GET", "", []string{"<nil>"}, ""},
		{"GET empty input", batch(2, "input="), "GET", "", []string{"<nil>", "<nil>"}, ""},
		// Contract 1.3 [OBSERVED]: a batch member that is null and a missing
		// key both give undefined (the legacy app, not @trpc/server alone).
		{"GET batch", batch(3, "input=%7B%221%22%3A+%7B%22a%22%3A1%7D%2C%220%22%3Anull%7D"), "GET", "", []string{"<nil>", `{"a":1}`, "<nil>"}, ""},
		{"POST batch null member is undefined", batch(2, ""), "POST", `{"0": null ,"1":[null]}`, []string{"<nil>", "[null]"}, ""},
		{"POST single null stays null", Request{Names: []string{"p"}}, "POST", `null`, []string{"null"}, ""},
		{"GET single null stays null", Request{Names: []string{"p"}, RawQuery: "input=null"}, "GET", "", []string{"null"}, ""},
		{"GET batch not JSON", batch(1, "input=%7B"), "GET", "", nil, "Expected property name or '}' in JSON at position 1"},
		{"GET batch array", batch(1, "input=%5B1%5D"), "GET", "", nil, MsgBatchInputNotObject},
		{"POST single raw kept", Request{Names: []string{"p"}}, "POST", ` {"b":2, "a":1} `, []string{` {"b":2, "a":1} `}, ""},
		{"POST BOM dropped", Request{Names: []string{"p"}}, "POST", "\uFEFF1", []string{"1"}, ""},
		{"POST empty", Request{Names: []string{"p"}}, "POST", "", nil, "Unexpected end of JSON input"},
		{"POST batch dup and escaped keys", batch(2, ""), "POST", `{"0":1,"\u0031":"x","0":[2, 3]}`, []string{"[2, 3]", `"x"`}, ""},
		{"POST batch nested braces in strings", batch(1, ""), "POST", `{"0":{"s":"}{\"]"}}`, []string{`{"s":"}{\"]"}`}, ""},
		{"POST batch null", batch(1, ""), "POST", `null`, nil, MsgBatchInputNotObject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExtractInputs(tc.req, tc.method, []byte(tc.body))
			var ie *InputError
			if tc.errMsg != "" {
				if !errors.As(err, &ie) || ie.Message != tc.errMsg {
					t.Fatalf("err = %v, want %q", err, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				g := "<nil>"
				if got[i] != nil {
					g = string(got[i])
				}
				if g != w {
					t.Errorf("input %d = %s, want %s", i, g, w)
				}
			}
		})
	}
}

func TestSplitAndJoin(t *testing.T) {
	req, _ := ParseURL("/a,b%20c,d", "batch=1&x=%7E&input=ignored")
	inputs := [][]byte{[]byte(`{"k": 1}`), nil, []byte(`"s"`)}
	get := Split(req, "GET", inputs, []int{2, 1})
	if get.Path != "/api/trpc/d,b%20c" || get.Body != nil {
		t.Fatalf("GET split: %+v", get)
	}
	back, _ := ParseURL(strings.TrimPrefix(get.Path, Endpoint), get.RawQuery)
	ins, err := ExtractInputs(back, "GET", nil)
	if err != nil || !reflect.DeepEqual(back.Names, []string{"d", "b c"}) || string(ins[0]) != `"s"` || ins[1] != nil {
		t.Fatalf("GET split does not round-trip: %+v %q %v", back, ins, err)
	}
	if v, _ := QueryGet(get.RawQuery, "x"); v != "~" {
		t.Fatalf("other parameters must be kept: %s", get.RawQuery)
	}
	post := Split(req, "POST", inputs, []int{0, 2})
	if string(post.Body) != `{"0":{"k": 1},"1":"s"}` || !strings.HasSuffix(post.RawQuery, "batch=1") {
		t.Fatalf("POST split: %s ? %s", post.Body, post.RawQuery)
	}

	entries, err := ParseBatch([]byte(` [ {"result":{"data":1}} , {"error":{"message":"m","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"p"}}}, {"error":{"code":-32603,"data":{}}} ]`))
	if err != nil || len(entries) != 3 || entries[0].Status != 200 || entries[1].Status != 404 || entries[2].Status != 500 {
		t.Fatalf("ParseBatch: %+v %v", entries, err)
	}
	joined := Join([]Entry{entries[1], entries[0]})
	if string(joined) != `[{"error":{"message":"m","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"p"}}},{"result":{"data":1}}]` {
		t.Fatalf("Join: %s", joined)
	}
	for _, bad := range []string{`{"error":{}}`, `<html>502</html>`, `[1]`, ``} {
		if _, err := ParseBatch([]byte(bad)); !errors.Is(err, ErrNotBatch) {
			t.Errorf("%q: want ErrNotBatch, got %v", bad, err)
		}
	}
}

func TestBatchStatus(t *testing.T) {
	e := func(s ...int) []Entry {
		out := make([]Entry, len(s))
		for i, x := range s {
			out[i].Status = x
		}
		return out
	}
	for _, tc := range []struct {
		entries []Entry
		want    int
	}{{e(200, 200), 200}, {e(400, 400), 400}, {e(500, 500), 500}, {e(404), 404}, {e(200, 400), 207}, {e(500, 400), 207}} {
		if got := BatchStatus(tc.entries); got != tc.want {
			t.Errorf("%v: got %d want %d", tc.entries, got, tc.want)
		}
	}
}

func TestEnvelopes(t *testing.T) {
	got := string(AppendError(nil, NotFound, `No procedure found on path "<a>&`+"\u2028\x01\"", "<a>&", true))
	want := `{"error":{"message":"No procedure found on path \"<a>&` + "\u2028" + `\u0001\"","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"<a>&"}}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string(AppendError(nil, BadRequest, "Cannot mix procedure types in call: query, mutation", "", false)); got != `{"error":{"message":"Cannot mix procedure types in call: query, mutation","code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400}}}` {
		t.Fatalf("no path: %s", got)
	}
	for code, want := range map[Code][2]int{BadRequest: {-32600, 400}, NotFound: {-32004, 404}, MethodNotSupported: {-32005, 405},
		UnsupportedMediaType: {-32015, 415}, InternalServerError: {-32603, 500}, TooManyRequests: {-32029, 429},
		BadGateway: {-32603, 502}, ServiceUnavailable: {-32603, 503}, GatewayTimeout: {-32603, 504}, ParseError: {-32700, 400},
		Unauthorized: {-32001, 401}, Forbidden: {-32003, 403}, Conflict: {-32009, 409}, UnprocessableContent: {-32022, 422}} {
		if code.JSONRPC() != want[0] || code.HTTPStatus() != want[1] {
			t.Errorf("%s: %d/%d", code, code.JSONRPC(), code.HTTPStatus())
		}
	}
	req, _ := ParseURL("/a,b", "batch=1")
	status, body := ErrorResponse(req, BadGateway, "legacy is down")
	if status != 502 || !strings.HasPrefix(string(body), `[{"error":{"message":"legacy is down","code":-32603,"data":{"code":"BAD_GATEWAY","httpStatus":502,"path":"a"}}},`) {
		t.Fatalf("batch ErrorResponse: %d %s", status, body)
	}
	single, _ := ParseURL("/a,b", "")
	if _, body := ErrorResponse(single, BadGateway, "x"); body[0] != '{' || !strings.Contains(string(body), `"path":"a,b"`) {
		t.Fatalf("single ErrorResponse: %s", body)
	}
}

// FuzzParseURL: never panics, stays linear, and a batch split back into a
// sub-request parses to the same names and inputs.
func FuzzParseURL(f *testing.F) {
	f.Add("/nanopore.getAll,health/", "batch=1&input=%7B%220%22%3A1%7D")
	f.Add("/a%2Cb", "batch=1")
	f.Add("", "")
	f.Add("/%E0%A4", "b%61tch=1&input=%5B")
	f.Fuzz(func(t *testing.T, rest, query string) {
		req, err := ParseURL(rest, query)
		if err != nil {
			return
		}
		if !req.Batch && len(req.Names) != 1 {
			t.Fatalf("single call with %d names", len(req.Names))
		}
		inputs, err := ExtractInputs(req, "GET", nil)
		if err != nil || !req.Batch {
			return
		}
		idx := make([]int, len(req.Names))
		for i := range idx {
			idx[i] = i
		}
		sub := Split(req, "GET", inputs, idx)
		back, err := ParseURL(strings.TrimPrefix(sub.Path, Endpoint), sub.RawQuery)
		if err != nil || !reflect.DeepEqual(back.Names, req.Names) {
			t.Fatalf("split %q does not round-trip: %q %v", req.Names, back.Names, err)
		}
		again, err := ExtractInputs(back, "GET", nil)
		if err != nil || !reflect.DeepEqual(again, inputs) {
			t.Fatalf("inputs do not round-trip: %q vs %q (%v)", again, inputs, err)
		}
	})
}
