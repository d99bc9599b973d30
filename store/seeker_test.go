package store_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"ptsync/store"
	"ptsync/store/storetest"
)

// seekerMirror holds 300 contacts; every 7th has 1-3 tasks, every 2nd is tagged dense and
// every 40th rare, so index walks and task reads cross gaps both shorter and longer than
// the seeker's forward walk.
func seekerMirror(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{Now: storetest.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	err = db.Update(func(tx *store.Tx) error {
		for i := range 300 {
			c := store.GHLContact{ID: fmt.Sprintf("c-%03d", i)}
			if i%2 == 0 {
				c.Tags = append(c.Tags, "dense")
			}
			if i%40 == 0 {
				c.Tags = append(c.Tags, "rare")
			}
			if err := tx.PutGHLContact(&c); err != nil {
				return err
			}
			if i%7 != 0 {
				continue
			}
			for j := range 1 + i/7%3 {
				if err := tx.PutGHLTask(&store.GHLTask{ID: fmt.Sprintf("t-%03d-%d", i, j), ContactID: c.ID, Title: "x"}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGHLTaskReaderMatchesTasksOf(t *testing.T) {
	db := seekerMirror(t)
	var asc []string
	for i := range 300 {
		asc = append(asc, fmt.Sprintf("c-%03d", i))
	}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	shuffled := slices.Clone(asc)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	tests := []struct {
		name  string
		order []string
	}{
		{"contact id order", asc},
		{"reverse order", desc},
		{"random order", shuffled},
		{"repeats and unknown ids", []string{"c-007", "c-007", "a", "c-0", "c-007", "zzz", "c-014", "c-000", "c-294", "c-294"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			total := 0
			err := db.View(func(tx *store.Tx) error {
				r, err := tx.NewGHLTaskReader()
				if err != nil {
					return err
				}
				for _, id := range tc.order {
					got, err := r.TasksOf(id)
					if err != nil {
						return err
					}
					want, err := tx.GHLTasksOf(id)
					if err != nil {
						return err
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("TasksOf(%q) = %v, want %v", id, got, want)
					}
					total += len(got)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if total == 0 {
				t.Fatal("no tasks read at all: the mirror is not what the test expects")
			}
		})
	}
}

// TestIndexWalkAcrossGaps checks index lookups whose records are near each other (walked)
// and far apart (searched) against a full scan.
func TestIndexWalkAcrossGaps(t *testing.T) {
	db := seekerMirror(t)
	for _, tc := range []struct {
		tag  string
		want int
	}{{"dense", 150}, {"rare", 8}, {"none", 0}} {
		t.Run(tc.tag, func(t *testing.T) {
			var byIndex, byScan []string
			err := db.View(func(tx *store.Tx) error {
				if err := tx.GHLContactsByTag(tc.tag, func(c *store.GHLContact) error { byIndex = append(byIndex, c.ID); return nil }); err != nil {
					return err
				}
				return tx.ForEachGHLContact(func(c *store.GHLContact) error {
					if slices.Contains(c.Tags, tc.tag) {
						byScan = append(byScan, c.ID)
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(byIndex) != tc.want || !slices.Equal(byIndex, byScan) {
				t.Fatalf("index gave %d contacts, scan %d, want %d", len(byIndex), len(byScan), tc.want)
			}
		})
	}
}

// TestReuseValues checks that a reusing iteration gives each callback exactly the record a
// fresh decode gives, for binary records and for JSON ones (links), whose absent fields
// must not leak from the previous record.
func TestReuseValues(t *testing.T) {
	db, _, _ := storetest.Open(t)
	err := db.View(func(tx *store.Tx) error {
		var fresh, reused []string
		if err := tx.ForEachLink(func(l *store.Link) error { fresh = append(fresh, fmt.Sprintf("%+v", *l)); return nil }); err != nil {
			return err
		}
		if err := tx.ReuseValues().ForEachLink(func(l *store.Link) error { reused = append(reused, fmt.Sprintf("%+v", *l)); return nil }); err != nil {
			return err
		}
		if !slices.Equal(fresh, reused) || len(fresh) < 3 {
			t.Errorf("links:\nfresh  %v\nreused %v", fresh, reused)
		}
		fresh, reused = nil, nil
		err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
			cc := *c
			cc.Raw = nil
			fresh = append(fresh, fmt.Sprintf("%+v", cc))
			return nil
		})
		if err != nil {
			return err
		}
		var prev *store.GHLContact
		err = tx.WithoutRaw().ReuseValues().ForEachGHLContact(func(c *store.GHLContact) error {
			if prev != nil && prev != c {
				t.Error("ReuseValues gave a new value")
			}
			if c.Raw != nil {
				t.Errorf("WithoutRaw read raw of %s", c.ID)
			}
			prev = c
			reused = append(reused, fmt.Sprintf("%+v", *c))
			return nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(fresh, reused) || len(fresh) != 24 {
			t.Errorf("contacts:\nfresh  %v\nreused %v", fresh, reused)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
