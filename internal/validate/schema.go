package validate

// Schema is a declared input shape. Build one with String, Number, Enum,
// Shape, Union and the wrappers (Optional, Default, Refine, ...), then call
// Parse or Validate. Schemas are immutable and safe for concurrent use.
type Schema interface {
	parse(p *parser, data any, path []any) *result
}

type status uint8

const (
	statusValid   status = iota
	statusDirty          // checks failed but the value has the right type
	statusAborted        // wrong type: parents become invalid too
)

// result is the outcome of one schema node. Under zod's parseAsync some
// nodes (unions, objects, effects) settle in later microtasks; level is the
// scheduler round in which the result is settled (0 = synchronously), which
// is what orders their issues after the synchronous ones.
type result struct {
	st    status
	value any
	level int
}

// parser collects issues and runs deferred work in rounds, an emulation of
// the microtask order zod 3 produces under parseAsync: every synchronous
// check first, then unions in creation order, then the objects and effects
// that wait for them (one round deeper per level of waiting).
type parser struct {
	issues []Issue
	rounds [][]func()
}

func (p *parser) at(level int, fn func()) {
	for len(p.rounds) <= level {
		p.rounds = append(p.rounds, nil)
	}
	p.rounds[level] = append(p.rounds[level], fn)
}

func (p *parser) run() {
	for level := 0; level < len(p.rounds); level++ {
		for i := 0; i < len(p.rounds[level]); i++ {
			p.rounds[level][i]()
		}
	}
}

// errorMap is zod's processCreateParams custom map: the required_error,
// invalid_type_error and message parameters of a schema.
type errorMap struct {
	required, invalidType, message *string
}

func (m *errorMap) apply(is *Issue, data any, def string) string {
	if m == nil {
		return def
	}
	pick := func(opts ...*string) string {
		for _, o := range opts {
			if o != nil {
				return *o
			}
		}
		return def
	}
	switch {
	case is.Code == CodeInvalidEnumValue:
		return pick(m.message)
	case IsUndefined(data):
		return pick(m.message, m.required)
	case is.Code != CodeInvalidType:
		return def
	}
	return pick(m.message, m.invalidType)
}

// addIssue records an issue raised by a schema at path for data. msg is the
// check's own message, if it has one (it then wins over every map).
func (p *parser) addIssue(is Issue, path []any, data any, em *errorMap, msg *string) {
	is.Path = path
	if msg != nil {
		is.Message = *msg
	} else {
		is.Message = em.apply(&is, data, defaultMessage(&is))
	}
	p.issues = append(p.issues, is)
}

// child returns path extended with key, never sharing the backing array.
func child(path []any, key any) []any {
	out := make([]any, len(path)+1)
	copy(out, path)
	out[len(path)] = key
	return out
}

func ok(v any) *result { return &result{st: statusValid, value: v} }
func invalid() *result { return &result{st: statusAborted} }
func optMsg(msg []string) *string {
	if len(msg) == 0 {
		return nil
	}
	return &msg[0]
}

// Parse validates raw JSON input. A nil raw means the input is undefined
// (absent). It returns the parsed, transformed value, or a *SyntaxError when
// raw is not JSON, or an *Error with zod's issue list.
func Parse(s Schema, raw []byte) (any, error) {
	var v any = Undefined
	if raw != nil {
		var err error
		if v, err = ParseJSON(raw); err != nil {
			return nil, err
		}
	}
	return Validate(s, v)
}

// Validate validates a value of the value model (see Object) the way zod's
// safeParseAsync does, returning the output value or an *Error.
func Validate(s Schema, v any) (any, error) {
	p := &parser{}
	res := s.parse(p, v, nil)
	p.run()
	if res.st == statusValid {
		return res.value, nil
	}
	return nil, &Error{Issues: p.issues}
}

// typeName is zod's getParsedType for the value model.
func typeName(v any) string {
	switch x := v.(type) {
	case undefinedValue:
		return "undefined"
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x != x {
			return "nan"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *Object:
		return "object"
	}
	return "unknown"
}

// defaultMessage is zod 3's English error map for the supported issues.
func defaultMessage(is *Issue) string {
	switch is.Code {
	case CodeInvalidType:
		if is.Received == "undefined" {
			return "Required"
		}
		return "Expected " + is.Expected.(string) + ", received " + is.Received.(string)
	case CodeInvalidLiteral:
		return "Invalid literal value, expected " + string(Stringify(is.Expected))
	case CodeInvalidUnion, CodeCustom:
		return "Invalid input"
	case CodeInvalidEnumValue:
		return "Invalid enum value. Expected " + joinValues(is.Options) + ", received '" + is.Received.(string) + "'"
	case CodeInvalidString:
		if is.Validation == "regex" {
			return "Invalid"
		}
		return "Invalid " + is.Validation
	case CodeTooSmall:
		return sizeMessage(is, is.Minimum, "at least", "over", "greater than or equal to ", "greater than ")
	case CodeTooBig:
		return sizeMessage(is, is.Maximum, "at most", "under", "less than or equal to ", "less than ")
	}
	return "Invalid input"
}

func sizeMessage(is *Issue, bound float64, strIncl, strExcl, numIncl, numExcl string) string {
	n := FormatNumber(bound)
	if is.Type == "string" {
		word := strExcl
		if is.Exact {
			word = "exactly"
		} else if is.Inclusive {
			word = strIncl
		}
		return "String must contain " + word + " " + n + " character(s)"
	}
	word := numExcl
	if is.Exact {
		word = "exactly equal to "
		if is.Code == CodeTooBig {
			word = "exactly "
		}
	} else if is.Inclusive {
		word = numIncl
	}
	return "Number must be " + word + n
}
