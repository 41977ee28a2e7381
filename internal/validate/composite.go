package validate

// Field is one declared key of an object schema.
type Field struct {
	Key    string
	Schema Schema
}

// F is shorthand for Field{key, s}.
func F(key string, s Schema) Field { return Field{Key: key, Schema: s} }

// ObjectSchema is zod's z.object({...}) in its default "strip" mode: keys
// are checked in declaration order and unknown keys are dropped.
type ObjectSchema struct {
	fields []Field
}

// Shape returns z.object({...}) with fields in the given (declaration) order.
func Shape(fields ...Field) *ObjectSchema {
	return &ObjectSchema{fields: append([]Field(nil), fields...)}
}

// Fields returns the declared fields. The slice must not be modified.
func (s *ObjectSchema) Fields() []Field { return s.fields }

func (s *ObjectSchema) parse(p *parser, data any, path []any) *result {
	obj, isObj := data.(*Object)
	if !isObj {
		return invalidType(p, data, path, "object", nil)
	}
	type pair struct {
		key     string
		res     *result
		present bool
	}
	pairs := make([]pair, len(s.fields))
	level := 0
	for i, f := range s.fields {
		v, present := obj.Get(f.Key)
		if !present {
			v = Undefined
		}
		res := f.Schema.parse(p, v, child(path, f.Key))
		pairs[i] = pair{key: f.Key, res: res, present: present}
		level = max(level, res.level)
	}
	// Under parseAsync an object always settles in a later microtask, after
	// every value it waits for.
	out := &result{level: level + 1}
	p.at(out.level, func() {
		merged := NewObject(len(pairs))
		for _, pr := range pairs {
			switch pr.res.st {
			case statusAborted:
				out.st = statusAborted
				return
			case statusDirty:
				out.st = statusDirty
			}
			if !IsUndefined(pr.res.value) || pr.present {
				merged.Set(pr.key, pr.res.value)
			}
		}
		out.value = merged
	})
	return out
}

type unionSchema struct {
	options []Schema
}

// Union returns z.union(options). Under parseAsync a union settles after
// every synchronous check of the whole input, so its issues come later.
func Union(options ...Schema) Schema {
	return unionSchema{options: append([]Schema(nil), options...)}
}

func (s unionSchema) parse(p *parser, data any, path []any) *result {
	type branch struct {
		res    *result
		issues []Issue
	}
	branches := make([]branch, len(s.options))
	level := 0
	for i, opt := range s.options {
		sub := &parser{} // each branch collects its issues apart
		res := opt.parse(sub, data, path)
		sub.run()
		branches[i] = branch{res: res, issues: sub.issues}
		level = max(level, res.level)
	}
	out := &result{level: level + 1}
	p.at(out.level, func() {
		for _, b := range branches {
			if b.res.st == statusValid {
				*out = result{st: statusValid, value: b.res.value, level: out.level}
				return
			}
		}
		for _, b := range branches {
			if b.res.st == statusDirty {
				p.issues = append(p.issues, b.issues...)
				*out = result{st: statusDirty, value: b.res.value, level: out.level}
				return
			}
		}
		errs := make([][]Issue, len(branches))
		for i, b := range branches {
			errs[i] = b.issues
		}
		p.addIssue(Issue{Code: CodeInvalidUnion, UnionErrors: errs, layout: layoutUnion}, path, data, nil, nil)
		out.st = statusAborted
	})
	return out
}

type wrapper struct {
	kind  string // "optional", "nullable", "default"
	inner Schema
	def   any
}

// Optional returns s.optional(): undefined passes as undefined.
func Optional(s Schema) Schema { return wrapper{kind: "optional", inner: s} }

// Nullable returns s.nullable(): null passes as null.
func Nullable(s Schema) Schema { return wrapper{kind: "nullable", inner: s} }

// Default returns s.default(v): undefined is replaced by v before s runs.
// v must be an immutable value of the value model.
func Default(s Schema, v any) Schema { return wrapper{kind: "default", inner: s, def: v} }

func (w wrapper) parse(p *parser, data any, path []any) *result {
	switch {
	case w.kind == "optional" && IsUndefined(data):
		return ok(Undefined)
	case w.kind == "nullable" && data == nil:
		return ok(nil)
	case w.kind == "default" && IsUndefined(data):
		data = w.def
	}
	return w.inner.parse(p, data, path)
}

type effect struct {
	inner     Schema
	refine    func(any) bool
	message   *string
	path      []any
	transform func(any) any
}

// Refine returns s.refine(check, {message, path}). The check runs once s has
// settled, unless s aborted (a wrong type); failed checks only make s dirty,
// so the check still runs then, as in zod 3.
func Refine(s Schema, check func(v any) bool, message string, path ...any) Schema {
	e := effect{inner: s, refine: check, path: path}
	if message != "" {
		e.message = &message
	}
	return e
}

// Transform returns s.transform(fn). Like zod, a transform turns a dirty
// inner result into an aborted one, which stops parents' refinements.
func Transform(s Schema, fn func(v any) any) Schema {
	return effect{inner: s, transform: fn}
}

func (e effect) parse(p *parser, data any, path []any) *result {
	inner := e.inner.parse(p, data, path)
	out := &result{level: inner.level + 1}
	p.at(out.level, func() {
		if e.transform != nil {
			if inner.st != statusValid {
				out.st = statusAborted
				return
			}
			out.value = e.transform(inner.value)
			return
		}
		if inner.st == statusAborted {
			out.st = statusAborted
			return
		}
		out.st, out.value = inner.st, inner.value
		if !e.refine(inner.value) {
			issuePath := path
			for _, k := range e.path {
				issuePath = child(issuePath, k)
			}
			p.addIssue(Issue{Code: CodeCustom, layout: layoutCustom}, issuePath, data, nil, e.message)
			out.st = statusDirty
		}
	})
	return out
}
