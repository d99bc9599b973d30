package diff

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The property tests drive Merge with random specs and records drawn from small pools, so that
// equal, empty, differently formatted and invalid values all collide often, and check the
// contract on every result:
//
//   - idempotence: applying the writes and storing Result.Base makes the next merge write
//     nothing and report the same conflicts, with the same base;
//   - convergence: afterwards both sides hold (normalized) the same value on every two-way field
//     except conflicts and invalid input, and the destination equals a non-empty source on
//     one-way fields;
//   - Result.Base equals that post-write state wherever both sides agree;
//   - no invention: a value written to a side is the other side's value (scalars), and a set
//     element added to a side is held by the other side or the base, one removed is gone from the
//     other side (two-way) or the source (one-way);
//   - a one-way field never writes to its source;
//   - an empty value never overwrites a non-empty one unless the field allows it and a base exists
//     (a set emptied by the two sides' combined removals is not an empty value flowing).

var (
	poolName  = []string{"", "Ana", " Ana ", "Anna", "Ana  Maria", "Bo"}
	poolEmail = []string{"", "ana@x.io", " ANA@x.io", "bo@x.io", "not-an-email"}
	poolPhone = []string{"", "+15550101234", "(555) 010 1234", "555.010.9999", "+44 20 7946 0958", "0044 20 7946 0958", "12"}
	poolTime  = []string{"", "2024-03-01", "2024-03-01T00:00:00Z", "2024-03-01 09:30:00", "2024-03-02T00:00:00.5+01:00", "soon"}
	poolTags  = []string{"vip", "VIP", "lead", " lead ", "trial", "client", ""}
)

type fieldGen struct {
	spec FieldSpec
	pool []string
}

func randSpecs(r *rand.Rand) []fieldGen {
	all := []fieldGen{
		{FieldSpec{Name: "first_name", Normalizer: NormName}, poolName},
		{FieldSpec{Name: "email", Normalizer: NormEmail}, poolEmail},
		{FieldSpec{Name: "phone", Normalizer: NormPhone}, poolPhone},
		{FieldSpec{Name: "dob", Normalizer: NormTime}, poolTime},
		{FieldSpec{Name: "note", Normalizer: NormNone}, poolName},
		{FieldSpec{Name: "tags", Normalizer: NormTags, Set: true}, poolTags},
		{FieldSpec{Name: "groups", Normalizer: NormTags, Set: true}, poolTags},
	}
	var out []fieldGen
	for _, g := range all {
		if r.IntN(4) == 0 {
			continue
		}
		g.spec.Direction = Direction(r.IntN(3))
		g.spec.Rule = Rule(r.IntN(4))
		g.spec.AllowEmpty = r.IntN(3) == 0
		out = append(out, g)
	}
	return out
}

func randValue(r *rand.Rand, g fieldGen) Value {
	if !g.spec.Set {
		return Scalar(g.pool[r.IntN(len(g.pool))])
	}
	var items []string
	for range r.IntN(4) {
		items = append(items, g.pool[r.IntN(len(g.pool))])
	}
	return SetOf(items...)
}

// randScenario returns specs, a base (possibly nil), two records and options.
func randScenario(r *rand.Rand) ([]FieldSpec, *Snapshot, Snapshot, Snapshot, Options) {
	gens := randSpecs(r)
	specs := make([]FieldSpec, len(gens))
	times := []time.Time{t0, t1, {}}
	ghl := Snapshot{Values: Values{}, UpdatedAt: times[r.IntN(3)]}
	ptd := Snapshot{Values: Values{}, UpdatedAt: times[r.IntN(3)]}
	var base *Snapshot
	if r.IntN(4) != 0 {
		base = &Snapshot{Values: Values{}}
	}
	for i, g := range gens {
		specs[i] = g.spec
		bv := randValue(r, g)
		if base != nil && r.IntN(5) != 0 {
			base.Values[g.spec.Name] = bv
		}
		// Each side keeps the base value half of the time, so "only one side changed" is common.
		for _, side := range []Snapshot{ghl, ptd} {
			switch r.IntN(6) {
			case 0, 1, 2:
				side.Values[g.spec.Name] = bv
			case 3:
				// missing field reads as empty
			default:
				side.Values[g.spec.Name] = randValue(r, g)
			}
		}
	}
	opts := Options{InitialWinner: []Side{SideNone, SideGHL, SidePTD}[r.IntN(3)], Locale: Locale{Region: "US"}}
	return specs, base, ghl, ptd, opts
}

func TestMergeProperties(t *testing.T) {
	const iterations = 5000
	r := rand.New(rand.NewPCG(20240301, 1))
	for i := range iterations {
		specs, base, ghl, ptd, opts := randScenario(r)
		if err := checkMergeProperties(specs, base, ghl, ptd, opts); err != nil {
			t.Fatalf("iteration %d: %v\nspecs %+v\nbase %+v\nghl %+v\nptd %+v\nopts %+v", i, err, specs, base, ghl, ptd, opts)
		}
	}
}

// checkMergeProperties merges, applies the plan as a successful pusher would, merges again and
// checks every property listed at the top of this file.
func checkMergeProperties(specs []FieldSpec, base *Snapshot, ghl, ptd Snapshot, opts Options) error {
	res := Merge(specs, base, ghl, ptd, opts)
	again := Merge(specs, base, ghl, ptd, opts)
	if res.Summary() != again.Summary() || len(res.Decisions) != len(again.Decisions) {
		return fmt.Errorf("merge is not deterministic: %q vs %q", res.Summary(), again.Summary())
	}
	ghl2 := Snapshot{Values: res.ToGHL.ApplyTo(ghl.Values), UpdatedAt: ghl.UpdatedAt}
	ptd2 := Snapshot{Values: res.ToPTD.ApplyTo(ptd.Values), UpdatedAt: ptd.UpdatedAt}
	base2 := res.Base

	next := Merge(specs, &base2, ghl2, ptd2, opts)
	if next.HasWrites() {
		return fmt.Errorf("not idempotent: second merge plans %q (first %q)", next.Summary(), res.Summary())
	}
	if got, want := fields(next.Conflicts), fields(res.Conflicts); !slices.Equal(got, want) {
		return fmt.Errorf("conflicts changed on second merge: %v, was %v", got, want)
	}
	for _, d := range next.Decisions {
		if d.Rule != ReasonManual && d.Rule != ReasonInvalid {
			return fmt.Errorf("second merge decided something: %v", d)
		}
	}

	skip := map[string]bool{}
	for _, c := range res.Conflicts {
		skip[c.Field] = true
	}
	for _, iv := range res.Invalid {
		if iv.Side != SideBase {
			skip[iv.Field] = true
		}
	}
	for _, sp := range specs {
		if got, want := canon(sp, next.Base.Values[sp.Name], opts), canon(sp, base2.Values[sp.Name], opts); got != want {
			return fmt.Errorf("%s: base moved on second merge: %s -> %s", sp.Name, want, got)
		}
		if err := checkNoInvention(sp, base, ghl, ptd, res, opts); err != nil {
			return err
		}
		if skip[sp.Name] {
			if _, w1 := res.ToGHL[sp.Name]; w1 {
				return fmt.Errorf("%s: written to ghl despite conflict or invalid input", sp.Name)
			}
			if _, w2 := res.ToPTD[sp.Name]; w2 {
				return fmt.Errorf("%s: written to ptd despite conflict or invalid input", sp.Name)
			}
			continue
		}
		g, p := canon(sp, ghl2.Values[sp.Name], opts), canon(sp, ptd2.Values[sp.Name], opts)
		b, hasB := base2.Values[sp.Name]
		if g != p {
			// Allowed only where a one-way field's empty source leaves the destination alone.
			src := g
			if sp.Direction == PTDToGHL {
				src = p
			}
			if sp.Direction == Both || src != canon(sp, Value{IsSet: sp.Set}, opts) {
				return fmt.Errorf("%s (%v): sides differ after the plan: ghl %s ptd %s", sp.Name, sp.Direction, g, p)
			}
			continue
		}
		if !hasB || canon(sp, b, opts) != g {
			return fmt.Errorf("%s: base %v does not match what both sides hold (%s)", sp.Name, b, g)
		}
	}
	return nil
}

// checkNoInvention checks that every write to a field comes from the other side (or the base, for
// a refill) and that one-way fields never write to their source.
func checkNoInvention(sp FieldSpec, base *Snapshot, ghl, ptd Snapshot, res Result, opts Options) error {
	vals := map[Side]Value{SideGHL: ghl.Values[sp.Name], SidePTD: ptd.Values[sp.Name]}
	var bv Value
	hasBase := false
	if base != nil {
		bv, hasBase = base.Values[sp.Name]
	}
	for _, side := range []Side{SideGHL, SidePTD} {
		ws := res.ToGHL
		if side == SidePTD {
			ws = res.ToPTD
		}
		wr, ok := ws[sp.Name]
		if !ok {
			continue
		}
		if !sp.Direction.writes(side) {
			return fmt.Errorf("%s: one-way field %v wrote to its source %v", sp.Name, sp.Direction, side)
		}
		from := vals[other(side)]
		empty := canon(sp, Value{IsSet: sp.Set}, opts)
		// For sets, combined removals (each side removed different elements) may legitimately
		// empty a side; what must not happen is the emptiness of the other side flowing.
		emptiedByOther := !sp.Set || canon(sp, from, opts) == empty
		if canon(sp, wr.Value, opts) == empty && canon(sp, vals[side], opts) != empty && emptiedByOther && (!sp.AllowEmpty || !hasBase) {
			return fmt.Errorf("%s: empty value overwrote %v on %v (allow_empty %v, base %v)", sp.Name, vals[side], side, sp.AllowEmpty, hasBase)
		}
		if !sp.Set {
			if canon(sp, wr.Value, opts) != canon(sp, from, opts) {
				return fmt.Errorf("%s: wrote %v to %v, which is not the other side's %v", sp.Name, wr.Value, side, from)
			}
			continue
		}
		cur, _ := normalizeSet(vals[side].Set, sp.Normalizer, opts.Locale)
		src, _ := normalizeSet(from.Set, sp.Normalizer, opts.Locale)
		bs, _ := normalizeSet(bv.Set, sp.Normalizer, opts.Locale)
		want, _ := normalizeSet(wr.Value.Set, sp.Normalizer, opts.Locale)
		for _, a := range wr.Delta.Add {
			k := strings.ToLower(a)
			if !src.has(k) && !bs.has(k) {
				return fmt.Errorf("%s: added %q to %v though neither the other side nor base holds it", sp.Name, a, side)
			}
		}
		for _, rm := range wr.Delta.Remove {
			k := strings.ToLower(rm)
			oneWayDrop := sp.Direction != Both && !src.has(k)
			removedByOther := hasBase && bs.has(k) && !src.has(k)
			if !oneWayDrop && !removedByOther {
				return fmt.Errorf("%s: removed %q from %v though the other side did not remove it", sp.Name, rm, side)
			}
		}
		// The delta turns what the side holds into Write.Value.
		after := map[string]bool{}
		for _, k := range cur.keys {
			after[k] = true
		}
		for _, a := range wr.Delta.Add {
			after[strings.ToLower(a)] = true
		}
		for _, rm := range wr.Delta.Remove {
			delete(after, strings.ToLower(rm))
		}
		if len(after) != len(want.keys) {
			return fmt.Errorf("%s: delta %+v on %v does not reach %v", sp.Name, wr.Delta, cur.items(), want.items())
		}
		for _, k := range want.keys {
			if !after[k] {
				return fmt.Errorf("%s: delta %+v on %v does not reach %v", sp.Name, wr.Delta, cur.items(), want.items())
			}
		}
	}
	return nil
}

// canon renders a value in its normalized, comparable form ("!invalid" when it does not normalize).
func canon(sp FieldSpec, v Value, opts Options) string {
	if sp.Set {
		ns, err := normalizeSet(v.Set, sp.Normalizer, opts.Locale)
		if err != nil {
			return "!invalid"
		}
		return "{" + strings.Join(ns.keys, ",") + "}"
	}
	s, err := sp.Normalizer.Apply(v.S, opts.Locale)
	if err != nil {
		return "!invalid"
	}
	return s
}

func fields(cs []Conflict) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Field)
	}
	return out
}
