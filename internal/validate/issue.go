package validate

import "strings"

// Issue codes, as zod 3 names them.
const (
	CodeInvalidType      = "invalid_type"
	CodeInvalidLiteral   = "invalid_literal"
	CodeCustom           = "custom"
	CodeInvalidUnion     = "invalid_union"
	CodeInvalidEnumValue = "invalid_enum_value"
	CodeInvalidString    = "invalid_string"
	CodeTooSmall         = "too_small"
	CodeTooBig           = "too_big"
)

// layout is the JSON key order of one issue. zod builds each issue by
// spreading its issue data and then adding path and message, so the order
// depends on the kind of check that raised it.
type layout uint8

const (
	layoutType     layout = iota // code, expected, received, path, message
	layoutEnumType               // expected, received, code, path, message
	layoutInt                    // code, expected, received, message, path
	layoutSize                   // code, minimum|maximum, type, inclusive, exact, message, path
	layoutString                 // validation, code, message, path
	layoutEnum                   // received, code, options, path, message
	layoutCustom                 // code, message, path
	layoutUnion                  // code, unionErrors, path, message
	layoutLiteral                // received, code, expected, path, message
)

// Issue is one zod issue. Only the fields that belong to its Code are set.
type Issue struct {
	Code        string
	Path        []any // string keys and int indices
	Message     string
	Expected    any     // invalid_type: a type name; invalid_literal: the literal
	Received    any     // invalid_type: a type name; enum/literal: the value
	Minimum     float64 // too_small
	Maximum     float64 // too_big
	Type        string  // too_small/too_big: "string" or "number"
	Inclusive   bool
	Exact       bool
	Validation  string   // invalid_string: "regex", "email", "uuid"
	Options     []string // invalid_enum_value
	UnionErrors [][]Issue
	layout      layout
}

// Object returns the issue as zod serialises it, keys in zod's order.
func (is *Issue) Object() *Object {
	o := NewObject(8)
	path := make([]any, len(is.Path))
	copy(path, is.Path)
	set := func(keys ...string) {
		for _, k := range keys {
			o.Set(k, is.member(k, path))
		}
	}
	switch is.layout {
	case layoutType:
		set("code", "expected", "received", "path", "message")
	case layoutEnumType:
		set("expected", "received", "code", "path", "message")
	case layoutInt:
		set("code", "expected", "received", "message", "path")
	case layoutSize:
		bound := "minimum"
		if is.Code == CodeTooBig {
			bound = "maximum"
		}
		set("code", bound, "type", "inclusive", "exact", "message", "path")
	case layoutString:
		set("validation", "code", "message", "path")
	case layoutEnum:
		set("received", "code", "options", "path", "message")
	case layoutCustom:
		set("code", "message", "path")
	case layoutUnion:
		set("code", "unionErrors", "path", "message")
	case layoutLiteral:
		set("received", "code", "expected", "path", "message")
	}
	return o
}

func (is *Issue) member(key string, path []any) any {
	switch key {
	case "code":
		return is.Code
	case "path":
		return path
	case "message":
		return is.Message
	case "expected":
		return is.Expected
	case "received":
		return is.Received
	case "minimum":
		return is.Minimum
	case "maximum":
		return is.Maximum
	case "type":
		return is.Type
	case "inclusive":
		return is.Inclusive
	case "exact":
		return is.Exact
	case "validation":
		return is.Validation
	case "options":
		return is.Options
	case "unionErrors":
		errs := make([]any, len(is.UnionErrors))
		for i, branch := range is.UnionErrors {
			e := NewObject(2)
			e.Set("issues", issuesArray(branch))
			e.Set("name", "ZodError")
			errs[i] = e
		}
		return errs
	}
	return Undefined
}

func issuesArray(issues []Issue) []any {
	arr := make([]any, len(issues))
	for i := range issues {
		arr[i] = issues[i].Object()
	}
	return arr
}

// FormatIssues renders issues exactly as a ZodError's message, which tRPC
// puts in the error envelope: JSON.stringify(issues, null, 2).
func FormatIssues(issues []Issue) string {
	return string(StringifyIndent(issuesArray(issues)))
}

// Error is a failed validation. Its Error() text is the tRPC message.
type Error struct {
	Issues []Issue
}

func (e *Error) Error() string { return FormatIssues(e.Issues) }

// joinValues mirrors zod's util.joinValues for string options.
func joinValues(values []string) string {
	var sb strings.Builder
	for i, v := range values {
		if i > 0 {
			sb.WriteString(" | ")
		}
		sb.WriteString("'" + v + "'")
	}
	return sb.String()
}
