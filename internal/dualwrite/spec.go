package dualwrite

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Spec describes one write group's data to the machinery: the tables its
// mutations write (the same names and columns in the legacy schema and in
// the service's schema), how they hang together, and how a procedure's
// input or answer names the rows it wrote. The next services reuse the
// machinery with a Spec of their own; Samples is the first.
type Spec struct {
	// Group is the write group's name in the route table ("samples").
	Group string
	// Service is the in-process service that runs secondary executions
	// (route target service:NAME).
	Service string
	// LegacySchema and NewSchema hold the tables on each side.
	LegacySchema, NewSchema string
	// Tables in parent order: Tables[0] is the root of every aggregate,
	// the others are its children.
	Tables []Table
	// Sweep is a root column, indexed in legacy, that a recovery scans to
	// find legacy creates made after a point in time (their id unknown
	// because the proxy died before legacy answered).
	Sweep string
	// Procedures says how each mutation of the group names its rows.
	Procedures map[string]Procedure
	// Outbox is the service's outbox table (in NewSchema).
	Outbox string
}

// Table is one table of an aggregate. Keys are uuids.
type Table struct {
	Name string
	// Key is the primary key column.
	Key string
	// Parent is the column holding the root's key; "" for the root.
	Parent string
	// Columns are copied and compared, in table order (Key included).
	Columns []string
	// Version orders writes of one row ("updated_at"); "" when the table
	// has none. Copies against the current direction of a write group
	// (leftovers of a flip) overwrite only older rows.
	Version string
}

// Procedure says how one mutation names the rows it writes.
type Procedure struct {
	// Table is the table whose row the input (or answer) names.
	Table string
	// InputKey is the input object's member holding the row's key; ""
	// when the input is the bare key itself.
	InputKey string
	// Creates: the answer's data.id is the key of a row the call created
	// (the input names nothing).
	Creates bool
}

// Ref names one row: a table and its key.
type Ref struct {
	Table, Key string
}

func (r Ref) String() string { return r.Table + ":" + r.Key }

func parseRef(s string) (Ref, bool) {
	t, k, ok := strings.Cut(s, ":")
	return Ref{Table: t, Key: k}, ok
}

// Root is the root table.
func (s *Spec) Root() *Table { return &s.Tables[0] }

// Table returns a table by name.
func (s *Spec) Table(name string) (*Table, bool) {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i], true
		}
	}
	return nil, false
}

// Validate reports a Spec the machinery cannot use.
func (s *Spec) Validate() error {
	switch {
	case s.Group == "":
		return fmt.Errorf("dualwrite: spec without a group")
	case s.LegacySchema == "" || s.NewSchema == "":
		return fmt.Errorf("dualwrite: spec %s: both schemas are required", s.Group)
	case len(s.Tables) == 0:
		return fmt.Errorf("dualwrite: spec %s: no tables", s.Group)
	case s.Tables[0].Parent != "":
		return fmt.Errorf("dualwrite: spec %s: the first table is the root and has no parent", s.Group)
	}
	for i, t := range s.Tables {
		if i > 0 && t.Parent == "" {
			return fmt.Errorf("dualwrite: spec %s: child table %s has no parent column", s.Group, t.Name)
		}
		if t.Key == "" || len(t.Columns) == 0 {
			return fmt.Errorf("dualwrite: spec %s: table %s needs a key and columns", s.Group, t.Name)
		}
	}
	for name, p := range s.Procedures {
		if _, ok := s.Table(p.Table); !ok {
			return fmt.Errorf("dualwrite: spec %s: procedure %s names unknown table %s", s.Group, name, p.Table)
		}
	}
	return nil
}

// InputRef returns the row a call's raw input names, if its procedure
// names one and the input holds a valid key. Invalid input is not an
// error: legacy refused the call, so nothing was written.
func (s *Spec) InputRef(procedure string, input []byte) (Ref, bool) {
	p, ok := s.Procedures[procedure]
	if !ok || p.Creates || len(input) == 0 {
		return Ref{}, false
	}
	raw := json.RawMessage(input)
	if p.InputKey != "" {
		var obj map[string]json.RawMessage
		if json.Unmarshal(input, &obj) != nil {
			return Ref{}, false
		}
		raw = obj[p.InputKey]
	}
	var key string
	if json.Unmarshal(raw, &key) != nil {
		return Ref{}, false
	}
	id, err := uuid.Parse(key)
	if err != nil {
		return Ref{}, false
	}
	return Ref{Table: p.Table, Key: id.String()}, true
}

// AnswerRef returns the row a successful call's answer names as created:
// data.id of its result envelope.
func (s *Spec) AnswerRef(procedure string, envelope []byte) (Ref, bool) {
	p, ok := s.Procedures[procedure]
	if !ok || !p.Creates {
		return Ref{}, false
	}
	var env struct {
		Result struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		} `json:"result"`
	}
	if json.Unmarshal(envelope, &env) != nil {
		return Ref{}, false
	}
	id, err := uuid.Parse(env.Result.Data.ID)
	if err != nil {
		return Ref{}, false
	}
	return Ref{Table: p.Table, Key: id.String()}, true
}

// Creates says whether a procedure creates a row whose key only its answer
// tells.
func (s *Spec) Creates(procedure string) bool { return s.Procedures[procedure].Creates }

// qualified returns schema.table, quoted.
func qualified(schema, table string) string { return quoteIdent(schema) + "." + quoteIdent(table) }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
