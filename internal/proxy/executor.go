package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/trpc"
)

// Decider decides where a request goes (package routing's Router).
type Decider interface {
	Decide(r *http.Request) routing.Decision
}

var _ Decider = (*routing.Router)(nil)

// execute sends the request to the side its decision names.
func (p *Proxy) execute(w http.ResponseWriter, r *http.Request) {
	sc := ScopeFrom(r.Context())
	if p.opts.Router == nil {
		sc.Route, sc.Target = routing.LabelPassthrough, "legacy"
		p.legacy.ServeHTTP(w, r)
		return
	}
	d := p.opts.Router.Decide(r)
	sc.Route = d.Label
	if !d.Plain() {
		// Beyond a plain passthrough the request id travels with the
		// request itself: to in-process services, shadow copies, dual
		// writes and split calls. A plain passthrough leaves the client's
		// header map alone, which keeps the reverse proxy's header work
		// on it cheap; the upstream request gets the id in Rewrite.
		r.Header[RequestIDHeader] = sc.idHeader
	}
	marked := stripClientIdentity(r.Header)
	if d.TooLong {
		sc.Target = "proxy"
		p.writeJSON(w, r, http.StatusRequestURITooLong, "uri_too_long", "The request path is longer than the proxy accepts.")
		return
	}
	if d.Side == routing.SideDeny {
		sc.Target = "deny"
		p.writeDeny(w, r, d.Route)
		return
	}
	if !p.authenticate(w, r, &d) {
		return
	}
	if d.BucketCookie != "" {
		http.SetCookie(w, p.bucketCookie(r, d.BucketCookie))
	}
	sh := p.shadowBegin(r, &d, marked)
	switch {
	case d.Split:
		sc.Target = "split"
		p.split(w, r, &d)
	case d.Side == routing.SideNew:
		t := d.Target()
		sc.Target = t.String()
		p.toNew(sh.Wrap(w), r, &d, sc.Target, p.newSide(t))
		if sh != nil {
			if sc.Target == "legacy" {
				sh.Skip("fallback") // legacy answered: nothing of the new side to compare
			}
			p.submit(sh, sc, t)
		}
	default:
		sc.Target = "legacy"
		dw := p.dualBegin(r, &d, sc.ID)
		p.forward(dw.Wrap(sh.Wrap(w)), r, &d, "legacy", p.legacy)
		dw.Done()
		if sh != nil {
			p.submit(sh, sc, shadowTarget(&d))
		}
	}
}

// forward sends the whole request to one target, within its in-flight cap,
// and reports the answer to the guard.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, d *routing.Decision, target string, h http.Handler) guard.Outcome {
	slot, ok := p.flight.acquire(target)
	if !ok {
		p.shed(w, r)
		return guard.OutcomeOK
	}
	defer p.flight.release(slot)
	p.admin(w, d, target)
	return p.observed(w, r, d, target, h)
}

// admin tells a request with a valid admin token which side answered.
func (p *Proxy) admin(w http.ResponseWriter, d *routing.Decision, target string) {
	if d.Admin {
		w.Header().Set(routing.TargetHeader, target)
	}
}

// writeDeny answers a denied route: 403 with a JSON reason, for every method.
func (p *Proxy) writeDeny(w http.ResponseWriter, r *http.Request, rt *routing.Route) {
	body, _ := json.Marshal(map[string]string{
		"error":   "forbidden",
		"message": rt.DenyReason,
		"route":   rt.ID,
	})
	p.writeBody(w, r, http.StatusForbidden, body)
}

func (p *Proxy) writeJSON(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body, _ := json.Marshal(map[string]string{"error": code, "message": msg,
		"request_id": w.Header().Get(RequestIDHeader)})
	p.writeBody(w, r, status, body)
}

func (p *Proxy) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// bucketCookie is the proxy's own canary bucket cookie: random, HttpOnly,
// for the whole site.
func (p *Proxy) bucketCookie(r *http.Request, value string) *http.Cookie {
	return &http.Cookie{
		Name: p.opts.CanaryCookie, Value: value, Path: "/",
		MaxAge: int(p.opts.CanaryCookieMaxAge / time.Second), HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	}
}

// newSide returns the handler of a route's new target: the in-process
// service, or a reverse proxy to its URL (made once per URL).
func (p *Proxy) newSide(t routing.Target) http.Handler {
	if t.Kind == routing.TargetService {
		if h, ok := p.opts.Services[t.Name]; ok {
			return h
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.upstreamError(w, r, t.String(), errNoService)
		})
	}
	if v, ok := p.remotes.Load(t.Name); ok {
		return v.(*instances)
	}
	urls := t.URLs
	if len(urls) == 0 && t.URL != nil {
		urls = []*url.URL{t.URL}
	}
	v, _ := p.remotes.LoadOrStore(t.Name, p.newInstances(t.String(), urls))
	return v.(*instances)
}

var errNoService = &serviceMissing{}

type serviceMissing struct{}

func (*serviceMissing) Error() string { return "service is not mounted in this process" }

// remotes caches reverse proxies to remote targets.
type remoteCache = sync.Map

// trpcErrorFor maps the proxy's own failure statuses to tRPC codes.
func trpcErrorFor(status int) trpc.Code {
	switch status {
	case http.StatusGatewayTimeout:
		return trpc.GatewayTimeout
	case http.StatusServiceUnavailable:
		return trpc.ServiceUnavailable
	case http.StatusInternalServerError:
		return trpc.InternalServerError
	}
	return trpc.BadGateway
}
