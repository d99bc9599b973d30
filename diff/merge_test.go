package diff

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

func s(v string) Value { return Scalar(v) }

// merge case: one field spec, three values, expectations. GHL's record is at t0 and PTD's at
// ptdAt (t0 when zero) unless a case says otherwise.
type mergeCase struct {
	name     string
	spec     FieldSpec
	base     *Value // nil: no base entry for the field
	noBase   bool   // base snapshot itself is nil
	ghl      Value
	ptd      Value
	ptdAt    time.Time
	opts     Options
	toGHL    *Write // nil: no write expected
	toPTD    *Write
	newBase  *Value // expected base entry afterwards; nil: absent
	reason   Reason // expected single decision ("" = no decision)
	winner   Side
	invalid  []string // "field@side"
	conflict bool
}

func w(v Value) *Write  { return &Write{Value: v} }
func vp(v Value) *Value { return &v }
func ws(v Value, add, remove []string) *Write {
	return &Write{Value: v, Delta: SetDelta{Add: add, Remove: remove}}
}

func runMergeCase(t *testing.T, tc mergeCase) {
	t.Helper()
	var base *Snapshot
	if !tc.noBase {
		base = &Snapshot{Values: Values{"other": s("untouched")}, UpdatedAt: t0.Add(-time.Hour)}
		if tc.base != nil {
			base.Values[tc.spec.Name] = *tc.base
		}
	}
	ptdAt := tc.ptdAt
	if ptdAt.IsZero() {
		ptdAt = t0
	}
	ghl := Snapshot{Values: Values{tc.spec.Name: tc.ghl}, UpdatedAt: t0}
	ptd := Snapshot{Values: Values{tc.spec.Name: tc.ptd}, UpdatedAt: ptdAt}
	res := Merge([]FieldSpec{tc.spec}, base, ghl, ptd, tc.opts)

	checkWrite(t, "ToGHL", res.ToGHL, tc.spec.Name, tc.toGHL)
	checkWrite(t, "ToPTD", res.ToPTD, tc.spec.Name, tc.toPTD)
	got, ok := res.Base.Values[tc.spec.Name]
	switch {
	case tc.newBase == nil && ok:
		t.Errorf("new base has %s = %v, want absent", tc.spec.Name, got)
	case tc.newBase != nil && (!ok || !got.Equal(*tc.newBase)):
		t.Errorf("new base %s = %v (present %v), want %v", tc.spec.Name, got, ok, *tc.newBase)
	}
	if !tc.noBase {
		if o := res.Base.Values["other"]; !o.Equal(s("untouched")) {
			t.Errorf("unmapped base field lost: %v", o)
		}
	}
	var reasons []string
	for _, d := range res.Decisions {
		reasons = append(reasons, fmt.Sprintf("%s/%s", d.Rule, d.Winner))
		if d.ToGHL != (tc.toGHL != nil) || d.ToPTD != (tc.toPTD != nil) {
			t.Errorf("decision %v: write flags disagree with writes", d)
		}
	}
	var want []string
	if tc.reason != "" {
		want = []string{fmt.Sprintf("%s/%s", tc.reason, tc.winner)}
	}
	if !slices.Equal(reasons, want) {
		t.Errorf("decisions = %v, want %v", reasons, want)
	}
	var invalid []string
	for _, iv := range res.Invalid {
		invalid = append(invalid, iv.Field+"@"+iv.Side.String())
		if iv.Err == nil {
			t.Errorf("invalid %s without error", iv.Field)
		}
	}
	if !slices.Equal(invalid, tc.invalid) {
		t.Errorf("invalid = %v, want %v", invalid, tc.invalid)
	}
	if (len(res.Conflicts) > 0) != tc.conflict {
		t.Errorf("conflicts = %+v, want conflict %v", res.Conflicts, tc.conflict)
	}
	if !res.Base.UpdatedAt.Equal(latest(t0, ptdAt)) {
		t.Errorf("base UpdatedAt = %v", res.Base.UpdatedAt)
	}
}

func checkWrite(t *testing.T, label string, ws Writes, field string, want *Write) {
	t.Helper()
	got, ok := ws[field]
	if want == nil {
		if ok || len(ws) > 0 {
			t.Errorf("%s = %+v, want no write", label, ws)
		}
		return
	}
	if !ok {
		t.Errorf("%s has no write for %s, want %v", label, field, want.Value)
		return
	}
	if !got.Value.Equal(want.Value) || !slices.Equal(got.Delta.Add, want.Delta.Add) || !slices.Equal(got.Delta.Remove, want.Delta.Remove) {
		t.Errorf("%s[%s] = %v %+v, want %v %+v", label, field, got.Value, got.Delta, want.Value, want.Delta)
	}
}

func TestMergeScalarTwoWay(t *testing.T) {
	email := FieldSpec{Name: "email", Normalizer: NormEmail}
	phone := FieldSpec{Name: "phone", Normalizer: NormPhone}
	us := Options{Locale: Locale{Region: "US"}}
	withRule := func(r Rule) FieldSpec { sp := email; sp.Rule = r; return sp }
	allowEmpty := func(sp FieldSpec) FieldSpec { sp.AllowEmpty = true; return sp }
	tests := []mergeCase{
		{name: "nothing changed", spec: email, base: vp(s("a@x.io")), ghl: s("a@x.io"), ptd: s("a@x.io"),
			newBase: vp(s("a@x.io"))},
		{name: "only ghl changed flows to ptd", spec: email, base: vp(s("a@x.io")), ghl: s("b@x.io"), ptd: s("a@x.io"),
			toPTD: w(s("b@x.io")), newBase: vp(s("b@x.io")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "only ptd changed flows to ghl", spec: email, base: vp(s("a@x.io")), ghl: s("a@x.io"), ptd: s("c@x.io"),
			toGHL: w(s("c@x.io")), newBase: vp(s("c@x.io")), reason: ReasonOnlyPTDChanged, winner: SidePTD},
		{name: "written value is normalized", spec: email, base: vp(s("a@x.io")), ghl: s(" B@X.io "), ptd: s("a@x.io"),
			toPTD: w(s("b@x.io")), newBase: vp(s("b@x.io")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "both changed to the same value", spec: email, base: vp(s("a@x.io")), ghl: s("b@x.io"), ptd: s("B@x.io"),
			newBase: vp(s("b@x.io")), reason: ReasonAgree, winner: SideBoth},
		{name: "formatting-only difference is no change", spec: phone, opts: us, base: vp(s("+15550101234")),
			ghl: s("(555) 010 1234"), ptd: s("555.010.1234"), newBase: vp(s("+15550101234"))},
		{name: "raw base is re-normalized", spec: phone, opts: us, base: vp(s("555-010-1234")),
			ghl: s("+15550101234"), ptd: s("+15550101234"), newBase: vp(s("+15550101234"))},
		{name: "newest: ptd newer wins", spec: withRule(Newest), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("p@x.io"), ptdAt: t1,
			toGHL: w(s("p@x.io")), newBase: vp(s("p@x.io")), reason: ReasonNewest, winner: SidePTD},
		{name: "newest: ghl newer wins", spec: withRule(Newest), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("p@x.io"), ptdAt: t0.Add(-time.Minute),
			toPTD: w(s("g@x.io")), newBase: vp(s("g@x.io")), reason: ReasonNewest, winner: SideGHL},
		{name: "newest: tie goes to ghl", spec: withRule(Newest), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("p@x.io"),
			toPTD: w(s("g@x.io")), newBase: vp(s("g@x.io")), reason: ReasonNewest, winner: SideGHL},
		{name: "rule ghl", spec: withRule(PreferGHL), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("p@x.io"), ptdAt: t1,
			toPTD: w(s("g@x.io")), newBase: vp(s("g@x.io")), reason: ReasonGHL, winner: SideGHL},
		{name: "rule ptd", spec: withRule(PreferPTD), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("p@x.io"),
			toGHL: w(s("p@x.io")), newBase: vp(s("p@x.io")), reason: ReasonPTD, winner: SidePTD},
		{name: "rule manual is a conflict that keeps base", spec: withRule(Manual), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("p@x.io"),
			newBase: vp(s("a@x.io")), reason: ReasonManual, winner: SideNone, conflict: true},
		{name: "manual with only one side changed is no conflict", spec: withRule(Manual), base: vp(s("a@x.io")), ghl: s("g@x.io"), ptd: s("a@x.io"),
			toPTD: w(s("g@x.io")), newBase: vp(s("g@x.io")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "cleared on ghl is refilled without allow_empty", spec: email, base: vp(s("a@x.io")), ghl: s(""), ptd: s("a@x.io"),
			toGHL: w(s("a@x.io")), newBase: vp(s("a@x.io")), reason: ReasonEmptyKept, winner: SidePTD},
		{name: "cleared on ptd is refilled without allow_empty", spec: email, base: vp(s("a@x.io")), ghl: s("a@x.io"), ptd: s("  "),
			toPTD: w(s("a@x.io")), newBase: vp(s("a@x.io")), reason: ReasonEmptyKept, winner: SideGHL},
		{name: "cleared on ghl flows with allow_empty", spec: allowEmpty(email), base: vp(s("a@x.io")), ghl: s(""), ptd: s("a@x.io"),
			toPTD: w(s("")), newBase: vp(s("")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "missing field reads as empty", spec: email, base: vp(s("a@x.io")), ghl: Value{}, ptd: s("a@x.io"),
			toGHL: w(s("a@x.io")), newBase: vp(s("a@x.io")), reason: ReasonEmptyKept, winner: SidePTD},
		{name: "filled on empty side flows", spec: email, base: vp(s("")), ghl: s(""), ptd: s("p@x.io"),
			toGHL: w(s("p@x.io")), newBase: vp(s("p@x.io")), reason: ReasonOnlyPTDChanged, winner: SidePTD},
		{name: "clearing versus edit: edit wins even under manual", spec: withRule(Manual), base: vp(s("a@x.io")), ghl: s(""), ptd: s("p@x.io"),
			toGHL: w(s("p@x.io")), newBase: vp(s("p@x.io")), reason: ReasonEmptyKept, winner: SidePTD},
		{name: "clearing versus edit: newest ghl clearing loses without allow_empty", spec: withRule(Newest), base: vp(s("a@x.io")), ghl: s(""), ptd: s("p@x.io"), ptdAt: t0.Add(-time.Hour),
			toGHL: w(s("p@x.io")), newBase: vp(s("p@x.io")), reason: ReasonEmptyKept, winner: SidePTD},
		{name: "clearing versus edit: rule ghl clears with allow_empty", spec: allowEmpty(withRule(PreferGHL)), base: vp(s("a@x.io")), ghl: s(""), ptd: s("p@x.io"),
			toPTD: w(s("")), newBase: vp(s("")), reason: ReasonGHL, winner: SideGHL},
		{name: "clearing versus edit: manual with allow_empty conflicts", spec: allowEmpty(withRule(Manual)), base: vp(s("a@x.io")), ghl: s(""), ptd: s("p@x.io"),
			newBase: vp(s("a@x.io")), reason: ReasonManual, winner: SideNone, conflict: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runMergeCase(t, tc) })
	}
}

func TestMergeScalarNoBase(t *testing.T) {
	name := FieldSpec{Name: "first_name", Normalizer: NormName}
	allow := name
	allow.AllowEmpty = true
	ptdFirst := Options{InitialWinner: SidePTD}
	tests := []mergeCase{
		{name: "equal values just record a base", spec: name, noBase: true, ghl: s("Ana "), ptd: s("Ana"),
			newBase: vp(s("Ana")), reason: ReasonAgree, winner: SideBoth},
		{name: "initial winner defaults to ghl", spec: name, noBase: true, ghl: s("Ana"), ptd: s("Anna"),
			toPTD: w(s("Ana")), newBase: vp(s("Ana")), reason: ReasonInitial, winner: SideGHL},
		{name: "initial winner ptd", spec: name, noBase: true, ghl: s("Ana"), ptd: s("Anna"), opts: ptdFirst,
			toGHL: w(s("Anna")), newBase: vp(s("Anna")), reason: ReasonInitial, winner: SidePTD},
		{name: "field missing from an existing base is treated as no base", spec: name, ghl: s("Ana"), ptd: s("Anna"), opts: ptdFirst,
			toGHL: w(s("Anna")), newBase: vp(s("Anna")), reason: ReasonInitial, winner: SidePTD},
		{name: "empty initial winner does not overwrite", spec: name, noBase: true, ghl: s(""), ptd: s("Anna"),
			toGHL: w(s("Anna")), newBase: vp(s("Anna")), reason: ReasonEmptyKept, winner: SidePTD},
		{name: "empty initial winner does not overwrite even with allow_empty", spec: allow, noBase: true, ghl: s("Ana"), ptd: s(""), opts: ptdFirst,
			toPTD: w(s("Ana")), newBase: vp(s("Ana")), reason: ReasonEmptyKept, winner: SideGHL},
		{name: "both empty records empty base silently", spec: name, noBase: true, ghl: s(""), ptd: Value{},
			newBase: vp(s(""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runMergeCase(t, tc) })
	}
}

func TestMergeScalarDirection(t *testing.T) {
	g2p := FieldSpec{Name: "timezone", Direction: GHLToPTD}
	p2g := FieldSpec{Name: "timezone", Direction: PTDToGHL}
	g2pAllow := g2p
	g2pAllow.AllowEmpty = true
	tests := []mergeCase{
		{name: "ghl-to-ptd: source change flows", spec: g2p, base: vp(s("UTC")), ghl: s("Europe/London"), ptd: s("UTC"),
			toPTD: w(s("Europe/London")), newBase: vp(s("Europe/London")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "ghl-to-ptd: destination edit is overwritten", spec: g2p, base: vp(s("UTC")), ghl: s("UTC"), ptd: s("Asia/Tokyo"),
			toPTD: w(s("UTC")), newBase: vp(s("UTC")), reason: ReasonOneWay, winner: SideGHL},
		{name: "ghl-to-ptd: both changed, source wins whatever the rule", spec: FieldSpec{Name: "timezone", Direction: GHLToPTD, Rule: Manual}, base: vp(s("UTC")), ghl: s("Europe/London"), ptd: s("Asia/Tokyo"),
			toPTD: w(s("Europe/London")), newBase: vp(s("Europe/London")), reason: ReasonOneWay, winner: SideGHL},
		{name: "ghl-to-ptd: no base, source wins over initial winner", spec: g2p, noBase: true, ghl: s("UTC"), ptd: s("Asia/Tokyo"), opts: Options{InitialWinner: SidePTD},
			toPTD: w(s("UTC")), newBase: vp(s("UTC")), reason: ReasonOneWay, winner: SideGHL},
		{name: "ghl-to-ptd: empty source leaves destination alone", spec: g2p, base: vp(s("UTC")), ghl: s(""), ptd: s("UTC"),
			newBase: vp(s("UTC"))},
		{name: "ghl-to-ptd: empty source without base writes nothing", spec: g2pAllow, noBase: true, ghl: s(""), ptd: s("UTC")},
		{name: "ghl-to-ptd: clearing flows with allow_empty", spec: g2pAllow, base: vp(s("UTC")), ghl: s(""), ptd: s("UTC"),
			toPTD: w(s("")), newBase: vp(s("")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "ptd-to-ghl: source change flows", spec: p2g, base: vp(s("UTC")), ghl: s("UTC"), ptd: s("Asia/Tokyo"),
			toGHL: w(s("Asia/Tokyo")), newBase: vp(s("Asia/Tokyo")), reason: ReasonOnlyPTDChanged, winner: SidePTD},
		{name: "ptd-to-ghl: destination edit is overwritten", spec: p2g, base: vp(s("UTC")), ghl: s("Europe/Paris"), ptd: s("UTC"),
			toGHL: w(s("UTC")), newBase: vp(s("UTC")), reason: ReasonOneWay, winner: SidePTD},
		{name: "ptd-to-ghl: destination fill from empty is overwritten too", spec: p2g, base: vp(s("")), ghl: s("Europe/Paris"), ptd: s(""),
			newBase: vp(s(""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runMergeCase(t, tc) })
	}
}

func TestMergeInvalidInput(t *testing.T) {
	phone := FieldSpec{Name: "phone", Normalizer: NormPhone}
	us := Options{Locale: Locale{Region: "US"}}
	tests := []mergeCase{
		{name: "unparseable ghl phone freezes the field", spec: phone, opts: us, base: vp(s("+15550101234")), ghl: s("call me"), ptd: s("+15550101234"),
			newBase: vp(s("+15550101234")), reason: ReasonInvalid, winner: SideNone, invalid: []string{"phone@ghl"}},
		{name: "unparseable on both sides reports both", spec: phone, opts: us, noBase: true, ghl: s("x"), ptd: s("y"),
			reason: ReasonInvalid, winner: SideNone, invalid: []string{"phone@ghl", "phone@ptd"}},
		{name: "same unparseable value on both sides reports both", spec: phone, opts: us, noBase: true, ghl: s("x"), ptd: s("x"),
			reason: ReasonInvalid, winner: SideNone, invalid: []string{"phone@ghl", "phone@ptd"}},
		{name: "unreadable base counts as no base", spec: phone, opts: us, base: vp(s("garbage")), ghl: s("555 010 1234"), ptd: s("555 010 9999"),
			toPTD: w(s("+15550101234")), newBase: vp(s("+15550101234")), reason: ReasonInitial, winner: SideGHL, invalid: []string{"phone@base"}},
		{name: "set where a scalar is wanted", spec: phone, opts: us, noBase: true, ghl: SetOf("+15550101234"), ptd: s("+15550101234"),
			reason: ReasonInvalid, winner: SideNone, invalid: []string{"phone@ghl"}},
		{name: "scalar where a set is wanted", spec: FieldSpec{Name: "tags", Set: true, Normalizer: NormTags}, noBase: true, ghl: s("vip"), ptd: SetOf("vip"),
			reason: ReasonInvalid, winner: SideNone, invalid: []string{"tags@ghl"}},
		{name: "bad set element freezes the set", spec: FieldSpec{Name: "emails", Set: true, Normalizer: NormEmail}, base: vp(SetOf("a@x.io")), ghl: SetOf("a@x.io", "nope"), ptd: SetOf("a@x.io"),
			newBase: vp(SetOf("a@x.io")), reason: ReasonInvalid, winner: SideNone, invalid: []string{"emails@ghl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runMergeCase(t, tc) })
	}

	t.Run("bad and duplicate specs are skipped and reported", func(t *testing.T) {
		specs := []FieldSpec{{Name: "a"}, {Name: ""}, {Name: "a", Direction: PTDToGHL}, {Name: "t", Normalizer: NormTags}}
		res := Merge(specs, nil, Snapshot{Values: Values{"a": s("1")}}, Snapshot{Values: Values{"a": s("2")}}, Options{})
		if got := res.ToPTD["a"].Value; !got.Equal(s("1")) || len(res.ToGHL) != 0 {
			t.Errorf("first spec for a not used: ToGHL %v ToPTD %v", res.ToGHL, res.ToPTD)
		}
		var msgs []string
		for _, iv := range res.Invalid {
			if !errors.Is(iv.Err, ErrInvalidSpec) || iv.Side != SideNone {
				t.Errorf("invalid %+v: want a spec error on side none", iv)
			}
			msgs = append(msgs, iv.Err.Error())
		}
		want := []string{
			`cannot use field spec 1 (""): empty field name`,
			`cannot use field spec 2 ("a"): duplicates spec 0`,
			`cannot use field spec 3 ("t"): normalizer "tags" needs a set field`,
		}
		if !slices.Equal(msgs, want) {
			t.Errorf("invalid = %q, want %q", msgs, want)
		}
	})

	t.Run("invalid value error names field and value", func(t *testing.T) {
		res := Merge([]FieldSpec{phone}, nil, Snapshot{Values: Values{"phone": s("call me")}}, Snapshot{}, us)
		if len(res.Invalid) != 1 {
			t.Fatalf("invalid = %+v", res.Invalid)
		}
		err := res.Invalid[0].Err
		if !errors.Is(err, ErrInvalidPhone) || !strings.Contains(err.Error(), `field "phone"`) || !strings.Contains(err.Error(), `"call me"`) {
			t.Errorf("error %q should wrap ErrInvalidPhone and name field and value", err)
		}
	})
}

func TestMergeSets(t *testing.T) {
	tags := FieldSpec{Name: "tags", Set: true, Normalizer: NormTags}
	allow := tags
	allow.AllowEmpty = true
	g2p := tags
	g2p.Direction = GHLToPTD
	p2g := tags
	p2g.Direction = PTDToGHL
	set := SetOf
	none := []string(nil)
	tests := []mergeCase{
		{name: "no base takes the union", spec: tags, noBase: true, ghl: set("vip", "lead"), ptd: set("client"),
			toGHL:   ws(set("client", "lead", "vip"), []string{"client"}, none),
			toPTD:   ws(set("client", "lead", "vip"), []string{"lead", "vip"}, none),
			newBase: vp(set("client", "lead", "vip")), reason: ReasonUnion, winner: SideBoth},
		{name: "add on ghl is added on ptd", spec: tags, base: vp(set("lead")), ghl: set("lead", "vip"), ptd: set("lead"),
			toPTD: ws(set("lead", "vip"), []string{"vip"}, none), newBase: vp(set("lead", "vip")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "remove on ptd is removed on ghl", spec: tags, base: vp(set("lead", "vip")), ghl: set("lead", "vip"), ptd: set("vip"),
			toGHL: ws(set("vip"), none, []string{"lead"}), newBase: vp(set("vip")), reason: ReasonOnlyPTDChanged, winner: SidePTD},
		{name: "add on one side and remove on the other are both applied", spec: tags, base: vp(set("lead", "trial")), ghl: set("lead", "trial", "vip"), ptd: set("trial"),
			toGHL: ws(set("trial", "vip"), none, []string{"lead"}), toPTD: ws(set("trial", "vip"), []string{"vip"}, none),
			newBase: vp(set("trial", "vip")), reason: ReasonSetMerge, winner: SideBoth},
		{name: "different adds on both sides are combined", spec: tags, base: vp(set("lead")), ghl: set("lead", "a"), ptd: set("lead", "b"),
			toGHL: ws(set("a", "b", "lead"), []string{"b"}, none), toPTD: ws(set("a", "b", "lead"), []string{"a"}, none),
			newBase: vp(set("a", "b", "lead")), reason: ReasonSetMerge, winner: SideBoth},
		{name: "both made the same edit", spec: tags, base: vp(set("lead")), ghl: set("vip"), ptd: set("VIP"),
			newBase: vp(set("vip")), reason: ReasonAgree, winner: SideBoth},
		{name: "case and spacing differences are no change", spec: tags, base: vp(set("VIP", "lead")), ghl: set("vip", " Lead"), ptd: set("VIP", "lead", "lead"),
			newBase: vp(set("VIP", "lead"))},
		{name: "remove uses the target side's spelling", spec: tags, base: vp(set("vip", "lead")), ghl: set("lead"), ptd: set("VIP", "lead"),
			toPTD: ws(set("lead"), none, []string{"VIP"}), newBase: vp(set("lead")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "emptied side is refilled without allow_empty", spec: tags, base: vp(set("lead", "vip")), ghl: set(), ptd: set("lead", "vip", "new"),
			toGHL: ws(set("lead", "new", "vip"), []string{"lead", "new", "vip"}, none), newBase: vp(set("lead", "new", "vip")), reason: ReasonEmptyKept, winner: SidePTD},
		{name: "emptied ptd is refilled without allow_empty", spec: tags, base: vp(set("vip")), ghl: set("vip"), ptd: Value{},
			toPTD: ws(set("vip"), []string{"vip"}, none), newBase: vp(set("vip")), reason: ReasonEmptyKept, winner: SideGHL},
		{name: "emptying flows with allow_empty", spec: allow, base: vp(set("lead", "vip")), ghl: set(), ptd: set("lead", "vip"),
			toPTD: ws(set(), none, []string{"lead", "vip"}), newBase: vp(set()), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "removing one of several tags is not emptying", spec: tags, base: vp(set("lead", "vip")), ghl: set("vip"), ptd: set("lead", "vip"),
			toPTD: ws(set("vip"), none, []string{"lead"}), newBase: vp(set("vip")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "ghl-to-ptd mirrors the source", spec: g2p, base: vp(set("lead")), ghl: set("lead", "vip"), ptd: set("lead", "manual"),
			toPTD: ws(set("lead", "vip"), []string{"vip"}, []string{"manual"}), newBase: vp(set("lead", "vip")), reason: ReasonOneWay, winner: SideGHL},
		{name: "ghl-to-ptd source change", spec: g2p, base: vp(set("lead")), ghl: set("vip"), ptd: set("lead"),
			toPTD: ws(set("vip"), []string{"vip"}, []string{"lead"}), newBase: vp(set("vip")), reason: ReasonOnlyGHLChanged, winner: SideGHL},
		{name: "ghl-to-ptd empty source leaves destination", spec: g2p, base: vp(set("lead")), ghl: set(), ptd: set("lead"),
			newBase: vp(set("lead"))},
		{name: "ptd-to-ghl destination edit overwritten", spec: p2g, base: vp(set("lead")), ghl: set("lead", "x"), ptd: set("lead"),
			toGHL: ws(set("lead"), none, []string{"x"}), newBase: vp(set("lead")), reason: ReasonOneWay, winner: SidePTD},
		{name: "ptd-to-ghl no base mirrors too", spec: p2g, noBase: true, ghl: set("x"), ptd: set("lead"),
			toGHL: ws(set("lead"), []string{"lead"}, []string{"x"}), newBase: vp(set("lead")), reason: ReasonOneWay, winner: SidePTD},
		{name: "manual rule does not apply to sets", spec: FieldSpec{Name: "tags", Set: true, Normalizer: NormTags, Rule: Manual}, base: vp(set("a")), ghl: set("a", "b"), ptd: set("c"),
			toGHL: ws(set("b", "c"), []string{"c"}, []string{"a"}), toPTD: ws(set("b", "c"), []string{"b"}, none),
			newBase: vp(set("b", "c")), reason: ReasonSetMerge, winner: SideBoth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runMergeCase(t, tc) })
	}
}

func TestMergeMultiField(t *testing.T) {
	specs := contactSpecs()
	base := &Snapshot{Values: Values{
		"email": s("ana@example.com"), "phone": s("+15550101234"), "first_name": s("Ana"),
		"last_name": s("Lopez"), "tags": SetOf("lead"),
	}}
	ghl := Snapshot{UpdatedAt: t1, Values: Values{
		"email": s("ana@example.com"), "phone": s("+1 555-010-9999"), "first_name": s("Ana"),
		"last_name": s("Lopez-Diaz"), "tags": SetOf("lead", "vip"),
	}}
	ptd := Snapshot{UpdatedAt: t0, Values: Values{
		"email": s("ANA@example.com"), "phone": s("5550101234"), "first_name": s("Anna"),
		"last_name": s("López"), "tags": SetOf(),
	}}
	res := Merge(specs, base, ghl, ptd, Options{Locale: Locale{Region: "US"}})
	// PTD emptied tags (no allow_empty): its emptying is ignored and it gets lead and vip back.
	if got, want := res.Summary(), "to ghl: first_name; to ptd: phone, tags +lead +vip; conflict: last_name"; got != want {
		t.Errorf("summary = %q\nwant      %q", got, want)
	}
	var lines []string
	for _, d := range res.Decisions {
		lines = append(lines, d.String())
	}
	want := []string{
		`phone: ghl (only-ghl-changed) "+15550101234" -> "+15550109999" [to ptd]`,
		`first_name: ptd (only-ptd-changed) "Ana" -> "Anna" [to ghl]`,
		`last_name: none (manual) "Lopez" -> "Lopez"`,
		`tags: ghl (empty-kept) {"lead"} -> {"lead", "vip"} [to ptd]`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("decisions:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if !res.Base.UpdatedAt.Equal(t1) {
		t.Errorf("base UpdatedAt = %v, want %v", res.Base.UpdatedAt, t1)
	}
}

// contactSpecs is a realistic contact mapping, shared by tests and benchmarks.
func contactSpecs() []FieldSpec {
	return []FieldSpec{
		{Name: "email", Normalizer: NormEmail},
		{Name: "phone", Normalizer: NormPhone},
		{Name: "first_name", Normalizer: NormName},
		{Name: "last_name", Normalizer: NormName, Rule: Manual},
		{Name: "tags", Set: true, Normalizer: NormTags},
		{Name: "timezone", Direction: GHLToPTD},
		{Name: "date_of_birth", Normalizer: NormTime, AllowEmpty: true},
		{Name: "source", Direction: GHLToPTD, Normalizer: NormName},
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		res  Result
		want string
	}{
		{"nothing", Result{}, "in sync"},
		{"writes sorted", Result{ToGHL: Writes{"b": {Value: s("1")}, "a": {Value: s("2")}}}, "to ghl: a, b"},
		{"set delta", Result{ToPTD: Writes{"tags": {Value: SetOf("x"), Delta: SetDelta{Add: []string{"x"}, Remove: []string{"y"}}}}}, "to ptd: tags +x -y"},
		{"conflicts counted", Result{Conflicts: []Conflict{{Field: "a"}, {Field: "b"}}}, "2 conflicts: a, b"},
		{"invalid", Result{Invalid: []InvalidValue{{Field: "phone", Side: SidePTD}}}, "invalid: phone@ptd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.Summary(); got != tt.want {
				t.Errorf("Summary() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name string
		a, b Values
		want []string
	}{
		{"equal", Values{"a": s("1"), "t": SetOf("x", "y")}, Values{"a": s("1"), "t": SetOf("y", "x", "x")}, nil},
		{"scalar changed", Values{"a": s("1")}, Values{"a": s("2")}, []string{`a: "1" -> "2"`}},
		{"added and removed fields sorted", Values{"b": s("1")}, Values{"a": s("2")}, []string{`a: "" -> "2"`, `b: "1" -> ""`}},
		{"set delta", Values{"t": SetOf("x", "y")}, Values{"t": SetOf("y", "z")}, []string{"t: +z -x"}},
		{"set field appears", nil, Values{"t": SetOf("x")}, []string{"t: +x"}},
		{"kind change", Values{"a": s("x")}, Values{"a": SetOf("x")}, []string{`a: "x" -> {"x"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range Diff(tt.a, tt.b) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Diff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWritesApplyTo(t *testing.T) {
	in := Values{"a": s("1"), "t": SetOf("x")}
	out := Writes{"a": {Value: s("2")}, "t": {Value: SetOf("x", "y"), Delta: SetDelta{Add: []string{"y"}}}}.ApplyTo(in)
	got := make([]string, 0)
	for _, c := range Diff(in, out) {
		got = append(got, c.String())
	}
	sort.Strings(got)
	if want := []string{`a: "1" -> "2"`, "t: +y"}; !slices.Equal(got, want) {
		t.Errorf("ApplyTo diff = %q, want %q", got, want)
	}
	if !in["a"].Equal(s("1")) {
		t.Error("ApplyTo modified its input")
	}
}
