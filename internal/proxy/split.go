package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/trpc"
)

// maxSplitBody bounds the body the proxy reads to split a tRPC batch; a
// larger one goes to legacy whole (streamed, as ever).
const maxSplitBody = 16 << 20

// part is one side's share of a split batch.
type part struct {
	dest    string
	handler http.Handler
	sub     trpc.SubRequest
	rec     *bufferedResponse
	took    time.Duration
}

// split sends each side its share of a tRPC batch in parallel and joins the
// answers back in the original order with tRPC's batch status rule. A batch
// whose input cannot be split (unparsable, or too large to read) goes to
// legacy whole, which answers it as tRPC would.
func (p *Proxy) split(w http.ResponseWriter, r *http.Request, d *routing.Decision) {
	body, whole, err := readBounded(r.Body, maxSplitBody)
	if err != nil {
		if sc := ScopeFrom(r.Context()); sc != nil {
			sc.Status, sc.Err = StatusClientClosed, err
		}
		return
	}
	if !whole {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		p.whole(w, r, d, "body too large to split")
		return
	}
	inputs, err := trpc.ExtractInputs(*d.TRPC, r.Method, body)
	if err != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.whole(w, r, d, "input cannot be split: "+err.Error())
		return
	}
	parts := p.parts(d, r.Method, inputs)
	var wg sync.WaitGroup
	for _, pt := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runPart(r, pt)
		}()
	}
	wg.Wait()
	if !gone(r) {
		for _, pt := range parts {
			p.report(d, sideOf(pt.dest), pt.sub.Calls, pt.rec.status, pt.rec.body.Bytes(), pt.took)
		}
	}
	p.retryFailedParts(r, d, parts)
	entries := make([]trpc.Entry, len(d.Calls))
	var head http.Header
	for _, pt := range parts {
		got, err := trpc.ParseBatch(pt.rec.body.Bytes())
		if err != nil || len(got) != len(pt.sub.Calls) {
			code := trpcErrorFor(pt.rec.status)
			msg := errorMessages[code.HTTPStatus()].text
			if msg == "" {
				msg = errorMessages[http.StatusBadGateway].text
			}
			got = make([]trpc.Entry, len(pt.sub.Calls))
			for i, ci := range pt.sub.Calls {
				got[i] = trpc.ErrorEntry(code, msg, d.TRPC.Names[ci])
			}
		} else if head == nil || pt.dest == "legacy" {
			head = pt.rec.header
		}
		for i, ci := range pt.sub.Calls {
			entries[ci] = got[i]
		}
	}
	p.writeJoined(w, d, head, entries)
}

// runPart sends one side its share and times it.
func (p *Proxy) runPart(r *http.Request, pt *part) {
	start := p.opts.Now()
	defer func() { pt.took = p.opts.Now().Sub(start) }()
	defer recoverPart(pt)
	pt.handler.ServeHTTP(pt.rec, subRequest(r, pt.sub))
}

// retryFailedParts sends a new side's share again to legacy when that side
// failed as a whole (5xx or no answer) and the share holds only queries.
func (p *Proxy) retryFailedParts(r *http.Request, d *routing.Decision, parts []*part) {
	for _, pt := range parts {
		if pt.dest == "legacy" || pt.rec.status < 500 && pt.rec.status != 0 {
			continue
		}
		safe := true
		for _, ci := range pt.sub.Calls {
			safe = safe && d.Calls[ci].Kind == routing.KindQuery
		}
		if !safe {
			continue
		}
		p.fallback.fallbacks.WithLabelValues(d.Label, pt.dest, "new_side_failed").Inc()
		pt.dest, pt.handler, pt.rec = "legacy", p.legacy, newBufferedResponse()
		p.runPart(r, pt)
		p.report(d, guard.SideLegacy, pt.sub.Calls, pt.rec.status, pt.rec.body.Bytes(), pt.took)
	}
}

// parts groups the calls by destination, in order of first appearance.
func (p *Proxy) parts(d *routing.Decision, method string, inputs [][]byte) []*part {
	var parts []*part
	byDest := map[string]*part{}
	idx := map[string][]int{}
	for i, c := range d.Calls {
		dest := c.Dest()
		if _, ok := byDest[dest]; !ok {
			pt := &part{dest: dest, rec: newBufferedResponse()}
			if dest == "legacy" {
				pt.handler = p.legacy
			} else {
				pt.handler = p.newSide(c.Route.Target)
			}
			byDest[dest] = pt
			parts = append(parts, pt)
		}
		idx[dest] = append(idx[dest], i)
	}
	for _, pt := range parts {
		pt.sub = trpc.Split(*d.TRPC, method, inputs, idx[pt.dest])
	}
	return parts
}

func recoverPart(pt *part) {
	if v := recover(); v != nil {
		pt.rec.status = http.StatusBadGateway
		pt.rec.body.Reset()
	}
}

// whole sends a batch that cannot be split to legacy, untouched.
func (p *Proxy) whole(w http.ResponseWriter, r *http.Request, d *routing.Decision, why string) {
	if sc := ScopeFrom(r.Context()); sc != nil {
		sc.Target = "legacy"
	}
	d.Reason = why
	p.admin(w, d, "legacy")
	p.legacy.ServeHTTP(w, r)
}

// writeJoined writes the joined batch with the headers of the legacy part
// (its security headers, vary and content type), or of the new part.
func (p *Proxy) writeJoined(w http.ResponseWriter, d *routing.Decision, head http.Header, entries []trpc.Entry) {
	h := w.Header()
	for k, v := range head {
		switch k {
		case "Content-Length", "Date", "X-Request-Id", "Transfer-Encoding", "Connection":
			continue
		}
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	if d.Admin {
		h.Set(routing.TargetHeader, "split")
	}
	w.WriteHeader(trpc.BatchStatus(entries))
	_, _ = w.Write(trpc.Join(entries))
}

// subRequest is r carrying one side's share of the batch.
func subRequest(r *http.Request, sub trpc.SubRequest) *http.Request {
	out := r.Clone(r.Context())
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = pathUnescape(sub.Path), sub.Path, sub.RawQuery
	out.URL = &u
	out.RequestURI = sub.Path
	if sub.RawQuery != "" {
		out.RequestURI += "?" + sub.RawQuery
	}
	out.Body = http.NoBody
	out.ContentLength = 0
	if sub.Body != nil {
		out.Body = io.NopCloser(bytes.NewReader(sub.Body))
		out.ContentLength = int64(len(sub.Body))
		out.Header.Set("Content-Length", strconv.Itoa(len(sub.Body)))
	}
	out.Header.Del("Transfer-Encoding")
	return out
}

func pathUnescape(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

// readBounded reads up to limit bytes; whole is false when more remain.
func readBounded(r io.Reader, limit int64) (b []byte, whole bool, err error) {
	if r == nil || r == http.NoBody {
		return nil, true, nil
	}
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, false, err
	}
	if int64(len(b)) > limit {
		return b, false, nil
	}
	return b, true, nil
}

// bufferedResponse captures one side's answer in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Flush lets streaming handlers write into the buffer.
func (b *bufferedResponse) Flush() {}
