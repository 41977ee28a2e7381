package routing

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Buckets is the number of canary buckets: a percentage p puts buckets
// below p*100 on the new side.
const Buckets = 10000

// Bucket hashes a user's key for one flag into 0..Buckets-1 (FNV-1a, stable
// across replicas and releases). Salting with the flag key spreads the first
// users of each route differently.
func Bucket(flag, userKey string) int {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(flag); i++ {
		h = (h ^ uint64(flag[i])) * prime
	}
	h = (h ^ 0) * prime
	for i := 0; i < len(userKey); i++ {
		h = (h ^ uint64(userKey[i])) * prime
	}
	return int(h % Buckets)
}

// InCanary says whether a bucket is on the new side at percent. Raising the
// percentage only adds buckets, so users only ever move from legacy to new.
func InCanary(bucket, percent int) bool { return bucket < percent*(Buckets/100) }

type canaryKey struct {
	kind string // cookie, header, client_ip
	name string
}

func parseCanaryKeys(keys []string) ([]canaryKey, error) {
	out := make([]canaryKey, 0, len(keys))
	for _, k := range keys {
		kind, name, _ := strings.Cut(k, ":")
		switch {
		case kind == "client_ip" && name == "":
		case (kind == "cookie" || kind == "header") && name != "":
		default:
			return nil, fmt.Errorf("canary key %q: use cookie:NAME, header:NAME or client_ip", k)
		}
		out = append(out, canaryKey{kind: kind, name: name})
	}
	return out, nil
}

// userKey finds the first configured key present on the request.
func (rt *Router) userKey(r *http.Request) string {
	for _, k := range rt.keys {
		var v string
		switch k.kind {
		case "cookie":
			v = CookieValue(r.Header, k.name)
		case "header":
			v = r.Header.Get(k.name)
		case "client_ip":
			if a := ClientAddr(r.RemoteAddr, r.Header, rt.opts.TrustedProxies); a.IsValid() {
				v = a.String()
			}
		}
		if v != "" {
			return v
		}
	}
	return ""
}

// NewBucketID makes a random value for the proxy's own bucket cookie.
func NewBucketID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CookieValue returns the value of the first cookie named name, scanning the
// Cookie headers without allocating.
func CookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && k == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// ClientAddr is the client's address: the peer's, or, when the peer is a
// trusted proxy, the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy.
func ClientAddr(remoteAddr string, h http.Header, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !inAny(addr, trusted) {
		return addr
	}
	xff := strings.Join(h["X-Forwarded-For"], ",")
	for xff != "" {
		i := strings.LastIndexByte(xff, ',')
		part := strings.TrimSpace(xff[i+1:])
		xff = xff[:max(i, 0)]
		a, err := netip.ParseAddr(part)
		if err != nil {
			return addr // a malformed entry: trust nothing left of it
		}
		a = a.Unmap()
		if !inAny(a, trusted) {
			return a
		}
		addr = a
		if i < 0 {
			break
		}
	}
	return addr
}

func inAny(a netip.Addr, nets []netip.Prefix) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

func parseTokenHashes(hashes []string) ([][32]byte, error) {
	out := make([][32]byte, 0, len(hashes))
	for i, h := range hashes {
		b, err := hex.DecodeString(strings.ToLower(h))
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("admin_token_hashes[%d] is not a SHA-256 hex digest", i)
		}
		out = append(out, [32]byte(b))
	}
	return out, nil
}

// ValidToken says whether token is one of the admin tokens.
func (rt *Router) ValidToken(token string) bool {
	if token == "" || len(rt.tokens) == 0 {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	ok := 0
	for _, t := range rt.tokens {
		ok |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return ok == 1
}
