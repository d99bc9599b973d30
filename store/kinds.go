package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"ptsync/internal/registry"
)

// ChildKind describes one kind of a contact's children (tasks, notes, appointments) to the
// mirror: which buckets hold it on each side and how its records are decoded and indexed.
// The generic child code (PutChild, ChildrenOf, DeleteGHLContact's cascade, Check, the
// schema's bucket list) iterates the kinds instead of naming them.
//
// Collections and index names are part of the file format: renaming one orphans the data.
type ChildKind struct {
	// Name is the link, outbox, history and quarantine kind of the records (KindTask).
	Name string
	// Order places the kind among the others (tasks 10, notes 20, appointments 30): the
	// order of Collections(), of bucket creation and of every layer's iteration.
	Order int
	// GHL and PTD describe the kind on each side; a zero side (no Collection) is not
	// mirrored on that side.
	GHL, PTD ChildSide
	// Since is the schema version that created the kind's buckets (1 for the first three).
	// Opening an older file creates them in the migration to that version, empty. It must not
	// exceed SchemaVersion.
	Since int
}

// ChildSide is one side of a ChildKind.
type ChildSide struct {
	// Collection is the bucket ("ghl.tasks"); keys are parent id NUL child id.
	Collection Collection
	// Indexes names the secondary indexes besides "id" (which every child has): a bucket
	// "<collection>/<index>" each. Values come from the record's entries.
	Indexes []string
	// New returns a zero record to decode into. The built-in types use the binary header
	// codec; any other ChildRecord is stored as its JSON.
	New func() ChildRecord
}

// ChildRecord is a mirrored child. The store keys it by (ParentID, ChildID); neither may be
// empty or contain a NUL byte. Implementations must be pointer types (they are decoded into).
type ChildRecord interface {
	// ChildID is the record's id on its side.
	ChildID() string
	// ParentID is the id of the contact (HighLevel) or client (PTD) it belongs to.
	ParentID() string
	// FetchedTime is when ptsync last read or wrote the record: a refresh whose listing was
	// requested before it must not overwrite it.
	FetchedTime() time.Time
}

// IndexedChild is implemented by a ChildRecord of a kind registered outside this package
// that has secondary indexes: it returns the value of each of its side's Indexes ("" for
// not indexed). The built-in kinds index themselves.
type IndexedChild interface {
	ChildIndexValues() map[string]string
}

// kindFiles holds one method per child kind, each in the kind's own file (kind_task.go:
// func (kindFiles) Task() ChildKind). DefaultChildKinds collects them.
type kindFiles struct{}

// DefaultChildKinds returns the child kinds this build mirrors, in Order. It builds a new
// slice on every call.
func DefaultChildKinds() []ChildKind {
	return registry.Collect(kindFiles{}, func(k ChildKind) int { return k.Order })
}

// childRegistry is a validated kind list with its look-ups; immutable once built.
type childRegistry struct {
	kinds  []ChildKind
	byName map[string]int
	byColl map[Collection]childRef
}

// childRef is one side of one kind.
type childRef struct {
	kind *ChildKind
	side string
	cs   *ChildSide
}

// newChildRegistry validates kinds: non-empty unique names, unique collections that do not
// collide with the contact and bookkeeping buckets, a decoder for every side, and Since in
// 1..SchemaVersion. nil means DefaultChildKinds.
func newChildRegistry(kinds []ChildKind) (*childRegistry, error) {
	if kinds == nil {
		kinds = DefaultChildKinds()
	}
	r := &childRegistry{kinds: slices.Clone(kinds), byName: map[string]int{}, byColl: map[Collection]childRef{}}
	reserved := map[Collection]bool{GHLContacts: true, PTDClients: true, collLinks: true, collHistory: true, collOutbox: true}
	for i := range r.kinds {
		k := &r.kinds[i]
		switch _, dup := r.byName[k.Name]; {
		case k.Name == "" || k.Name == KindContact:
			return nil, fmt.Errorf("cannot register child kind %q: %w: name empty or reserved", k.Name, ErrInvalid)
		case dup:
			return nil, fmt.Errorf("cannot register child kind %q: %w: registered twice", k.Name, ErrInvalid)
		case k.Since < 1 || k.Since > SchemaVersion:
			return nil, fmt.Errorf("cannot register child kind %q: %w: since schema %d, this build writes %d", k.Name, ErrInvalid, k.Since, SchemaVersion)
		}
		r.byName[k.Name] = i
		for _, s := range []struct {
			side string
			cs   *ChildSide
		}{{SideGHL, &k.GHL}, {SidePTD, &k.PTD}} {
			if s.cs.Collection == "" {
				continue
			}
			if reserved[s.cs.Collection] || r.byColl[s.cs.Collection].kind != nil || s.cs.New == nil {
				return nil, fmt.Errorf("cannot register child kind %q: %w: collection %q taken or without a decoder", k.Name, ErrInvalid, s.cs.Collection)
			}
			r.byColl[s.cs.Collection] = childRef{kind: k, side: s.side, cs: s.cs}
		}
	}
	return r, nil
}

// side returns the registered side of kind; a kind or side not registered is ErrInvalid.
func (r *childRegistry) side(kind, side string) (*ChildSide, error) {
	i, ok := r.byName[kind]
	if ok {
		cs := &r.kinds[i].GHL
		if side == SidePTD {
			cs = &r.kinds[i].PTD
		}
		if cs.Collection != "" && (side == SideGHL || side == SidePTD) {
			return cs, nil
		}
	}
	return nil, fmt.Errorf("cannot use child kind %q on side %q: %w: not registered", kind, side, ErrInvalid)
}

// collections lists the child collections of side in kind order.
func (r *childRegistry) collections(side string) []Collection {
	var out []Collection
	for _, k := range r.kinds {
		if cs := k.GHL; side == SideGHL && cs.Collection != "" {
			out = append(out, cs.Collection)
		}
		if cs := k.PTD; side == SidePTD && cs.Collection != "" {
			out = append(out, cs.Collection)
		}
	}
	return out
}

// mirrored lists every mirrored record collection: contacts, then the HighLevel children,
// then the clients and the PTD children.
func (r *childRegistry) mirrored() []Collection {
	out := append([]Collection{GHLContacts}, r.collections(SideGHL)...)
	out = append(out, PTDClients)
	return append(out, r.collections(SidePTD)...)
}

// indexed lists every collection maintained through the generic record code.
func (r *childRegistry) indexed() []Collection {
	return append(r.mirrored(), collLinks, collHistory, collOutbox)
}

// indexNames lists the secondary indexes of c: the bucket "<c>/<name>" exists for each.
func (r *childRegistry) indexNames(c Collection) []string {
	if ref, ok := r.byColl[c]; ok {
		return append([]string{"id"}, ref.cs.Indexes...)
	}
	switch c {
	case GHLContacts:
		return []string{"email", "phone", "tag", "updated", "children"}
	case PTDClients:
		return []string{"email", "phone", "tag", "updated"}
	case collLinks:
		return []string{"ghl", "ptd", "parent"}
	case collHistory:
		return []string{"link"}
	case collOutbox:
		return []string{"record"}
	}
	return nil
}

// newRecord returns a zero record of collection c to decode into.
func (r *childRegistry) newRecord(c Collection) (record, error) {
	if ref, ok := r.byColl[c]; ok {
		return asRecord(ref, ref.cs.New()), nil
	}
	switch c {
	case GHLContacts:
		return new(GHLContact), nil
	case PTDClients:
		return new(PTDClient), nil
	case collLinks:
		return new(Link), nil
	case collHistory:
		return new(HistoryEntry), nil
	case collOutbox:
		return new(OutboxEntry), nil
	}
	return nil, fmt.Errorf("cannot decode record: unknown collection %q", c)
}

// asRecord returns cr as the generic record code sees it: the built-in types are records
// themselves; any other type is wrapped and stored as JSON.
func asRecord(ref childRef, cr ChildRecord) record {
	if r, ok := cr.(record); ok {
		return r
	}
	return &foreignChild{ref: ref, r: cr}
}

// foreignChild adapts a ChildRecord of a kind registered outside the package (a test's) to
// the record interface; it is stored as the record's own JSON.
type foreignChild struct {
	ref childRef
	r   ChildRecord
}

func (f *foreignChild) collection() Collection { return f.ref.cs.Collection }
func (f *foreignChild) primaryKey() string     { return childKey(f.r.ParentID(), f.r.ChildID()) }
func (f *foreignChild) updated() time.Time     { return time.Time{} }
func (f *foreignChild) quarantineKey() string {
	return qkey(f.ref.kind.Name, f.ref.side, f.r.ChildID())
}
func (f *foreignChild) validate() error {
	return checkChild(f.ref.side+" "+f.ref.kind.Name, f.r.ParentID(), f.r.ChildID())
}
func (f *foreignChild) entries() []entry {
	es := []entry{{"id", f.r.ChildID()}}
	if ix, ok := f.r.(IndexedChild); ok {
		vals := ix.ChildIndexValues()
		for _, name := range f.ref.cs.Indexes {
			if v := vals[name]; v != "" {
				es = append(es, entry{name, v})
			}
		}
	}
	return es
}
func (f *foreignChild) MarshalJSON() ([]byte, error) { return json.Marshal(f.r) }
func (f *foreignChild) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, f.r) }

// Generic child access. Like the typed methods, every Put replaces the record, rewrites its
// index entries and clears a matching quarantine entry in the same transaction; a kind or
// side that is not registered is ErrInvalid, a missing record ErrNotFound.

// PutChild stores r as a record of kind on side (SideGHL or SidePTD).
func (tx *Tx) PutChild(kind, side string, r ChildRecord) error {
	cs, err := tx.st.kinds.side(kind, side)
	if err != nil {
		return err
	}
	ref := tx.st.kinds.byColl[cs.Collection]
	return tx.putRecord(asRecord(ref, r))
}

// ChildrenOf returns the records of kind on side under parent, in id order (a prefix scan).
func (tx *Tx) ChildrenOf(kind, side, parent string) ([]ChildRecord, error) {
	var out []ChildRecord
	err := tx.eachChild(kind, side, parent+"\x00", func(r ChildRecord) error { out = append(out, r); return nil })
	return out, err
}

// ForEachChild calls fn for every record of kind on side, grouped by parent. fn receives a
// fresh value each time and may return ErrStop.
func (tx *Tx) ForEachChild(kind, side string, fn func(ChildRecord) error) error {
	return tx.eachChild(kind, side, "", fn)
}

// ChildByID finds a record of kind on side by its id alone (through the id index).
func (tx *Tx) ChildByID(kind, side, id string) (ChildRecord, error) {
	cs, err := tx.st.kinds.side(kind, side)
	if err != nil {
		return nil, err
	}
	var out ChildRecord
	err = tx.lookup(cs.Collection, "id", id, tx.decodeChild(cs, func(r ChildRecord) error { out = r; return ErrStop }))
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("cannot find %s by id %q: %w", cs.Collection, id, ErrNotFound)
	}
	return out, nil
}

// DeleteChild removes the record id of kind on side under parent.
func (tx *Tx) DeleteChild(kind, side, parent, id string) error {
	cs, err := tx.st.kinds.side(kind, side)
	if err != nil {
		return err
	}
	return tx.deleteRecord(cs.Collection, childKey(parent, id))
}

func (tx *Tx) eachChild(kind, side, prefix string, fn func(ChildRecord) error) error {
	cs, err := tx.st.kinds.side(kind, side)
	if err != nil {
		return err
	}
	return tx.scanPrefix(cs.Collection, prefix, tx.decodeChild(cs, fn))
}

// decodeChild adapts fn to the raw-value iterators; every call decodes a fresh record.
func (tx *Tx) decodeChild(cs *ChildSide, fn func(ChildRecord) error) func(v []byte) error {
	skip := tx.st.skipRaw
	return func(v []byte) error {
		r := cs.New()
		if err := decodeValue(v, asRecord(tx.st.kinds.byColl[cs.Collection], r), skip); err != nil {
			return fmt.Errorf("cannot decode %s record: %w: %v", cs.Collection, ErrCorrupt, err)
		}
		return fn(r)
	}
}

// deleteChildrenOf removes every child of parent on side, of every kind, in tx.
func (tx *Tx) deleteChildrenOf(side, parent string) error {
	for _, c := range tx.st.kinds.collections(side) {
		if err := tx.deleteChildren(c, parent); err != nil {
			return err
		}
	}
	return nil
}
