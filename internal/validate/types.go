package validate

import "math"

// Params sets a schema's custom messages, as zod's second argument
// {required_error, invalid_type_error, message} does. Empty fields are unset.
type Params struct {
	Required    string // message when the input is undefined
	InvalidType string // message for a wrong type
}

func (pa Params) errorMap() *errorMap {
	em := &errorMap{}
	if pa.Required != "" {
		em.required = &pa.Required
	}
	if pa.InvalidType != "" {
		em.invalidType = &pa.InvalidType
	}
	return em
}

// invalidType records zod's invalid_type issue and aborts.
func invalidType(p *parser, data any, path []any, expected string, em *errorMap) *result {
	p.addIssue(Issue{Code: CodeInvalidType, Expected: expected, Received: typeName(data), layout: layoutType}, path, data, em, nil)
	return invalid()
}

// NumberSchema is zod's z.number() with its checks, in declaration order.
type NumberSchema struct {
	checks []numCheck
	em     *errorMap
}

type numCheck struct {
	kind      string // "int", "min", "max"
	value     float64
	inclusive bool
	msg       *string
}

// Number returns z.number().
func Number(params ...Params) *NumberSchema {
	s := &NumberSchema{}
	if len(params) > 0 {
		s.em = params[0].errorMap()
	}
	return s
}

func (s *NumberSchema) with(c numCheck) *NumberSchema {
	out := &NumberSchema{em: s.em, checks: make([]numCheck, len(s.checks), len(s.checks)+1)}
	copy(out.checks, s.checks)
	out.checks = append(out.checks, c)
	return out
}

// Int adds .int(msg?).
func (s *NumberSchema) Int(msg ...string) *NumberSchema {
	return s.with(numCheck{kind: "int", msg: optMsg(msg)})
}

// Min adds .min(v, msg?) (inclusive).
func (s *NumberSchema) Min(v float64, msg ...string) *NumberSchema {
	return s.with(numCheck{kind: "min", value: v, inclusive: true, msg: optMsg(msg)})
}

// Max adds .max(v, msg?) (inclusive).
func (s *NumberSchema) Max(v float64, msg ...string) *NumberSchema {
	return s.with(numCheck{kind: "max", value: v, inclusive: true, msg: optMsg(msg)})
}

// Gt adds .gt(v, msg?) (exclusive minimum).
func (s *NumberSchema) Gt(v float64, msg ...string) *NumberSchema {
	return s.with(numCheck{kind: "min", value: v, msg: optMsg(msg)})
}

// Lt adds .lt(v, msg?) (exclusive maximum).
func (s *NumberSchema) Lt(v float64, msg ...string) *NumberSchema {
	return s.with(numCheck{kind: "max", value: v, msg: optMsg(msg)})
}

func (s *NumberSchema) parse(p *parser, data any, path []any) *result {
	f, isNum := data.(float64)
	if !isNum || math.IsNaN(f) {
		return invalidType(p, data, path, "number", s.em)
	}
	st := statusValid
	for _, c := range s.checks {
		var is Issue
		switch {
		case c.kind == "int" && (math.IsInf(f, 0) || f != math.Trunc(f)):
			is = Issue{Code: CodeInvalidType, Expected: "integer", Received: "float", layout: layoutInt}
		case c.kind == "min" && (f < c.value || (!c.inclusive && f == c.value)):
			is = Issue{Code: CodeTooSmall, Minimum: c.value, Type: "number", Inclusive: c.inclusive, layout: layoutSize}
		case c.kind == "max" && (f > c.value || (!c.inclusive && f == c.value)):
			is = Issue{Code: CodeTooBig, Maximum: c.value, Type: "number", Inclusive: c.inclusive, layout: layoutSize}
		default:
			continue
		}
		p.addIssue(is, path, data, s.em, c.msg)
		st = statusDirty
	}
	return &result{st: st, value: f}
}

// EnumSchema is zod's z.enum([...]).
type EnumSchema struct {
	values []string
	em     *errorMap
}

// Enum returns z.enum(values, params?).
func Enum(values []string, params ...Params) *EnumSchema {
	s := &EnumSchema{values: append([]string(nil), values...)}
	if len(params) > 0 {
		s.em = params[0].errorMap()
	}
	return s
}

func (s *EnumSchema) parse(p *parser, data any, path []any) *result {
	str, isStr := data.(string)
	if !isStr {
		p.addIssue(Issue{Code: CodeInvalidType, Expected: joinValues(s.values), Received: typeName(data), layout: layoutEnumType}, path, data, s.em, nil)
		return invalid()
	}
	for _, v := range s.values {
		if v == str {
			return ok(str)
		}
	}
	p.addIssue(Issue{Code: CodeInvalidEnumValue, Received: str, Options: s.values, layout: layoutEnum}, path, data, s.em, nil)
	return invalid()
}

type simpleSchema struct {
	kind  string // "any", "null", "undefined"
	value any    // literal value
}

// Any returns z.any(): every value passes unchanged.
func Any() Schema { return simpleSchema{kind: "any"} }

// Null returns z.null().
func Null() Schema { return simpleSchema{kind: "null"} }

// UndefinedSchema returns z.undefined().
func UndefinedSchema() Schema { return simpleSchema{kind: "undefined"} }

// Literal returns z.literal(v) for a string, float64, bool or nil.
func Literal(v any) Schema { return simpleSchema{kind: "literal", value: v} }

func (s simpleSchema) parse(p *parser, data any, path []any) *result {
	switch s.kind {
	case "null":
		if data != nil {
			return invalidType(p, data, path, "null", nil)
		}
	case "undefined":
		if !IsUndefined(data) {
			return invalidType(p, data, path, "undefined", nil)
		}
	case "literal":
		if !strictEqual(data, s.value) {
			p.addIssue(Issue{Code: CodeInvalidLiteral, Received: data, Expected: s.value, layout: layoutLiteral}, path, data, nil, nil)
			return invalid()
		}
	}
	return ok(data)
}

// strictEqual is JavaScript's === for primitives (objects never match;
// float64 comparison gives NaN !== NaN and 0 === -0).
func strictEqual(a, b any) bool {
	switch a.(type) {
	case nil, bool, float64, string, undefinedValue:
		return a == b
	}
	return false
}
