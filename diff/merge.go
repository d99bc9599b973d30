package diff

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrWrongKind is wrapped in Result.Invalid when a field's value is a set where its spec wants a
// scalar, or the other way round.
var ErrWrongKind = errors.New("value of the wrong kind")

// Options are the per-account settings of a merge.
type Options struct {
	// InitialWinner decides a field that differs when there is no base yet: SideGHL or SidePTD.
	// Any other value (including the zero SideNone) means SideGHL.
	InitialWinner Side
	// Locale gives normalizers their default phone region and time zone.
	Locale Locale
}

// Reason names the rule that decided a field; it is stored in history.
type Reason string

// The reasons a Decision can carry.
const (
	ReasonOnlyGHLChanged Reason = "only-ghl-changed" // only HighLevel changed since base
	ReasonOnlyPTDChanged Reason = "only-ptd-changed" // only PT Distinction changed since base
	ReasonAgree          Reason = "agree"            // both hold the same value; base catches up
	ReasonNewest         Reason = "newest"           // both changed; the later record won
	ReasonGHL            Reason = "ghl"              // both changed; the field's rule prefers HighLevel
	ReasonPTD            Reason = "ptd"              // both changed; the field's rule prefers PTD
	ReasonManual         Reason = "manual"           // both changed; left to the operator (a Conflict)
	ReasonInitial        Reason = "initial"          // no base; the initial winner won
	ReasonEmptyKept      Reason = "empty-kept"       // an empty value lost to a non-empty one
	ReasonOneWay         Reason = "one-way"          // one-way field: destination differed, source is the truth
	ReasonSetMerge       Reason = "set-merge"        // both sides edited a set; edits combined
	ReasonUnion          Reason = "union"            // no base for a set; both sides' elements kept
	ReasonInvalid        Reason = "invalid"          // a value did not normalize; field frozen
)

// Reasons lists every Reason a Decision can carry, e.g. to export them before the first merge.
func Reasons() []Reason {
	return []Reason{ReasonOnlyGHLChanged, ReasonOnlyPTDChanged, ReasonAgree, ReasonNewest, ReasonGHL, ReasonPTD,
		ReasonManual, ReasonInitial, ReasonEmptyKept, ReasonOneWay, ReasonSetMerge, ReasonUnion, ReasonInvalid}
}

// Decision records which rule decided one field, for history. Merge records a Decision only when
// something happens: a write, a change of base, a conflict or invalid input. Fields whose three
// values already agree produce none.
type Decision struct {
	Field  string
	Winner Side   // SideGHL, SidePTD, SideBoth (agreement, set merge) or SideNone (conflict, invalid)
	Rule   Reason // why
	Old    Value  // the base before the merge (zero Value if there was none)
	New    Value  // the decided value: the new base, or the kept base for conflicts and invalid input
	ToGHL  bool   // a write to HighLevel was planned
	ToPTD  bool   // a write to PT Distinction was planned
}

// String renders d as one history line, e.g. `phone: ghl (only-ghl-changed) "+1..." -> "+1..." [to ptd]`.
func (d Decision) String() string {
	s := fmt.Sprintf("%s: %s (%s) %s -> %s", d.Field, d.Winner, d.Rule, d.Old, d.New)
	switch {
	case d.ToGHL && d.ToPTD:
		s += " [to ghl, to ptd]"
	case d.ToGHL:
		s += " [to ghl]"
	case d.ToPTD:
		s += " [to ptd]"
	}
	return s
}

// Conflict is a field both sides changed differently under the Manual rule. Nothing was written
// for it and its base was kept, so the same Conflict comes back on every merge until an operator
// (or a later edit that makes the sides agree) resolves it. Values are normalized.
type Conflict struct {
	Field string
	Base  Value
	GHL   Value
	PTD   Value
}

// InvalidValue is input Merge could not use: a value that failed its normalizer, a value of the
// wrong kind, or (Side SideNone) a spec that failed FieldSpec.Validate or repeated a name. The
// field is frozen: nothing written, base kept.
type InvalidValue struct {
	Field string
	Side  Side // SideGHL, SidePTD, SideBase, or SideNone for a bad spec
	Raw   Value
	Err   error
}

// Result is the plan of one merge.
type Result struct {
	// ToGHL and ToPTD hold the writes each side needs (never nil). Values are normalized.
	ToGHL, ToPTD Writes
	// Base is the snapshot to store as the new base once every write has succeeded. For each
	// spec'd field it holds the normalized value both sides will then hold; where they will not
	// agree (conflict, invalid input, a one-way field whose empty source is kept out) the old base
	// entry is kept, or left absent if there was none. Fields of the old base that no spec names
	// are carried over untouched. UpdatedAt is the latest of the three input timestamps.
	Base Snapshot
	// Conflicts lists Manual-rule fields left for the operator, in spec order.
	Conflicts []Conflict
	// Decisions explains every field that changed, in spec order.
	Decisions []Decision
	// Invalid lists unusable input, in spec order.
	Invalid []InvalidValue
}

// HasWrites reports whether the plan writes to either side.
func (r Result) HasWrites() bool { return len(r.ToGHL) > 0 || len(r.ToPTD) > 0 }

// Merge reconciles one linked pair of records field by field, for the fields in specs, and returns
// the plan. base is the last agreed snapshot (nil when the pair has never been reconciled); ghl and
// ptd are the current records. Merge is pure, never fails and never panics on bad input: unusable
// input is reported in Result.Invalid and freezes only its own field.
//
// Per scalar field, on normalized values b (base), g (HighLevel), p (PT Distinction):
//
//   - g == p: nothing to write; base becomes g ("agree" if that changes the base).
//   - two-way with base: only g changed -> g flows to PTD; only p changed -> p flows to HighLevel;
//     both changed -> the field's Rule: Newest (record UpdatedAt, tie -> HighLevel), PreferGHL,
//     PreferPTD, or Manual (a Conflict, no write, base kept).
//   - two-way without base: the initial winner (Options.InitialWinner).
//   - empty values: a changed-to-empty value never overwrites a non-empty one unless AllowEmpty;
//     the non-empty value wins instead and is written back to the emptied side ("empty-kept").
//     Without a base an empty value never wins, AllowEmpty or not.
//   - one-way fields: the source is the truth. The destination is set to the source's value
//     whenever they differ, so an edit made on the destination is overwritten ("one-way"); the
//     source is never written. An empty source leaves the destination alone unless AllowEmpty and
//     a base exist.
//
// Set fields combine the adds and removes of both sides since base (an add on one side and a
// remove of another element on the other are both applied); without a base the union is kept.
// A side whose set went from non-empty to empty is ignored unless AllowEmpty, and is refilled.
// One-way sets mirror the source. Sets never conflict; Rule does not apply to them.
func Merge(specs []FieldSpec, base *Snapshot, ghl, ptd Snapshot, opts Options) Result {
	res := Result{ToGHL: Writes{}, ToPTD: Writes{}}
	var baseVals Values
	var baseAt time.Time
	if base != nil {
		baseVals, baseAt = base.Values, base.UpdatedAt
	}
	res.Base.Values = baseVals.Clone()
	if res.Base.Values == nil {
		res.Base.Values = Values{}
	}
	res.Base.UpdatedAt = latest(baseAt, ghl.UpdatedAt, ptd.UpdatedAt)

	m := merger{res: &res, opts: opts, ghlAt: ghl.UpdatedAt, ptdAt: ptd.UpdatedAt}
	seen := make(map[string]int, len(specs))
	for i, spec := range specs {
		if err := spec.Validate(); err != nil {
			err.(*SpecError).Index = i
			res.Invalid = append(res.Invalid, InvalidValue{Field: spec.Name, Side: SideNone, Err: err})
			continue
		}
		if j, dup := seen[spec.Name]; dup {
			err := &SpecError{Index: i, Field: spec.Name, Reason: fmt.Sprintf("duplicates spec %d", j)}
			res.Invalid = append(res.Invalid, InvalidValue{Field: spec.Name, Side: SideNone, Err: err})
			continue
		}
		seen[spec.Name] = i
		bv, hasBase := baseVals[spec.Name]
		in := fieldInput{spec: spec, base: bv, hasBase: hasBase, ghl: ghl.Values[spec.Name], ptd: ptd.Values[spec.Name]}
		if spec.Set {
			m.mergeSet(in)
		} else {
			m.mergeScalar(in)
		}
	}
	return res
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

type fieldInput struct {
	spec     FieldSpec
	base     Value
	hasBase  bool
	ghl, ptd Value
}

type merger struct {
	res          *Result
	opts         Options
	ghlAt, ptdAt time.Time
}

func (m *merger) invalid(field string, side Side, raw Value, err error) {
	m.res.Invalid = append(m.res.Invalid, InvalidValue{Field: field, Side: side, Raw: raw, Err: err})
}

// freeze records that a field was left alone because of invalid input.
func (m *merger) freeze(in fieldInput) {
	m.res.Decisions = append(m.res.Decisions, Decision{Field: in.spec.Name, Winner: SideNone, Rule: ReasonInvalid, Old: in.base, New: in.base})
}

// initialWinner is the side that wins a differing field without a base.
func (m *merger) initialWinner() Side {
	if m.opts.InitialWinner == SidePTD {
		return SidePTD
	}
	return SideGHL
}

// newer is the side whose record is newer; ties go to HighLevel.
func (m *merger) newer() Side {
	if m.ptdAt.After(m.ghlAt) {
		return SidePTD
	}
	return SideGHL
}

// source returns the source and destination sides of a one-way direction.
func source(d Direction) (src, dst Side) {
	if d == PTDToGHL {
		return SidePTD, SideGHL
	}
	return SideGHL, SidePTD
}

// onlyChanged is the reason for a value that changed on side alone.
func onlyChanged(side Side) Reason {
	if side == SidePTD {
		return ReasonOnlyPTDChanged
	}
	return ReasonOnlyGHLChanged
}

func other(side Side) Side {
	if side == SideGHL {
		return SidePTD
	}
	return SideGHL
}

// scalar normalizes a scalar input; a failure is reported and ok is false.
func (m *merger) scalar(spec FieldSpec, side Side, v Value) (string, bool) {
	if v.IsSet {
		m.invalid(spec.Name, side, v, fmt.Errorf("cannot read field %q: want a scalar, got a set: %w", spec.Name, ErrWrongKind))
		return "", false
	}
	s, err := spec.Normalizer.Apply(v.S, m.opts.Locale)
	if err != nil {
		m.invalid(spec.Name, side, v, fmt.Errorf("cannot read field %q: %w", spec.Name, err))
		return "", false
	}
	return s, true
}

func (m *merger) mergeScalar(in fieldInput) {
	spec := in.spec
	g, okG := m.scalar(spec, SideGHL, in.ghl)
	p, okP := g, okG
	if in.ptd.S != in.ghl.S || in.ptd.IsSet || !okG { // normalizing phones is not free: reuse equal input
		p, okP = m.scalar(spec, SidePTD, in.ptd)
	}
	b, hasBase := "", in.hasBase
	switch {
	case !hasBase:
	case okG && !in.base.IsSet && in.base.S == in.ghl.S && !in.ghl.IsSet:
		b = g
	case okP && !in.base.IsSet && in.base.S == in.ptd.S && !in.ptd.IsSet:
		b = p
	default:
		var okB bool
		if b, okB = m.scalar(spec, SideBase, in.base); !okB {
			hasBase = false // a base we cannot read is no evidence of agreement
		}
	}
	if !okG || !okP {
		m.freeze(in)
		return
	}
	vals := map[Side]string{SideGHL: g, SidePTD: p}

	if g == p {
		m.agree(in, Scalar(g), hasBase && b == g)
		return
	}

	var winner Side
	var reason Reason
	if spec.Direction != Both {
		src, dst := source(spec.Direction)
		if vals[src] == "" && (!spec.AllowEmpty || !hasBase) {
			return // an empty source never clears the destination: nothing written, base kept
		}
		winner, reason = src, ReasonOneWay
		if hasBase && vals[dst] == b {
			reason = onlyChanged(src)
		}
	} else {
		gChanged, pChanged := !hasBase || g != b, !hasBase || p != b
		switch {
		case gChanged && !pChanged:
			winner, reason = SideGHL, ReasonOnlyGHLChanged
		case pChanged && !gChanged:
			winner, reason = SidePTD, ReasonOnlyPTDChanged
		case !hasBase:
			winner, reason = m.initialWinner(), ReasonInitial
		case spec.Rule == PreferGHL:
			winner, reason = SideGHL, ReasonGHL
		case spec.Rule == PreferPTD:
			winner, reason = SidePTD, ReasonPTD
		case spec.Rule == Newest:
			winner, reason = m.newer(), ReasonNewest
		}
		// An empty value never overwrites a non-empty one unless a deliberate clearing (base
		// present, AllowEmpty) says so. This check runs before Manual: a clearing against an edit
		// is no conflict, the edit wins.
		if e, ne := emptyVsNonEmpty(g, p); e != SideNone && (!spec.AllowEmpty || !hasBase) {
			if winner == e || winner == SideNone {
				winner, reason = ne, ReasonEmptyKept
			}
		}
		if winner == SideNone { // Manual, both changed, neither empty
			m.res.Conflicts = append(m.res.Conflicts, Conflict{Field: spec.Name, Base: Scalar(b), GHL: Scalar(g), PTD: Scalar(p)})
			m.res.Decisions = append(m.res.Decisions, Decision{Field: spec.Name, Winner: SideNone, Rule: ReasonManual, Old: in.base, New: in.base})
			return
		}
	}

	v := Scalar(vals[winner])
	loser := other(winner)
	d := Decision{Field: spec.Name, Winner: winner, Rule: reason, Old: in.base, New: v}
	m.write(loser, spec.Name, Write{Value: v}, &d)
	m.res.Base.Values[spec.Name] = v
	m.res.Decisions = append(m.res.Decisions, d)
}

// emptyVsNonEmpty returns the empty side and the non-empty side when exactly one of g, p is empty.
func emptyVsNonEmpty(g, p string) (empty, nonEmpty Side) {
	switch {
	case g == "" && p != "":
		return SideGHL, SidePTD
	case p == "" && g != "":
		return SidePTD, SideGHL
	}
	return SideNone, SideNone
}

// agree records v, which both sides hold, as the base. The stored base is rewritten even when it
// only differs in form (a raw value from an older normalizer); a Decision is recorded only when
// the agreed value itself is new, so first contact of two empty fields adds no history noise.
func (m *merger) agree(in fieldInput, v Value, sameAsBase bool) {
	m.res.Base.Values[in.spec.Name] = v
	if sameAsBase || (!in.hasBase && v.IsEmpty()) {
		return
	}
	m.res.Decisions = append(m.res.Decisions, Decision{Field: in.spec.Name, Winner: SideBoth, Rule: ReasonAgree, Old: in.base, New: v})
}

func (m *merger) write(side Side, field string, w Write, d *Decision) {
	if side == SideGHL {
		m.res.ToGHL[field] = w
		d.ToGHL = true
	} else {
		m.res.ToPTD[field] = w
		d.ToPTD = true
	}
}

// set normalizes a set input; a zero Value reads as the empty set. A failure is reported.
func (m *merger) set(spec FieldSpec, side Side, v Value) (normSet, bool) {
	if !v.IsSet && v.S != "" {
		m.invalid(spec.Name, side, v, fmt.Errorf("cannot read field %q: want a set, got a scalar: %w", spec.Name, ErrWrongKind))
		return normSet{}, false
	}
	s, err := normalizeSet(v.Set, spec.Normalizer, m.opts.Locale)
	if err != nil {
		m.invalid(spec.Name, side, v, fmt.Errorf("cannot read field %q: %w", spec.Name, err))
		return normSet{}, false
	}
	return s, true
}

func (m *merger) mergeSet(in fieldInput) {
	spec := in.spec
	gs, okG := m.set(spec, SideGHL, in.ghl)
	ps, okP := m.set(spec, SidePTD, in.ptd)
	var bs normSet
	hasBase := in.hasBase
	if hasBase {
		var okB bool
		if bs, okB = m.set(spec, SideBase, in.base); !okB {
			hasBase = false
		}
	}
	if !okG || !okP {
		m.freeze(in)
		return
	}
	if gs.equal(ps) {
		if hasBase && bs.equal(gs) {
			m.agree(in, setValue(bs), true) // keep the base's spelling of each element
		} else {
			m.agree(in, setValue(gs), false)
		}
		return
	}

	var r normSet
	var winner Side
	var reason Reason
	if spec.Direction != Both {
		src, dst := source(spec.Direction)
		sets := map[Side]normSet{SideGHL: gs, SidePTD: ps}
		if len(sets[src].keys) == 0 && (!spec.AllowEmpty || !hasBase) {
			return
		}
		r, winner, reason = sets[src], src, ReasonOneWay
		if hasBase && sets[dst].equal(bs) {
			reason = onlyChanged(src)
		}
	} else if !hasBase {
		r, winner, reason = combine(nil, gs, ps), SideBoth, ReasonUnion
	} else {
		gChanged, pChanged := !gs.equal(bs), !ps.equal(bs)
		gEdits, pEdits := gs, ps
		switch {
		case len(gs.keys) == 0 && gChanged && !spec.AllowEmpty:
			winner, reason = SidePTD, ReasonEmptyKept
			gEdits = bs // the emptied side's "removals" are not applied
		case len(ps.keys) == 0 && pChanged && !spec.AllowEmpty:
			winner, reason = SideGHL, ReasonEmptyKept
			pEdits = bs
		case gChanged && pChanged:
			winner, reason = SideBoth, ReasonSetMerge
		case gChanged:
			winner, reason = SideGHL, ReasonOnlyGHLChanged
		default:
			winner, reason = SidePTD, ReasonOnlyPTDChanged
		}
		r = combine(&bs, gEdits, pEdits)
	}

	v := setValue(r)
	d := Decision{Field: spec.Name, Winner: winner, Rule: reason, Old: in.base, New: v}
	for _, side := range []Side{SideGHL, SidePTD} {
		cur := gs
		if side == SidePTD {
			cur = ps
		}
		if !spec.Direction.writes(side) {
			continue
		}
		if delta := setDelta(cur, r); !delta.IsEmpty() {
			m.write(side, spec.Name, Write{Value: v, Delta: delta}, &d)
		}
	}
	m.res.Base.Values[spec.Name] = v
	m.res.Decisions = append(m.res.Decisions, d)
}

// combine applies to base the adds and removes of g and p since base. With base nil it returns
// the union. Spelling of an element prefers base, then g, then p.
func combine(base *normSet, g, p normSet) normSet {
	out := normSet{byKey: map[string]string{}}
	keep := func(k, spelling string) {
		if _, ok := out.byKey[k]; !ok {
			out.byKey[k] = spelling
		}
	}
	if base == nil {
		for _, s := range []normSet{g, p} {
			for _, k := range s.keys {
				keep(k, s.byKey[k])
			}
		}
	} else {
		for _, k := range base.keys {
			if g.has(k) && p.has(k) { // removed by neither
				keep(k, base.byKey[k])
			}
		}
		for _, s := range []normSet{g, p} {
			for _, k := range s.keys {
				if !base.has(k) { // added since base
					keep(k, s.byKey[k])
				}
			}
		}
	}
	for k := range out.byKey {
		out.keys = append(out.keys, k)
	}
	sort.Strings(out.keys)
	return out
}

// setDelta is what turns cur into want: adds in want's spelling, removes in cur's spelling.
func setDelta(cur, want normSet) SetDelta {
	var d SetDelta
	for _, k := range want.keys {
		if !cur.has(k) {
			d.Add = append(d.Add, want.byKey[k])
		}
	}
	for _, k := range cur.keys {
		if !want.has(k) {
			d.Remove = append(d.Remove, cur.byKey[k])
		}
	}
	return d
}

func setValue(s normSet) Value { return Value{Set: s.items(), IsSet: true} }
