package proxy

import (
	"hash/fnv"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nanopore/strangler/internal/shadow"
)

// instances is a target with one or more instances, load-balanced across
// the healthy ones. Requests carrying a legacy session (the admin_session
// cookie or a bearer token) stick to one instance, because legacy keeps
// sessions and lockouts in process memory.
type instances struct {
	// shadow sends shadow copies to one instance, picked as requests are.
	shadow shadow.Caller
	name   string
	list   []*instance
	next   atomic.Uint64
	proxy  *Proxy
}

type instance struct {
	// Name is the health-check name: the target name, with "#N" when the
	// target has several instances.
	Name    string
	URL     *url.URL
	healthy atomic.Bool
	rp      *httputil.ReverseProxy
	shadow  shadow.Caller
}

func (p *Proxy) newInstances(target string, urls []*url.URL) *instances {
	in := &instances{name: target, proxy: p}
	for i, u := range urls {
		name := target
		if len(urls) > 1 {
			name = target + "#" + strconv.Itoa(i+1)
		}
		inst := &instance{Name: name, URL: u, rp: p.reverseProxy(u, target)}
		inst.shadow = shadow.Upstream(u, inst.rp.Transport)
		inst.healthy.Store(true) // until a check says otherwise
		in.list = append(in.list, inst)
	}
	in.shadow = in.shadowCaller()
	return in
}

// ServeHTTP forwards to one instance.
func (in *instances) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.pick(r).rp.ServeHTTP(w, r)
}

// pick chooses the instance: sticky by session when there is one
// (rendezvous hashing over the healthy instances, so a session moves only
// when its instance is down), round-robin over the healthy ones otherwise.
func (in *instances) pick(r *http.Request) *instance {
	if len(in.list) == 1 {
		return in.list[0]
	}
	candidates := in.healthy()
	if key := sessionKey(r); key != "" {
		var best *instance
		var bestScore uint64
		for _, inst := range candidates {
			h := fnv.New64a()
			_, _ = h.Write([]byte(key))
			_, _ = h.Write([]byte(inst.URL.String()))
			if s := h.Sum64(); best == nil || s > bestScore {
				best, bestScore = inst, s
			}
		}
		return best
	}
	return candidates[in.next.Add(1)%uint64(len(candidates))]
}

// healthy returns the healthy instances, or all of them when none is (a
// check that fails everywhere must not take the target away entirely).
func (in *instances) healthy() []*instance {
	out := make([]*instance, 0, len(in.list))
	for _, inst := range in.list {
		if inst.healthy.Load() {
			out = append(out, inst)
		}
	}
	if len(out) == 0 {
		return in.list
	}
	return out
}

// sessionKey is what ties a request to one legacy process: its
// admin_session cookie or its bearer token.
func sessionKey(r *http.Request) string {
	if c, err := r.Cookie("admin_session"); err == nil && c.Value != "" {
		return "c:" + c.Value
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		return "b:" + tok
	}
	return ""
}

// Instance names one instance for health checks.
type Instance struct {
	Name string
	URL  *url.URL
}

// Instances lists every instance of every target the proxy knows (legacy
// and remote targets), for the health checker.
func (p *Proxy) Instances() []Instance {
	var out []Instance
	add := func(in *instances) {
		for _, inst := range in.list {
			out = append(out, Instance{Name: inst.Name, URL: inst.URL})
		}
	}
	add(p.legacy)
	p.remotes.Range(func(_, v any) bool {
		add(v.(*instances))
		return true
	})
	return out
}

// SetHealthy records a health check result for an instance by name.
func (p *Proxy) SetHealthy(name string, ok bool) {
	set := func(in *instances) {
		for _, inst := range in.list {
			if inst.Name == name {
				inst.healthy.Store(ok)
			}
		}
	}
	set(p.legacy)
	p.remotes.Range(func(_, v any) bool {
		set(v.(*instances))
		return true
	})
}
