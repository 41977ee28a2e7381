package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/nanopore/strangler/internal/testutil"
)

// streamBytes is the size of the streamed upload and download: far more than
// the memory bound, so that a proxy buffering either would exceed it.
const streamBytes = 200 << 20

// memoryBound is the peak resident memory the proxy process may reach while
// streaming streamBytes each way.
const memoryBound = 100 << 20

// TestE2EStreamingThroughTheProxyProcess streams a large download and upload,
// server-sent events and a WebSocket through the strangler binary, and
// checks from /proc that the process never held a whole body in memory.
func TestE2EStreamingThroughTheProxyProcess(t *testing.T) {
	t.Parallel()
	legacy := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), TestRoutes: true})
	proxy, proc := startProxyProcess(t, legacy.URL)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 5 * e2eTimeout}

	peak0, rss0 := procMemory(t, proc.PID())
	t.Run("download", func(t *testing.T) { streamDownload(t, client, proxy.URL) })
	peak1, rss1 := procMemory(t, proc.PID())
	t.Run("upload", func(t *testing.T) { streamUpload(t, client, proxy.URL) })
	peak2, rss2 := procMemory(t, proc.PID())
	t.Logf("proxy memory (VmHWM peak / VmRSS): at start %s / %s, after the %d MiB download %s / %s, after the %d MiB upload %s / %s",
		mib(peak0), mib(rss0), streamBytes>>20, mib(peak1), mib(rss1), streamBytes>>20, mib(peak2), mib(rss2))
	if peak2 > memoryBound {
		t.Errorf("the proxy's peak resident memory reached %s while streaming (bound %s): a body was buffered", mib(peak2), mib(memoryBound))
	}

	t.Run("server-sent events", func(t *testing.T) { sseOneByOne(t, proxy.Addr) })
	t.Run("websocket echo", func(t *testing.T) { websocketEcho(t, proxy.Addr) })
}

func procMemory(t *testing.T, pid int) (peak, rss int64) {
	t.Helper()
	peak, rss, err := testutil.ProcMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	return peak, rss
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// pattern is the stand-in's download content: byte i is (i*31+7) & 0xff.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off+int64(i))*31 + 7)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// checkPattern reads r to the end and returns how many bytes matched the
// pattern, or an error at the first byte that did not.
func checkPattern(r io.Reader, start int64) (int64, error) {
	buf := make([]byte, 256<<10)
	off := start
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			if buf[i] != byte((off+int64(i))*31+7) {
				return off + int64(i), fmt.Errorf("byte %d is %#x, want %#x", off+int64(i), buf[i], byte((off+int64(i))*31+7))
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

func streamDownload(t *testing.T, client *http.Client, base string) {
	resp, err := client.Get(fmt.Sprintf("%s/__standin/download?bytes=%d", base, streamBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("download answer: %d, length %d, %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}
	n, err := checkPattern(resp.Body, 0)
	if err != nil || n != streamBytes {
		t.Fatalf("downloaded %d of %d bytes: %v", n, streamBytes, err)
	}
}

func streamUpload(t *testing.T, client *http.Client, base string) {
	sum := sha256.New()
	body := io.TeeReader(&pattern{n: streamBytes}, sum)
	req, err := http.NewRequest(http.MethodPost, base+"/__standin/upload", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = streamBytes
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload answer %d: %v", resp.StatusCode, err)
	}
	if want := hex.EncodeToString(sum.Sum(nil)); got.Bytes != streamBytes || got.SHA256 != want {
		t.Fatalf("legacy received %d bytes, sha256 %s; sent %d, %s", got.Bytes, got.SHA256, streamBytes, want)
	}
}

// sseOneByOne reads the first event of a stream whose second event is ten
// minutes away: it can only arrive if the proxy forwards each event as
// legacy flushes it. The stream must then still be open, and a short stream
// must arrive whole and in order.
func sseOneByOne(t *testing.T, addr string) {
	conn, events := openSSE(t, addr, "/__standin/sse?n=2&interval_ms=600000")
	defer conn.Close()
	if ev, err := events(); err != nil || ev != "id: 0\nevent: tick\ndata: {\"i\":0}\n" {
		t.Fatalf("first event %q, %v", ev, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if ev, err := events(); !isTimeout(err) {
		t.Fatalf("after the first event the stream should wait for the second, got %q, %v", ev, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(e2eTimeout))

	conn2, events2 := openSSE(t, addr, "/__standin/sse?n=5&interval_ms=1")
	defer conn2.Close()
	for i := range 5 {
		want := fmt.Sprintf("id: %d\nevent: tick\ndata: {\"i\":%d}\n", i, i)
		if ev, err := events2(); err != nil || ev != want {
			t.Fatalf("event %d: %q, %v", i, ev, err)
		}
	}
	if ev, err := events2(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last event: %q, %v", ev, err)
	}
}

// openSSE sends a raw GET and returns the connection and a function that
// reads the next event (its lines, blank line excluded).
func openSSE(t *testing.T, addr, target string) (net.Conn, func() (string, error)) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(e2eTimeout))
	if _, err := io.WriteString(conn, httpRequest("GET", target, addr, []string{"Accept: text/event-stream"}, "")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" ||
		len(resp.TransferEncoding) == 0 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("SSE answer %d %v %v", resp.StatusCode, resp.TransferEncoding, resp.Header)
	}
	body := bufio.NewReader(httputil.NewChunkedReader(br))
	return conn, func() (string, error) {
		var ev strings.Builder
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return ev.String() + line, err
			}
			if line == "\n" {
				return ev.String(), nil
			}
			ev.WriteString(line)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// frameCodec sends and receives one WebSocket message, keeping its frame
// type, so that the test sees text stay text and binary stay binary.
var frameCodec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) {
		m := v.(wsMessage)
		return m.data, m.kind, nil
	},
	Unmarshal: func(data []byte, kind byte, v any) error {
		*v.(*wsMessage) = wsMessage{kind: kind, data: append([]byte(nil), data...)}
		return nil
	},
}

type wsMessage struct {
	kind byte
	data []byte
}

func websocketEcho(t *testing.T, addr string) {
	cfg, err := websocket.NewConfig("ws://"+addr+"/__standin/ws", "http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	defer ws.Close()
	_ = ws.SetDeadline(time.Now().Add(e2eTimeout))
	for _, m := range []wsMessage{
		{kind: websocket.TextFrame, data: []byte("hello through the proxy")},
		{kind: websocket.BinaryFrame, data: []byte{0, 1, 2, 0xfe, 0xff}},
		{kind: websocket.TextFrame, data: []byte(strings.Repeat("x", 200<<10))},
	} {
		if err := frameCodec.Send(ws, m); err != nil {
			t.Fatal(err)
		}
		var got wsMessage
		if err := frameCodec.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got.kind != m.kind || string(got.data) != string(m.data) {
			t.Fatalf("echo of a %d-byte frame of type %d came back as %d bytes of type %d", len(m.data), m.kind, len(got.data), got.kind)
		}
	}
}
