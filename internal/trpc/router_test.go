package trpc_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/trpc"
	"github.com/nanopore/strangler/internal/validate"
)

// rows streams n small objects without holding them in memory.
type rows int

func (n rows) WriteData(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteByte('[')
	for i := 0; i < int(n); i++ {
		if i > 0 {
			bw.WriteByte(',')
		}
		fmt.Fprintf(bw, `{"i":%d}`, i)
	}
	bw.WriteByte(']')
	return bw.Flush()
}

func guardRouter(t *testing.T) *httptest.Server {
	t.Helper()
	r, err := trpc.NewRouter(trpc.Options{},
		trpc.Procedure{Name: "health", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return map[string]string{"status": "ok"}, nil
		}},
		trpc.Procedure{Name: "boom", Kind: trpc.Mutation, Handler: func(context.Context, trpc.Input) (any, error) {
			panic("timer.done is not a function")
		}},
		trpc.Procedure{Name: "big", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return rows(100000), nil
		}},
		trpc.Procedure{Name: "nanopore.delete", Kind: trpc.Mutation, Input: validate.String().UUID(),
			Handler: func(_ context.Context, in trpc.Input) (any, error) {
				return nil, trpc.Errorf(trpc.NotFound, "Sample with ID '"+in.String()+"' not found")
			}},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestRouterAstroGuards(t *testing.T) {
	srv := guardRouter(t)
	cases := []struct {
		name, method, ctype, origin, body string
		status                            int
		wantCT, wantBody                  string
		security                          bool
	}{
		{"POST without content type", "POST", "", "", "", 403, "text/plain;charset=UTF-8", "Cross-site POST form submissions are forbidden", false},
		{"POST text/plain foreign", "POST", "text/plain", "http://evil.example", "{}", 403, "text/plain;charset=UTF-8", "Cross-site POST form submissions are forbidden", false},
		{"POST form", "POST", "application/x-www-form-urlencoded", "", "a=1", 403, "text/plain;charset=UTF-8", "Cross-site POST form submissions are forbidden", false},
		{"PUT without body", "PUT", "", "", "", 403, "text/plain;charset=UTF-8", "Cross-site PUT form submissions are forbidden", false},
		{"DELETE without body", "DELETE", "", "", "", 403, "text/plain;charset=UTF-8", "Cross-site DELETE form submissions are forbidden", false},
		{"POST json foreign origin passes", "POST", "application/json", "http://evil.example", "{}", 500, "application/json", `{"error":{"message":"timer.done is not a function","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"boom"}}}`, true},
		{"POST no content type same origin", "POST", "", "SELF", "", 415, "text/plain;charset=UTF-8", `{"error":{"message":"Missing content-type header","code":-32015,"data":{"code":"UNSUPPORTED_MEDIA_TYPE","httpStatus":415}}}`, true},
		{"POST text/plain same origin", "POST", "text/plain", "SELF", "{}", 415, "text/plain;charset=UTF-8", `{"error":{"message":"Unsupported content-type \"text/plain","code":-32015,"data":{"code":"UNSUPPORTED_MEDIA_TYPE","httpStatus":415}}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+"/api/trpc/boom", strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.origin == "SELF" {
				tc.origin = srv.URL
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.wantCT || string(b) != tc.wantBody {
				t.Fatalf("got %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			_, hasCSP := resp.Header["Content-Security-Policy"]
			_, hasVary := resp.Header["Vary"]
			if hasCSP != tc.security || hasVary != tc.security {
				t.Fatalf("security headers %v, vary %v; want %v", hasCSP, hasVary, tc.security)
			}
		})
	}
}

// rawGet returns the raw response head of one request, to see the bytes.
func rawGet(t *testing.T, srv *httptest.Server, method, path string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path)
	b, _ := io.ReadAll(conn)
	return string(b)
}

func TestRouterHeaders(t *testing.T) {
	srv := guardRouter(t)
	got := rawGet(t, srv, "GET", "/api/trpc/health")
	head, body, _ := strings.Cut(got, "\r\n\r\n")
	for _, want := range []string{"HTTP/1.1 200 OK", "Content-Type: application/json\r\n", "Vary: trpc-accept\r\n",
		"Transfer-Encoding: chunked", "Server: \r\n", "X-Powered-By: \r\n", "X-Frame-Options: DENY\r\n",
		"Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\r\n", "Referrer-Policy: strict-origin-when-cross-origin\r\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("head lacks %q:\n%s", want, head)
		}
	}
	if strings.Contains(head, "Content-Length") || !strings.Contains(body, `{"result":{"data":{"status":"ok"}}}`) {
		t.Errorf("want a chunked body without Content-Length:\n%s", got)
	}
	head = rawGet(t, srv, "HEAD", "/api/trpc/health")
	if !strings.HasPrefix(head, "HTTP/1.1 204 No Content") || strings.Contains(head, "Vary") ||
		strings.Contains(head, "\r\nContent-Type:") || !strings.Contains(head, "X-Content-Type-Options: nosniff") {
		t.Errorf("HEAD:\n%s", head)
	}
}

// guardCase is one answer of contract 1.7's guards, sent on a raw
// connection. "SELF" in origin is the server's own origin.
type guardCase struct {
	name, method, target, ctype, origin, body string
	status                                    int
}

// guardCases cover every guard of contract 1.7 (paths of the legacy app:
// health is a query, nanopore.delete a mutation with an input).
var guardCases = []guardCase{
	{"POST without content type", "POST", "/api/trpc/nanopore.delete", "", "", "", 403},
	{"POST text/plain foreign origin", "POST", "/api/trpc/nanopore.delete", "text/plain", "http://evil.example", "{}", 403},
	{"POST form", "POST", "/api/trpc/nanopore.delete", "application/x-www-form-urlencoded", "", "a=1", 403},
	{"PUT without body", "PUT", "/api/trpc/nanopore.delete", "", "", "", 403},
	{"DELETE without body", "DELETE", "/api/trpc/nanopore.delete", "", "", "", 403},
	{"HEAD", "HEAD", "/api/trpc/health", "", "", "", 204},
	{"OPTIONS without content type", "OPTIONS", "/api/trpc/health", "", "", "", 415},
	{"POST text/plain same origin", "POST", "/api/trpc/nanopore.delete", "text/plain", "SELF", "{}", 415},
	{"POST without content type same origin", "POST", "/api/trpc/nanopore.delete", "", "SELF", "", 415},
	{"POST to a query", "POST", "/api/trpc/health", "application/json", "", "{}", 405},
	{"GET of a mutation", "GET", "/api/trpc/nanopore.delete", "", "", "", 405},
	{"POST empty body", "POST", "/api/trpc/nanopore.delete", "application/json", "", "", 400},
	{"POST malformed JSON", "POST", "/api/trpc/nanopore.delete", "application/json", "", `{"a":1,}`, 400},
	{"batch POST malformed JSON", "POST", "/api/trpc/nanopore.delete,nanopore.delete?batch=1", "application/json", "", `{"0":1,`, 400},
	{"mixed kinds", "GET", "/api/trpc/health,nanopore.delete?batch=1", "", "", "", 400},
	{"unknown procedure", "GET", "/api/trpc/nope", "", "", "", 404},
	{"not found from the handler", "POST", "/api/trpc/nanopore.delete", "application/json", "", `"00000000-0000-0000-0000-000000000000"`, 404},
}

// rawAnswer sends c on a new connection to addr (host:port) and returns
// the status, whether the answer is chunked, whether it has a
// Content-Length, and the raw answer.
func rawAnswer(t *testing.T, addr string, c guardCase) (status int, chunked, length bool, raw string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", c.method, c.target, addr)
	if c.ctype != "" {
		fmt.Fprintf(&req, "Content-Type: %s\r\n", c.ctype)
	}
	if origin := strings.ReplaceAll(c.origin, "SELF", "http://"+addr); origin != "" {
		fmt.Fprintf(&req, "Origin: %s\r\n", origin)
	}
	if c.body != "" {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(c.body))
	}
	req.WriteString("\r\n" + c.body)
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	raw = string(b)
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	fmt.Sscanf(head, "HTTP/1.1 %d", &status)
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, value, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "transfer-encoding":
			chunked = strings.TrimSpace(value) == "chunked"
		case "content-length":
			length = true
		}
	}
	return status, chunked, length, raw
}

// TestRouterFramesEveryGuardAnswerLikeLegacy: contract 1.8, every answer
// with a body is chunked with no Content-Length, Astro's 403 included;
// HEAD's 204 has neither.
func TestRouterFramesEveryGuardAnswerLikeLegacy(t *testing.T) {
	srv := guardRouter(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range guardCases {
		t.Run(c.name, func(t *testing.T) {
			status, chunked, length, raw := rawAnswer(t, addr, c)
			if status != c.status || chunked != (status != 204) || length {
				t.Fatalf("status %d (want %d), chunked %v, Content-Length %v:\n%s", status, c.status, chunked, length, raw)
			}
		})
	}
}

func TestRouterStreamsLargeOutput(t *testing.T) {
	srv := guardRouter(t)
	resp, err := http.Get(srv.URL + "/api/trpc/big,health?batch=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(s, `[{"result":{"data":[{"i":0},{"i":1},`) ||
		!strings.HasSuffix(s, `{"i":99999}]}},{"result":{"data":{"status":"ok"}}}]`) || strings.Count(s, `"i":`) != 100000 {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(b))
	}
}

func TestNewRouterRejectsBadDeclarations(t *testing.T) {
	h := func(context.Context, trpc.Input) (any, error) { return nil, nil }
	for _, procs := range [][]trpc.Procedure{
		{{Name: "a", Kind: trpc.Query, Handler: h}, {Name: "a", Kind: trpc.Mutation, Handler: h}},
		{{Name: "a", Kind: "subscription", Handler: h}},
		{{Name: "a", Kind: trpc.Query}},
	} {
		if _, err := trpc.NewRouter(trpc.Options{}, procs...); err == nil {
			t.Errorf("%v: want an error", procs)
		}
	}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
