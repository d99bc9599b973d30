package query

import (
	"encoding/json"
	"time"

	"ptsync/internal/registry"
	"ptsync/store"
)

// ChildKind describes how ptsync query and ptsync show see one child kind of the mirror
// (store.ChildKind of the same Name): a query kind per side, and a section of the contact
// view.
type ChildKind struct {
	// Name is the store kind (store.KindTask).
	Name string
	// Order places the kind among the others (tasks 10, notes 20, appointments 30): the
	// order of Kinds() and of the contact view's sections.
	Order int
	// GHL and PTD are the query kinds of each side; a zero one (no Kind) is not queryable.
	GHL, PTD ChildQuery
	// Show is the kind's section of `ptsync show contact` (HighLevel side); a zero one (no
	// Heading) shows nothing.
	Show ChildShow
}

// ChildQuery is one side of a child kind as a query kind.
type ChildQuery struct {
	// Kind is the name `ptsync query` takes ("tasks", "ptd-tasks").
	Kind string
	// Fields are the queryable fields (Str, Time, Bool, BoolAt over the record type the
	// store decodes); Defaults the columns shown when none are asked for.
	Fields   []Field
	Defaults []string
	// Scan calls fn with every record, a pointer to the record type; nil scans with
	// Tx.ForEachChild. The built-in kinds use their typed scans, which reuse one value.
	Scan func(tx *store.Tx, fn func(rec any) error) error
	// DueField, when set, is the time field --due-before filters on, answered from the
	// store's due index by DueBefore (earliest first).
	DueField  string
	DueBefore func(tx *store.Tx, before time.Time, fn func(rec any) error) error
}

// ChildShow is a child kind's section of the contact view.
type ChildShow struct {
	// Heading titles the section and names its JSON member ("tasks").
	Heading string
	// Line renders one record (a pointer to the record type) as `ptsync show` prints it,
	// without indentation or newline.
	Line func(rec any) string
	// New returns a zero record to decode the section's JSON into (the admin endpoint's
	// answer to a remote ptsync show).
	New func() any
}

// Field is one queryable field of a child kind, built by Str, Time, Bool or BoolAt.
type Field struct{ f field }

// Str is a string field of records of type T.
func Str[T any](name string, get func(r *T) string) Field { return Field{pstr(name, get)} }

// Time is a time field (a number in --where: Unix seconds, 0 when unset).
func Time[T any](name string, get func(r *T) time.Time) Field { return Field{ptime(name, get)} }

// Bool is a boolean field.
func Bool[T any](name string, get func(r *T) bool) Field { return Field{pbool(name, get)} }

// BoolAt is a boolean field derived from the record and the query's clock (overdue).
func BoolAt[T any](name string, get func(r *T, now time.Time) bool) Field {
	return Field{dbool(name, func(e *env, r *T) (bool, error) { return get(r, e.now), nil })}
}

// kindFiles holds one method per child kind, each in the kind's own file (kind_task.go:
// func (kindFiles) Task() ChildKind). DefaultChildKinds collects them.
type kindFiles struct{}

// DefaultChildKinds returns the child kinds this build queries and shows, in Order; a new
// slice on every call.
func DefaultChildKinds() []ChildKind {
	return registry.Collect(kindFiles{}, func(k ChildKind) int { return k.Order })
}

// def turns one side of a child kind into a query kind.
func (q ChildQuery) def(kind, side string) *kindDef {
	d := &kindDef{name: q.Kind, defaults: q.Defaults}
	for _, f := range q.Fields {
		d.fields = append(d.fields, f.f)
	}
	if q.DueField != "" && q.DueBefore != nil {
		d.flagField = map[string]string{FlagDueBefore: q.DueField}
	}
	d.src = func(e *env, idx string, a indexArg, fn func(any) error) error {
		switch {
		case idx == FlagDueBefore && q.DueBefore != nil:
			return q.DueBefore(e.tx, a.t, fn)
		case q.Scan != nil:
			return q.Scan(e.tx, fn)
		}
		return e.tx.ForEachChild(kind, side, func(r store.ChildRecord) error { return fn(r) })
	}
	return d
}

// Catalog is the set of queryable kinds built from a child-kind list: what Run, Kinds,
// Describe and ShowContact use with the default list. Immutable and safe for concurrent use.
type Catalog struct {
	children []ChildKind
	defs     map[string]*kindDef
	names    []string
}

// NewCatalog builds the catalog of children (nil: DefaultChildKinds) with the fixed kinds
// (contacts, PTD clients, links, outbox, conflicts, history, quarantine).
func NewCatalog(children []ChildKind) *Catalog {
	if children == nil {
		children = DefaultChildKinds()
	}
	c := &Catalog{children: children, defs: map[string]*kindDef{}}
	for _, d := range kindDefs(children) {
		c.defs[d.name] = d
		c.names = append(c.names, d.name)
	}
	return c
}

// Kinds lists the catalog's queryable kinds in a stable order.
func (c *Catalog) Kinds() []string { return append([]string(nil), c.names...) }

// Kinds lists the queryable kinds of the default catalog in a stable order.
func Kinds() []string { return NewCatalog(nil).Kinds() }

// decodeSection decodes one section's JSON records with the kind's New.
func (s ChildShow) decodeSection(raw json.RawMessage) ([]any, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(raws))
	for _, r := range raws {
		v := s.New()
		if err := json.Unmarshal(r, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
