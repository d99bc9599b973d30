package ghlsim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestSeedDependsOnTheSeedNotTheClock: with an Epoch, two simulators of one seed whose clocks
// differ serve byte-identical snapshots; without one (the demo, tests: data dated around the
// clock) they still give the same contacts with the same ids, only other dates. A draw
// bounded by the time between a person's creation and the clock used to make every id after
// it differ.
func TestSeedDependsOnTheSeedNotTheClock(t *testing.T) {
	at := time.Date(2026, 12, 3, 14, 19, 13, 822_417_365, time.UTC)
	clock := func(d time.Duration) func() time.Time { return func() time.Time { return at.Add(d) } }
	seed := func(o Options, n int) Snapshot {
		s := New(o)
		s.Seed(n)
		return s.Snapshot()
	}
	epoch := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	a, b := seed(Options{Seed: 1, Epoch: epoch, Now: clock(0)}, 200), seed(Options{Seed: 1, Epoch: epoch, Now: clock(37*time.Hour + 1234567)}, 200)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("same seed and epoch, other clocks: snapshots differ (%d and %d bytes)", len(ja), len(jb))
	}
	undated := func(s Snapshot) [][]string {
		var out [][]string
		for _, c := range s.Contacts {
			row := []string{c.Contact.ID, c.Contact.FirstName, c.Contact.LastName, c.Contact.Email, c.Contact.Phone}
			for _, x := range c.Tasks {
				row = append(row, x.ID, x.Title)
			}
			for _, x := range c.Notes {
				row = append(row, x.ID, x.Body)
			}
			out = append(out, row)
		}
		return out
	}
	// Enough people that a draw whose count depends on the clock (a bounded draw retries
	// with a chance of about its bound over 2^64, a few per thousand here) shows.
	c, d := seed(Options{Seed: 1, Now: clock(0)}, 2000), seed(Options{Seed: 1, Now: clock(3*time.Hour + 17*time.Minute + 41123456789)}, 2000)
	if !reflect.DeepEqual(undated(c), undated(d)) {
		t.Error("same seed, no epoch, clocks 3h17m41.123456789s apart: the contacts or their ids differ")
	}
	if len(c.Contacts) != 2000 || len(c.Contacts[0].Contact.ID) != 20 {
		t.Fatalf("snapshot holds %d contacts", len(c.Contacts))
	}
}
