package shadow

import (
	"math"
	"strings"

	"github.com/nanopore/strangler/internal/validate"
)

// Diff is one difference between the legacy and the new answer.
type Diff struct {
	// Path is where they differ; General is the same with indices as [*].
	Path    string `json:"path"`
	General string `json:"general"`
	// Kind: changed, type, missing (in the new answer), extra (only in the
	// new answer), key_order, id_mapping, outcome, issues, status, header,
	// body.
	Kind string `json:"kind"`
	// Legacy and New show the two values as compact JSON (shortened), or a
	// description; empty when absent.
	Legacy string `json:"legacy,omitempty"`
	New    string `json:"new,omitempty"`
	// Class is mismatch, accepted or noise; Reason and Owner name the
	// declared difference of an accepted one.
	Class  string `json:"class"`
	Reason string `json:"reason,omitempty"`
	Owner  string `json:"owner,omitempty"`

	// scalar: both values are JSON scalars, so the path may be learnt as
	// noise when two legacy answers differ there.
	scalar bool
}

// Diff classes.
const (
	ClassMismatch = "mismatch"
	ClassAccepted = "accepted"
	ClassNoise    = "noise"
)

// maxDiffs bounds the differences kept per compared call.
const maxDiffs = 200

// maxShown bounds the length of a value shown in a Diff.
const maxShown = 240

// differ compares two parsed JSON values under one set of rules.
type differ struct {
	rules *Rules
	memo  map[string]nodeRule
	ids   *idMap
	diffs []Diff
	// Truncated: more than maxDiffs differences were found.
	truncated bool
}

func newDiffer(r *Rules, ids *idMap) *differ {
	return &differ{rules: r, memo: map[string]nodeRule{}, ids: ids}
}

func (d *differ) rule(gen string) nodeRule {
	if n, ok := d.memo[gen]; ok {
		return n
	}
	n := d.rules.at(gen)
	d.memo[gen] = n
	return n
}

func (d *differ) add(df Diff) {
	if len(d.diffs) >= maxDiffs {
		d.truncated = true
		return
	}
	if df.General == "" {
		df.General = General(df.Path)
	}
	d.diffs = append(d.diffs, df)
}

// value compares a (legacy) with b (new) at path.
func (d *differ) value(path, gen string, a, b any) {
	n := d.rule(gen)
	switch {
	case n.ignore:
		return
	case n.presence:
		if (a == nil) != (b == nil) || kindOf(a) != kindOf(b) {
			d.add(Diff{Path: path, General: gen, Kind: "changed", Legacy: show(a), New: show(b), scalar: true})
		}
		return
	case n.mapID:
		as, aok := a.(string)
		bs, bok := b.(string)
		if aok && bok {
			if !d.ids.pair(as, bs) {
				d.add(Diff{Path: path, General: gen, Kind: "id_mapping", Legacy: show(a), New: show(b)})
			}
			return
		}
	}
	ka, kb := kindOf(a), kindOf(b)
	if ka != kb {
		d.add(Diff{Path: path, General: gen, Kind: "type", Legacy: show(a), New: show(b), scalar: ka != "object" && ka != "array" && kb != "object" && kb != "array"})
		return
	}
	switch av := a.(type) {
	case *validate.Object:
		d.object(path, gen, av, b.(*validate.Object))
	case []any:
		if n.unorderedKey != "" {
			d.unordered(path, gen, n.unorderedKey, av, b.([]any))
		} else {
			d.array(path, gen, av, b.([]any))
		}
	case float64:
		bv := b.(float64)
		if av == bv || n.hasTolerance && math.Abs(av-bv) <= n.tolerance {
			return
		}
		d.add(Diff{Path: path, General: gen, Kind: "changed", Legacy: show(a), New: show(b), scalar: true})
	default:
		if a != b {
			d.add(Diff{Path: path, General: gen, Kind: "changed", Legacy: show(a), New: show(b), scalar: true})
		}
	}
}

func (d *differ) object(path, gen string, a, b *validate.Object) {
	var ka, kb []string
	for _, k := range a.Keys() {
		p, g := appendKey(path, k), appendKey(gen, k)
		if d.rule(g).ignore {
			continue
		}
		ka = append(ka, k)
		bv, ok := b.Get(k)
		if !ok {
			d.add(Diff{Path: p, General: g, Kind: "missing", Legacy: show(a.Value(k))})
			continue
		}
		d.value(p, g, a.Value(k), bv)
	}
	for _, k := range b.Keys() {
		p, g := appendKey(path, k), appendKey(gen, k)
		if d.rule(g).ignore {
			continue
		}
		kb = append(kb, k)
		if _, ok := a.Get(k); !ok {
			d.add(Diff{Path: p, General: g, Kind: "extra", New: show(b.Value(k))})
		}
	}
	// Key order is part of what a client sees (contract 1.4); it is worth a
	// difference only when the same keys are present on both sides.
	if len(ka) == len(kb) && !sameOrder(ka, kb) && sameSet(ka, kb) {
		d.add(Diff{Path: path, General: gen, Kind: "key_order", Legacy: strings.Join(ka, ","), New: strings.Join(kb, ",")})
	}
}

func (d *differ) array(path, gen string, a, b []any) {
	eg := gen + "[*]"
	for i := 0; i < max(len(a), len(b)); i++ {
		p := appendIndex(path, i)
		switch {
		case i >= len(b):
			if !d.rule(eg).ignore {
				d.add(Diff{Path: p, General: eg, Kind: "missing", Legacy: show(a[i])})
			}
		case i >= len(a):
			if !d.rule(eg).ignore {
				d.add(Diff{Path: p, General: eg, Kind: "extra", New: show(b[i])})
			}
		default:
			d.value(p, eg, a[i], b[i])
		}
	}
}

// unordered pairs elements by the value of key; elements without it, or
// with a value seen twice, are paired by position among themselves.
func (d *differ) unordered(path, gen, key string, a, b []any) {
	eg := gen + "[*]"
	byKey := map[string][]int{}
	for j, el := range b {
		if k, ok := elementKey(el, key); ok {
			byKey[k] = append(byKey[k], j)
		}
	}
	used := make([]bool, len(b))
	var restA []int
	for i, el := range a {
		k, ok := elementKey(el, key)
		if js := byKey[k]; ok && len(js) > 0 {
			j := js[0]
			byKey[k] = js[1:]
			used[j] = true
			d.value(appendIndex(path, i), eg, el, b[j])
			continue
		}
		restA = append(restA, i)
	}
	var restB []int
	for j := range b {
		if !used[j] {
			restB = append(restB, j)
		}
	}
	for n := 0; n < max(len(restA), len(restB)); n++ {
		switch {
		case n >= len(restB):
			d.add(Diff{Path: appendIndex(path, restA[n]), General: eg, Kind: "missing", Legacy: show(a[restA[n]])})
		case n >= len(restA):
			d.add(Diff{Path: appendIndex(path, restB[n]), General: eg, Kind: "extra", New: show(b[restB[n]])})
		default:
			d.value(appendIndex(path, restA[n]), eg, a[restA[n]], b[restB[n]])
		}
	}
}

func elementKey(el any, key string) (string, bool) {
	o, ok := el.(*validate.Object)
	if !ok {
		return "", false
	}
	v, ok := o.Get(key)
	if !ok {
		return "", false
	}
	return string(validate.Stringify(v)), true
}

// kindOf names a value's JSON type.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *validate.Object:
		return "object"
	}
	if validate.IsUndefined(v) {
		return "undefined"
	}
	return "unknown"
}

// show renders a value as compact JSON, shortened.
func show(v any) string {
	if validate.IsUndefined(v) {
		return ""
	}
	return shorten(string(validate.Stringify(v)))
}

func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut-- // keep UTF-8 whole
	}
	return s[:cut] + "…"
}

func sameOrder(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	set := make(map[string]bool, len(a))
	for _, k := range a {
		set[k] = true
	}
	for _, k := range b {
		if !set[k] {
			return false
		}
	}
	return true
}

// idMap pairs legacy ids with new ids within one request's answers: each
// id maps to exactly one id on the other side.
type idMap struct {
	l2n, n2l map[string]string
}

func newIDMap() *idMap { return &idMap{l2n: map[string]string{}, n2l: map[string]string{}} }

// pair records legacy id a as new id b; false when either is already
// paired with another id.
func (m *idMap) pair(a, b string) bool {
	pb, okA := m.l2n[a]
	pa, okB := m.n2l[b]
	switch {
	case okA && okB:
		return pb == b && pa == a
	case okA || okB:
		return false
	}
	m.l2n[a], m.n2l[b] = b, a
	return true
}
