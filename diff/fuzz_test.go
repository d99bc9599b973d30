package diff

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMerge merges one field of every kind with fuzzed values and checks the same properties as
// TestMergeProperties. flags picks the normalizer (set fields split their value on commas), the
// direction, the rule, AllowEmpty, whether a base exists and the initial winner.
func FuzzMerge(f *testing.F) {
	f.Add("a@x.io", "b@x.io", "A@x.io", uint16(1))
	f.Add("+15550101234", "(555) 010 1234", "", uint16(2|1<<6))
	f.Add("vip,lead", "lead", "vip,trial", uint16(5|1<<6))
	f.Add("", "2024-03-01", "2024-03-01 00:00:00", uint16(4|2<<3))
	f.Add("Ana", " Ana ", "Anna", uint16(3|3<<5|1<<7))
	f.Fuzz(func(t *testing.T, b, g, p string, flags uint16) {
		norm := Normalizer(flags % 6)
		sp := FieldSpec{
			Name:       "f",
			Normalizer: norm,
			Set:        norm == NormTags,
			Direction:  Direction(flags >> 3 % 3),
			Rule:       Rule(flags >> 5 % 4),
			AllowEmpty: flags&(1<<7) != 0,
		}
		val := func(s string) Value {
			if sp.Set {
				return SetOf(strings.Split(s, ",")...)
			}
			return Scalar(s)
		}
		var base *Snapshot
		if flags&(1<<6) != 0 {
			base = &Snapshot{Values: Values{"f": val(b)}}
		}
		opts := Options{InitialWinner: Side(flags >> 8 % 3), Locale: Locale{Region: "US"}}
		specs := []FieldSpec{sp, {Name: "other", Normalizer: NormName}}
		ghl := Snapshot{Values: Values{"f": val(g), "other": Scalar(b)}, UpdatedAt: t0}
		ptd := Snapshot{Values: Values{"f": val(p), "other": Scalar(g)}, UpdatedAt: t1}
		if err := checkMergeProperties(specs, base, ghl, ptd, opts); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzPhone checks that Phone never panics, returns E.164 or an error wrapping ErrInvalidPhone,
// is idempotent (its output normalizes to itself, with or without a default region), and that the
// North American fast path agrees with libphonenumber wherever it answers.
func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+1 555-010-1234", "(555) 010 1234", "555.010.1234", "5550101234",
		"+44 20 7946 0958", "0044 20 7946 0958", "555-010-1234 ext 7", "tel:+61412345678", "abc", "0"} {
		f.Add(s, uint8(0))
	}
	regions := []string{"US", "GB", "AU", "", "DE", "IN", "IT"}
	f.Fuzz(func(t *testing.T, raw string, ri uint8) {
		region := regions[int(ri)%len(regions)]
		if s := strings.TrimSpace(raw); s != "" {
			if strings.HasPrefix(s, "00") {
				s = "+" + s[2:]
			}
			if fast, ok := nanpFast(s, region); ok {
				if slow, err := phoneSlow(raw, s, region); slow != fast || err != nil {
					t.Fatalf("Phone(%q, %q): fast path %q, library %q, %v", raw, region, fast, slow, err)
				}
			}
		}
		out, err := Phone(raw, region)
		if err != nil {
			if !errors.Is(err, ErrInvalidPhone) {
				t.Fatalf("Phone(%q, %q) error %v does not wrap ErrInvalidPhone", raw, region, err)
			}
			return
		}
		if out == "" {
			if strings.TrimSpace(raw) != "" {
				t.Fatalf("Phone(%q, %q) = empty without error", raw, region)
			}
			return
		}
		if len(out) < 3 || len(out) > 16 || out[0] != '+' || !utf8.ValidString(out) || strings.Trim(out[1:], "0123456789") != "" {
			t.Fatalf("Phone(%q, %q) = %q, not E.164", raw, region, out)
		}
		for _, r := range []string{region, ""} {
			if again, err := Phone(out, r); again != out || err != nil {
				t.Fatalf("Phone(%q, %q) = %q; re-normalized with %q: %q, %v", raw, region, out, r, again, err)
			}
		}
	})
}

// TestPhoneFastPathMatchesLibrary is the differential test of nanpFast: on many generated North
// American inputs, wherever the fast path answers, libphonenumber's parser gives the same answer.
func TestPhoneFastPathMatchesLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	seps := []string{"", " ", "-", ".", "/", "(", ")"}
	prefixes := []string{"", "+", "1", "+1", "1 ", "+1 ", "00", "001", "0", "+0"}
	regions := []string{"US", "CA", "PR", "GB", "", "ZZ", "AU"}
	fast := 0
	for i := range 20000 {
		var b strings.Builder
		b.WriteString(prefixes[r.IntN(len(prefixes))])
		for range 9 + r.IntN(4) {
			b.WriteString(seps[r.IntN(len(seps))])
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		raw, region := b.String(), regions[r.IntN(len(regions))]
		s := strings.TrimSpace(raw)
		if strings.HasPrefix(s, "00") {
			s = "+" + s[2:]
		}
		got, ok := nanpFast(s, region)
		if !ok {
			continue
		}
		fast++
		want, err := phoneSlow(raw, s, region)
		if err != nil || got != want {
			t.Fatalf("case %d: Phone(%q, %q): fast path %q, library %q, %v", i, raw, region, got, want, err)
		}
	}
	if fast < 1000 {
		t.Fatalf("fast path answered only %d of 20000 generated inputs", fast)
	}
}
