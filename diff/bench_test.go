package diff

import (
	"maps"
	"strings"
	"testing"
)

// benchPair is a realistic linked contact: eight mapped fields, formatting that differs between
// the systems (phone punctuation, email case, tag case), one real edit on each side.
func benchPair() (*Snapshot, Snapshot, Snapshot) {
	base := &Snapshot{UpdatedAt: t0, Values: Values{
		"email": Scalar("ana.lopez@example.com"), "phone": Scalar("+15550101234"),
		"first_name": Scalar("Ana"), "last_name": Scalar("Lopez"), "tags": SetOf("lead", "trial"),
		"timezone": Scalar("America/New_York"), "date_of_birth": Scalar("1990-04-12T00:00:00Z"),
		"source": Scalar("Instagram"),
	}}
	ghl := Snapshot{UpdatedAt: t1, Values: Values{
		"email": Scalar("Ana.Lopez@example.com"), "phone": Scalar("+1 555-010-1234"),
		"first_name": Scalar("Ana"), "last_name": Scalar("Lopez"), "tags": SetOf("lead", "trial", "vip"),
		"timezone": Scalar("America/New_York"), "date_of_birth": Scalar("1990-04-12"),
		"source": Scalar("Instagram"),
	}}
	ptd := Snapshot{UpdatedAt: t0, Values: Values{
		"email": Scalar("ana.lopez@example.com"), "phone": Scalar("(555) 010 1234"),
		"first_name": Scalar("Anna"), "last_name": Scalar("Lopez"), "tags": SetOf("Lead", "trial"),
		"timezone": Scalar("America/New_York"), "date_of_birth": Scalar("1990-04-12T00:00:00Z"),
		"source": Scalar("Instagram"),
	}}
	return base, ghl, ptd
}

// flat turns values into the plain string map a naive sync would compare.
func flat(vs Values) map[string]string {
	out := make(map[string]string, len(vs))
	for k, v := range vs {
		if v.IsSet {
			out[k] = strings.Join(v.Set, ",")
		} else {
			out[k] = v.S
		}
	}
	return out
}

// BenchmarkMapCompare is the baseline: plain map equality of each side against the base, what a
// sync without normalization or merge rules would pay per record.
func BenchmarkMapCompare(b *testing.B) { benchMapCompare(b) }

func benchMapCompare(b *testing.B) float64 {
	base, ghl, ptd := benchPair()
	fb, fg, fp := flat(base.Values), flat(ghl.Values), flat(ptd.Values)
	b.ReportAllocs()
	var same int
	for b.Loop() {
		if maps.Equal(fb, fg) {
			same++
		}
		if maps.Equal(fb, fp) {
			same++
		}
	}
	_ = same
	return nsPerOp(b)
}

func benchMerge(b *testing.B) float64 {
	specs := contactSpecs()
	base, ghl, ptd := benchPair()
	opts := Options{Locale: Locale{Region: "US"}}
	if res := Merge(specs, base, ghl, ptd, opts); !res.HasWrites() {
		b.Fatalf("benchmark pair should need writes: %s", res.Summary())
	}
	b.ReportAllocs()
	for b.Loop() {
		Merge(specs, base, ghl, ptd, opts)
	}
	return nsPerOp(b)
}

func nsPerOp(b *testing.B) float64 {
	if b.N == 0 {
		return 0
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// BenchmarkMerge measures one full three-way merge of the realistic pair (8 fields, one phone,
// one tag set) next to the map-compare baseline measured in the same run, and logs the ratio.
func BenchmarkMerge(b *testing.B) {
	var baseNs, mergeNs float64
	b.Run("baseline-map-compare", func(b *testing.B) { baseNs = benchMapCompare(b) })
	b.Run("merge", func(b *testing.B) { mergeNs = benchMerge(b) })
	if baseNs > 0 && mergeNs > 0 {
		b.Logf("merge %.0f ns/op, map compare %.0f ns/op: a merge costs %.1fx a plain map compare", mergeNs, baseNs, mergeNs/baseNs)
	}
}
