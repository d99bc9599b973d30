package ingest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// searchCursor returns the stored search cursor (zero when absent).
func (h *harness) searchCursor(t *testing.T) store.Cursor {
	t.Helper()
	var c store.Cursor
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		c, err = tx.Cursor(CursorSearch)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) dirtyCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		n, err = tx.DirtyCount()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// newestMirrored is the greatest dateUpdated among the mirrored contacts.
func (h *harness) newestMirrored(t *testing.T) time.Time {
	t.Helper()
	var newest time.Time
	if err := h.db.View(func(tx *store.Tx) error {
		return tx.WithoutRaw().ForEachGHLContact(func(c *store.GHLContact) error {
			if c.DateUpdated.After(newest) {
				newest = c.DateUpdated
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return newest
}

// TestSearchBatchesPages: pages that share a transaction are all stored, no transaction holds
// more than SearchBatch contacts (one progress call per commit), and the cursor ends on the
// newest contact read, whatever the batching.
func TestSearchBatchesPages(t *testing.T) {
	for _, tc := range []struct {
		name         string
		limit, batch int
	}{
		{"one page per transaction", 50, 50},
		{"up to four pages per transaction", 50, 200},
		{"batch smaller than a page", 50, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 1000
			h := newHarness(t, n, ghlsim.Options{Seed: 11}, Settings{SearchPageLimit: tc.limit, SearchBatch: tc.batch})
			var calls, last int
			st, err := h.p.Search(context.Background(), func(done, total int) {
				calls++
				if done-last > max(tc.batch, tc.limit) || done < last { // the empty last page commits only the cursor
					t.Errorf("progress %d after %d: a transaction of %d contacts, want 0..%d", done, last, done-last, max(tc.batch, tc.limit))
				}
				last = done
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Read != n || st.Changed != n || st.Pages != n/tc.limit+1 {
				t.Errorf("read %d, changed %d, pages %d; want %d, %d, %d", st.Read, st.Changed, st.Pages, n, n, n/tc.limit+1)
			}
			if got := h.count(t, store.GHLContacts); got != n {
				t.Errorf("mirrored %d contacts, want %d", got, n)
			}
			if c := h.searchCursor(t); !c.Through.Equal(h.newestMirrored(t)) || !st.Through.Equal(c.Through) {
				t.Errorf("cursor through %s (stats %s), newest mirrored %s", c.Through, st.Through, h.newestMirrored(t))
			}
			if calls == 0 || calls > st.Pages {
				t.Errorf("%d commits for %d pages", calls, st.Pages)
			}
			if err := h.db.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSearchCommitsPagesReadBeforeAnError: when HighLevel fails in the middle of a walk, the
// pages read before the failure are committed with their cursor, and the next run continues
// from there to the end without losing or re-counting anything.
func TestSearchCommitsPagesReadBeforeAnError(t *testing.T) {
	const n, limit, okPages = 600, 50, 5
	var searches, failing atomic.Int64
	failing.Store(1)
	front := func(simURL string) string {
		u, _ := url.Parse(simURL)
		proxy := httputil.NewSingleHostReverseProxy(u)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/contacts/search" && searches.Add(1) > okPages && failing.Load() == 1 {
				http.Error(w, `{"statusCode":400,"message":"bad request"}`, http.StatusBadRequest)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	h := newHarnessFront(t, n, ghlsim.Options{Seed: 12}, Settings{SearchPageLimit: limit, SearchBatch: 4 * limit}, front)
	st, err := h.p.Search(context.Background(), nil)
	if !errors.Is(err, ErrSearchRefused) {
		t.Fatalf("search error %v, want ErrSearchRefused", err)
	}
	if st.Read != okPages*limit || h.count(t, store.GHLContacts) != okPages*limit {
		t.Errorf("after the failure: read %d, mirrored %d; want %d", st.Read, h.count(t, store.GHLContacts), okPages*limit)
	}
	if c := h.searchCursor(t); !c.Through.Equal(h.newestMirrored(t)) {
		t.Errorf("cursor through %s, newest mirrored %s", c.Through, h.newestMirrored(t))
	}
	if err := h.db.Check(); err != nil {
		t.Error(err)
	}
	failing.Store(0)
	st, err = h.p.Search(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.count(t, store.GHLContacts); got != n || st.Changed != n-okPages*limit {
		t.Errorf("after resuming: mirrored %d, changed %d; want %d, %d", got, st.Changed, n, n-okPages*limit)
	}
}

// TestFirstSyncLeavesNewContactsUnmarked: the backfill's contacts phase writes no dirty mark
// for contacts new to the mirror (its children phase fetches every never-fetched contact),
// while an incremental run marks new and changed contacts as before.
func TestFirstSyncLeavesNewContactsUnmarked(t *testing.T) {
	for _, tc := range []struct {
		name      string
		firstSync bool
		wantDirty int
	}{
		{"first sync", true, 0},
		{"incremental", false, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 120, ghlsim.Options{Seed: 13}, Settings{SearchPageLimit: 50})
			if _, err := h.p.incremental(context.Background(), nil, tc.firstSync); err != nil {
				t.Fatal(err)
			}
			if got := h.dirtyCount(t); got != tc.wantDirty {
				t.Errorf("%d dirty marks, want %d", got, tc.wantDirty)
			}
		})
	}
	t.Run("backfill fetches every contact's children", func(t *testing.T) {
		h := newHarness(t, 120, ghlsim.Options{Seed: 13}, Settings{SearchPageLimit: 50})
		st := h.backfill(t)
		if st.Children.Contacts != 120 || h.dirtyCount(t) != 0 {
			t.Errorf("children of %d contacts fetched, %d dirty left; want 120 and 0", st.Children.Contacts, h.dirtyCount(t))
		}
	})
}
