package main

// Helpers of the end-to-end tests (e2e_*_test.go): a proxy in-process or as
// a process in front of a real legacy stand-in, and raw HTTP exchanges that
// keep what net/http's client would hide (framing, empty header values,
// header spelling).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/testutil"
)

// shippedConfig is the configuration the e2e proxies run with: the real
// route table (deny routes, one route per tRPC procedure), every flag at its
// default mode, legacy.
const shippedConfig = "../../config/strangler.yaml"

// e2eTimeout is the ceiling of one exchange on a loaded machine.
const e2eTimeout = 60 * time.Second

// e2eEnv is the environment of an e2e proxy: free ports, no database (flags
// from an empty temporary file, so every route is legacy), legacy at
// legacyURL; extra overrides.
func e2eEnv(t *testing.T, legacyURL string, extra ...string) []string {
	return append([]string{
		"STRANGLER_LISTEN=127.0.0.1:0",
		"STRANGLER_ADMIN_LISTEN=127.0.0.1:0",
		"STRANGLER_DATABASE_URL=",
		"STRANGLER_FLAGS_FILE=" + filepath.Join(t.TempDir(), "flags.yaml"),
		"STRANGLER_LEGACY_URL=" + legacyURL,
	}, extra...)
}

// e2eProxy is a proxy under test, in-process or as a process.
type e2eProxy struct {
	URL, AdminURL string
	// Addr is the public listener's host:port.
	Addr string
}

// startProxy runs Main in-process with the shipped config and env overrides,
// and waits for /readyz.
func startProxy(t *testing.T, legacyURL string, extraEnv ...string) *e2eProxy {
	t.Helper()
	cfg, err := config.Load(config.Source{Path: shippedConfig, Explicit: true, Environ: e2eEnv(t, legacyURL, extraEnv...)})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &lockedBuffer{}
	m := NewMain(cfg, zerolog.New(logs).With().Timestamp().Logger())
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		m.Close()
		t.Fatalf("open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(e2eTimeout):
			t.Errorf("Run did not return after cancel")
		}
		m.Close()
		if t.Failed() {
			t.Logf("--- proxy log:\n%s", logs.String())
		}
	})
	p := &e2eProxy{URL: m.PublicURL(), AdminURL: m.AdminURL(), Addr: m.PublicAddr()}
	testutil.WaitReady(t, p.AdminURL)
	return p
}

// startProxyProcess runs the strangler binary with the shipped config.
func startProxyProcess(t *testing.T, legacyURL string, extraEnv ...string) (*e2eProxy, *testutil.Strangler) {
	t.Helper()
	s := testutil.StartStrangler(t, testutil.StranglerOptions{Env: e2eEnv(t, legacyURL, extraEnv...)})
	return &e2eProxy{URL: s.PublicURL, AdminURL: s.AdminURL, Addr: strings.TrimPrefix(s.PublicURL, "http://")}, s
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// headerField is one response header line as sent.
type headerField struct{ Name, Value string }

// rawResponse is an answer read off the wire.
type rawResponse struct {
	StatusLine string
	// Fields are the header lines in wire order; names as spelled.
	Fields []headerField
	// Chunked says the body came with Transfer-Encoding: chunked.
	Chunked bool
	Body    []byte
}

// Get returns the first value of a header (case-insensitive), and whether
// the header was present at all (an empty value counts as present).
func (r rawResponse) Get(name string) (string, bool) {
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// rawExchange sends request (the exact bytes, CRLF line ends) on a new
// connection to addr and reads one answer.
func rawExchange(t *testing.T, addr, request string) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(e2eTimeout))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatalf("write request: %v", err)
	}
	method, _, _ := strings.Cut(request, " ")
	resp, err := readRawResponse(bufio.NewReader(conn), method)
	if err != nil {
		t.Fatalf("read answer from %s: %v", addr, err)
	}
	return resp
}

// readRawResponse reads the status line and header lines verbatim, then lets
// net/http decode the framing of the body.
func readRawResponse(br *bufio.Reader, method string) (rawResponse, error) {
	var out rawResponse
	var head bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return out, fmt.Errorf("header: %w", err)
		}
		head.WriteString(line)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if out.StatusLine == "" {
			out.StatusLine = line
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		out.Fields = append(out.Fields, headerField{Name: name, Value: strings.Trim(value, " \t")})
	}
	req, _ := http.NewRequest(method, "http://x/", nil)
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(&head, br)), req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	out.Chunked = len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
	out.Body, err = io.ReadAll(resp.Body)
	return out, err
}

// httpRequest builds a raw HTTP/1.1 request. Headers are "Name: value"
// lines; Content-Length is added for a body.
func httpRequest(method, target, host string, headers []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == http.MethodPost {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// maskJSONValues replaces the value of every "key": in body whose key is in
// keys with "<masked>", leaving every other byte as it was.
func maskJSONValues(body []byte, keys ...string) []byte {
	if len(keys) == 0 {
		return body
	}
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = regexp.QuoteMeta(k)
	}
	re := regexp.MustCompile(`"(?:` + strings.Join(quoted, "|") + `)":`)
	var out []byte
	rest := body
	for {
		loc := re.FindIndex(rest)
		if loc == nil {
			return append(out, rest...)
		}
		out = append(out, rest[:loc[1]]...)
		rest = rest[loc[1]:]
		dec := json.NewDecoder(bytes.NewReader(rest))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return append(out, rest...)
		}
		out = append(out, `"<masked>"`...)
		rest = rest[dec.InputOffset():]
	}
}

var (
	uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	isoPattern  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)
)

// maskIDsAndTimes replaces random v4 UUIDs and millisecond ISO timestamps,
// the per-run fields of sample objects (contract section 7).
func maskIDsAndTimes(body []byte) []byte {
	body = uuidPattern.ReplaceAllFunc(body, func(id []byte) []byte {
		if string(id) == demoUserID {
			return id // constant: created_by of every sample
		}
		return []byte("<uuid>")
	})
	return isoPattern.ReplaceAll(body, []byte("<ts>"))
}

// demoUserID is the legacy app's hard-coded created_by (contract 8.1).
const demoUserID = "550e8400-e29b-41d4-a716-446655440000"
