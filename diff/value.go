package diff

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Value is one field's value: a scalar string, or a set of strings when IsSet is true. The zero
// Value is the empty scalar. Build values with Scalar and SetOf so the kind is explicit; a Value
// whose kind does not match its FieldSpec is reported by Merge as invalid input, never guessed at.
type Value struct {
	S     string
	Set   []string
	IsSet bool
}

// Scalar returns the scalar Value s.
func Scalar(s string) Value { return Value{S: s} }

// SetOf returns the set Value holding items (order and duplicates are kept as given; Merge
// normalizes). SetOf() is the empty set, which is distinct from the empty scalar in kind only.
func SetOf(items ...string) Value {
	return Value{Set: slices.Clone(items), IsSet: true}
}

// IsEmpty reports whether v is the empty string or a set with no elements.
func (v Value) IsEmpty() bool {
	if v.IsSet {
		return len(v.Set) == 0
	}
	return v.S == ""
}

// Equal reports whether v and o are the same kind and hold the same value; sets compare as sets
// of exact strings, ignoring order and repeats. No normalization is applied.
func (v Value) Equal(o Value) bool {
	if v.IsSet != o.IsSet {
		return false
	}
	if !v.IsSet {
		return v.S == o.S
	}
	return slices.Equal(sortedUnique(v.Set), sortedUnique(o.Set))
}

// String renders v for logs and summaries: a quoted string, or the set's elements in braces.
func (v Value) String() string {
	if !v.IsSet {
		return strconv.Quote(v.S)
	}
	q := make([]string, len(v.Set))
	for i, s := range v.Set {
		q[i] = strconv.Quote(s)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func sortedUnique(items []string) []string {
	c := slices.Clone(items)
	sort.Strings(c)
	return slices.Compact(c)
}

// Values maps field names to values. A field missing from a side's Values is read as that field's
// empty value; a field missing from a base means "no base for this field yet".
type Values map[string]Value

// Clone returns a copy of vs that shares no slices with it.
func (vs Values) Clone() Values {
	if vs == nil {
		return nil
	}
	out := make(Values, len(vs))
	for k, v := range vs {
		if v.IsSet {
			v.Set = slices.Clone(v.Set)
		}
		out[k] = v
	}
	return out
}

// Snapshot is one record's field values at a moment: a side's current record (UpdatedAt is the
// record's own update timestamp, used by the Newest rule) or a stored base.
type Snapshot struct {
	Values    Values
	UpdatedAt time.Time
}

// SetDelta is the change a set field needs on one side: elements to add and to remove. Remove
// uses the target side's own spelling, so it can be sent as-is to DELETE endpoints.
type SetDelta struct {
	Add    []string
	Remove []string
}

// IsEmpty reports whether d changes nothing.
func (d SetDelta) IsEmpty() bool { return len(d.Add) == 0 && len(d.Remove) == 0 }

// Write is what one side must store for one field. Value is the full new value (normalized); for a
// set field Delta also says how to get there from what the side holds now, so the pusher can POST
// and DELETE tags instead of replacing them all.
type Write struct {
	Value Value
	Delta SetDelta
}

// Writes maps field names to the writes one side needs.
type Writes map[string]Write

// ApplyTo returns a copy of vs with every write applied: each written field takes Write.Value,
// which for a set is what the side holds once Delta has been applied to it. It models a successful
// push, for plans and tests; vs is not modified.
func (w Writes) ApplyTo(vs Values) Values {
	out := vs.Clone()
	if out == nil {
		out = Values{}
	}
	for field, wr := range w {
		v := wr.Value
		if v.IsSet {
			v.Set = slices.Clone(v.Set)
		}
		out[field] = v
	}
	return out
}

// FieldChange is one difference between two Values, for display.
type FieldChange struct {
	Field string
	Old   Value
	New   Value
	// Added and Removed list set elements (exact strings) for set values; nil for scalars.
	Added, Removed []string
}

// Diff lists the fields whose values differ between a and b (compared with Value.Equal, without
// normalization), sorted by field name. A field present on one side only is compared with the
// zero Value of the other's kind.
func Diff(a, b Values) []FieldChange {
	var out []FieldChange
	for _, field := range unionKeys(a, b) {
		old, okA := a[field]
		nw, okB := b[field]
		if !okA {
			old = Value{IsSet: nw.IsSet}
		}
		if !okB {
			nw = Value{IsSet: old.IsSet}
		}
		if old.Equal(nw) {
			continue
		}
		fc := FieldChange{Field: field, Old: old, New: nw}
		if old.IsSet && nw.IsSet {
			fc.Added = minus(sortedUnique(nw.Set), sortedUnique(old.Set))
			fc.Removed = minus(sortedUnique(old.Set), sortedUnique(nw.Set))
		}
		out = append(out, fc)
	}
	return out
}

// String renders c as `field: old -> new` or, for sets, `field: +a -b`.
func (c FieldChange) String() string {
	if c.Old.IsSet && c.New.IsSet {
		return c.Field + ": " + deltaString(SetDelta{Add: c.Added, Remove: c.Removed})
	}
	return c.Field + ": " + c.Old.String() + " -> " + c.New.String()
}

func unionKeys(a, b Values) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// minus returns the elements of sorted a not in sorted b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

func deltaString(d SetDelta) string {
	parts := make([]string, 0, len(d.Add)+len(d.Remove))
	for _, a := range d.Add {
		parts = append(parts, "+"+a)
	}
	for _, r := range d.Remove {
		parts = append(parts, "-"+r)
	}
	return strings.Join(parts, " ")
}
