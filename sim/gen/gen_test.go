package gen

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name      string
		a, b      int64
		wantEqual bool
	}{
		{"same seed same people", 42, 42, true},
		{"different seed different people", 42, 43, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pa := New(tc.a).People(200)
			pb := New(tc.b).People(200)
			if got := reflect.DeepEqual(pa, pb); got != tc.wantEqual {
				t.Fatalf("DeepEqual = %v, want %v", got, tc.wantEqual)
			}
		})
	}
}

// identity is a person without the fields whose value depends on the reference time (dates,
// and the completion and appointment statuses that compare a date with it).
func identity(p Person) Person {
	p.CreatedAt, p.DateOfBirth = time.Time{}, ""
	p.Tasks = slices.Clone(p.Tasks)
	for i := range p.Tasks {
		p.Tasks[i].Due, p.Tasks[i].Completed = time.Time{}, false
	}
	p.Notes = slices.Clone(p.Notes)
	for i := range p.Notes {
		p.Notes[i].CreatedAt = time.Time{}
	}
	p.Appointments = slices.Clone(p.Appointments)
	for i := range p.Appointments {
		p.Appointments[i].Start, p.Appointments[i].End, p.Appointments[i].Status = time.Time{}, time.Time{}, ""
	}
	return p
}

// TestPeopleDoNotDependOnTheReference: one seed gives the same people whatever the reference
// time, which the demo and the simulators take from the wall clock: only dates move. (The
// random stream used to depend on it: a draw bounded by the time between a person's creation
// and the reference, another made only for tasks due before it.)
func TestPeopleDoNotDependOnTheReference(t *testing.T) {
	ref := time.Date(2026, 12, 3, 14, 19, 13, 822_417_365, time.UTC)
	for _, shift := range []time.Duration{time.Nanosecond, 417 * time.Microsecond, 29 * time.Second, 3*time.Hour + 17*time.Minute + 41*time.Second + 123_456_789} {
		t.Run(shift.String(), func(t *testing.T) {
			a, b := NewAt(1, ref).People(500), NewAt(1, ref.Add(shift)).People(500)
			for i := range a {
				if x, y := identity(a[i]), identity(b[i]); !reflect.DeepEqual(x, y) {
					t.Fatalf("person %d differs with the reference %v later:\n%+v\n%+v", i, shift, x, y)
				}
			}
		})
	}
}

func TestVariety(t *testing.T) {
	ref := DefaultReference()
	people := New(7).People(5000)
	var noEmail, mixedCase, spaced, overdue, completed, notes, appts, withTags, shared int
	formats := map[string]bool{}
	phones := map[string]int{}
	for _, p := range people {
		switch {
		case p.Email == "":
			noEmail++
		case strings.TrimSpace(p.Email) != p.Email:
			spaced++
		case strings.ToLower(p.Email) != p.Email:
			mixedCase++
		}
		switch {
		case strings.HasPrefix(p.Phone, "+44"):
			formats["uk"] = true
		case strings.HasPrefix(p.Phone, "+1 "):
			formats["+1 dashed"] = true
		case strings.HasPrefix(p.Phone, "("):
			formats["parens"] = true
		case len(p.Phone) == 10:
			formats["bare"] = true
		}
		phones[Digits(p.Phone)]++
		for _, tk := range p.Tasks {
			if tk.Due.Before(ref) && !tk.Completed {
				overdue++
			}
			if tk.Completed {
				completed++
			}
		}
		notes += len(p.Notes)
		appts += len(p.Appointments)
		if len(p.Tags) > 0 {
			withTags++
		}
		if p.CreatedAt.After(ref) {
			t.Fatalf("person created after the reference time: %v", p.CreatedAt)
		}
	}
	for _, n := range phones {
		if n > 1 {
			shared++
		}
	}
	checks := []struct {
		name   string
		got    int
		lo, hi int
	}{
		{"no email about 5 percent", noEmail, 150, 400},
		{"mixed case emails", mixedCase, 100, 5000},
		{"emails with stray white space", spaced, 100, 5000},
		{"overdue open tasks", overdue, 100, 10000},
		{"completed tasks", completed, 100, 10000},
		{"notes", notes, 1000, 20000},
		{"appointments", appts, 1000, 20000},
		{"people with tags", withTags, 2000, 5000},
		{"shared phone numbers", shared, 20, 500},
		{"phone formats", len(formats), 4, 4},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got < c.lo || c.got > c.hi {
				t.Fatalf("%s = %d, want within [%d, %d]", c.name, c.got, c.lo, c.hi)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct{ name, email, phone string }{
		{"us dashed", "Jane.Doe@Example.com", "+1 555-010-1234"},
		{"us parens", " bob@x.io", "(555) 010 1234"},
		{"us bare", "a@b.c ", "5550101234"},
		{"uk", "UK@MAIL.CO.UK", "+44 20 7946 0123"},
	}
	norm := func(p string) string {
		d := Digits(p)
		if len(d) == 10 {
			d = "1" + d
		}
		return d
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				e := EmailVariant(r, tc.email)
				if strings.ToLower(strings.TrimSpace(e)) != strings.ToLower(strings.TrimSpace(tc.email)) {
					t.Fatalf("EmailVariant(%q) = %q: not the same address", tc.email, e)
				}
				p := PhoneVariant(r, tc.phone)
				if norm(p) != norm(tc.phone) {
					t.Fatalf("PhoneVariant(%q) = %q: not the same number", tc.phone, p)
				}
			}
		})
	}
}

// TestGenerateTenThousand logs how long 10,000 people with children take; it asserts only
// the count, never the time.
func TestGenerateTenThousand(t *testing.T) {
	start := time.Now()
	people := New(1).People(10000)
	t.Logf("generated %d people in %v", len(people), time.Since(start))
	if len(people) != 10000 {
		t.Fatalf("got %d people", len(people))
	}
}

func BenchmarkPeople1000(b *testing.B) {
	for b.Loop() {
		New(1).People(1000)
	}
}
