package ghlsim

import (
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// TestSeedTenThousand logs how long seeding 10,000 contacts with children takes; it asserts
// the count only, never the time.
func TestSeedTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := New(Options{Seed: 1})
	start := time.Now()
	ids := s.Seed(10000)
	t.Logf("seeded %d contacts with children in %v", len(ids), time.Since(start))
	if s.ContactCount() != 10000 {
		t.Fatalf("%d contacts", s.ContactCount())
	}
}

// BenchmarkSearchPage measures one sorted, filtered search page over 10,000 contacts,
// against a GET of one contact as the baseline (compare the two ns/op).
func BenchmarkSearchPage(b *testing.B) {
	clock := newClock()
	s := New(Options{Seed: 1, Now: clock.Now, Limits: Limits{Disabled: true}})
	s.Seed(10000)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := &harness{t: &testing.T{}, sim: s, base: base, token: s.IssuePIT(), clock: clock}
	id := s.Contacts()[0].ID
	b.Run("baseline get contact", func(b *testing.B) {
		for b.Loop() {
			h.call("GET", "/contacts/"+id, nil)
		}
	})
	b.Run("search page of 100", func(b *testing.B) {
		req := ghlwire.SearchRequest{LocationID: s.LocationID(), PageLimit: 100,
			Filters: []ghlwire.SearchFilter{{Field: "dateUpdated", Operator: "range", Value: map[string]any{"gte": 0}}},
			Sort:    []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}}
		for b.Loop() {
			h.call("POST", "/contacts/search", req)
		}
	})
}
