package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// hidingProxy stands between the client and the simulator and changes what HighLevel appears
// to hold: a hidden contact is left out of GET /contacts/ listings and answers 404 on its own
// routes (as a deleted one does) until it is shown again; an unlisted one is only left out of
// listings. It counts the requests made for each contact's own routes, and onTasks, if set,
// runs before a contact's task listing is forwarded.
type hidingProxy struct {
	mu       sync.Mutex
	hidden   map[string]bool
	unlisted map[string]bool
	calls    map[string]int
	onTasks  func(id string)
}

func newHidingProxy(t *testing.T) (*hidingProxy, func(simURL string) string) {
	p := &hidingProxy{hidden: map[string]bool{}, unlisted: map[string]bool{}, calls: map[string]int{}}
	return p, func(simURL string) string {
		target, err := url.Parse(simURL)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p.handler(target))
		t.Cleanup(srv.Close)
		return srv.URL
	}
}

func (p *hidingProxy) set(id string, hidden, unlisted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hidden[id], p.unlisted[id] = hidden, unlisted
}

func (p *hidingProxy) callsFor(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

// contactRoute splits /contacts/{id}[/rest] (not the listing or search routes).
func contactRoute(path string) (id, rest string, ok bool) {
	tail, found := strings.CutPrefix(path, "/contacts/")
	if !found || tail == "" || strings.HasPrefix(tail, "search") || strings.HasPrefix(tail, "business/") {
		return "", "", false
	}
	id, rest, _ = strings.Cut(tail, "/")
	return id, rest, true
}

func (p *hidingProxy) handler(target *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(target)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		r.Header.Del("Accept-Encoding") // keep listing bodies plain so they can be filtered
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || resp.Request.URL.Path != "/contacts/" || resp.StatusCode != http.StatusOK {
			return nil
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var body map[string]json.RawMessage
		var rows []json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil {
			return err
		}
		if err := json.Unmarshal(body["contacts"], &rows); err != nil {
			return err
		}
		kept := rows[:0]
		p.mu.Lock()
		for _, row := range rows {
			var c struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(row, &c)
			if !p.hidden[c.ID] && !p.unlisted[c.ID] {
				kept = append(kept, row)
			}
		}
		p.mu.Unlock()
		// A deleted contact leaves HighLevel's totals too (else the sweep guard rightly
		// refuses a listing with fewer rows than its meta.total).
		removed := len(rows) - len(kept)
		if body["contacts"], err = json.Marshal(kept); err != nil {
			return err
		}
		if err := lowerTotals(body, removed); err != nil {
			return err
		}
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, rest, ok := contactRoute(r.URL.Path); ok {
			p.mu.Lock()
			p.calls[id]++
			hidden, hook := p.hidden[id], p.onTasks
			p.mu.Unlock()
			if hidden {
				// The simulator's own 404 for a contact it does not have.
				r.URL.Path = strings.Replace(r.URL.Path, id, id+"Gone", 1)
				r.URL.RawPath = ""
			} else if rest == "tasks" && hook != nil {
				hook(id)
			}
		}
		rp.ServeHTTP(w, r)
	})
}

// lowerTotals takes removed off a listing body's count and meta.total.
func lowerTotals(body map[string]json.RawMessage, removed int) error {
	var count int
	if err := json.Unmarshal(body["count"], &count); err == nil {
		body["count"], _ = json.Marshal(count - removed)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(body["meta"], &meta); err != nil {
		return err
	}
	var total int
	if err := json.Unmarshal(meta["total"], &total); err != nil {
		return err
	}
	meta["total"], _ = json.Marshal(total - removed)
	var err error
	body["meta"], err = json.Marshal(meta)
	return err
}

// entry returns the quarantine entry of HighLevel contact id (ok false when there is none).
func (h *harness) entry(t *testing.T, id string) (store.QuarantineEntry, bool) {
	t.Helper()
	var out store.QuarantineEntry
	var ok bool
	if err := h.db.View(func(tx *store.Tx) error {
		qs, err := tx.Quarantined()
		for _, q := range qs {
			if q.Kind == store.KindContact && q.Side == store.SideGHL && q.ID == id {
				out, ok = q, true
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out, ok
}

// TestQuarantineSurvivesChildrenRefreshes is the regression test for quarantined contacts
// losing their entry on every children refresh: the real Sweep and Children jobs alternate
// against the simulator, one contact deleted there and one hidden by a proxy (deleted, then
// back). Each sweep adds a confirmation, no children run resets or clears it or spends a call
// on a held contact, a webhook re-read that hears 404 again leaves the entry as it is, and a
// contact that reappears is released and refreshed again.
func TestQuarantineSurvivesChildrenRefreshes(t *testing.T) {
	const n = 12
	px, front := newHidingProxy(t)
	// A period this short makes every contact due on every run: the rotation visits them all.
	h := newHarnessFront(t, n, ghlsim.Options{Seed: 21}, Settings{ChildrenPeriod: time.Nanosecond}, front)
	h.backfill(t)
	ctx := context.Background()
	cs := h.sim.Contacts()
	victim, back := cs[2].ID, cs[7].ID
	if err := h.sim.DeleteContact(victim); err != nil {
		t.Fatal(err)
	}
	px.set(back, true, true)
	want := func(t *testing.T, when, id string, confirmations int) {
		t.Helper()
		q, ok := h.entry(t, id)
		if !ok {
			t.Fatalf("%s: contact %s is not quarantined, want %d confirmations", when, id, confirmations)
		}
		if q.Confirmations != confirmations {
			t.Fatalf("%s: contact %s has %d confirmations, want %d", when, id, q.Confirmations, confirmations)
		}
	}
	for round := 1; round <= 3; round++ {
		t.Run("round "+strconv.Itoa(round), func(t *testing.T) {
			sw, err := h.p.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sw.Quarantined != 2 {
				t.Errorf("sweep quarantined %d contacts, want 2", sw.Quarantined)
			}
			want(t, "after sweep", victim, round)
			want(t, "after sweep", back, round)
			calls := px.callsFor(victim) + px.callsFor(back)
			ch, err := h.p.Children(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want(t, "after children", victim, round)
			want(t, "after children", back, round)
			if ch.Held != 2 || ch.Contacts != n-2 || ch.Gone != 0 {
				t.Errorf("children run: held %d, refreshed %d, gone %d; want 2, %d, 0", ch.Held, ch.Contacts, ch.Gone, n-2)
			}
			if got := px.callsFor(victim) + px.callsFor(back) - calls; got != 0 {
				t.Errorf("children run made %d calls for quarantined contacts", got)
			}
			if round == 2 {
				// A ContactDelete webhook asks for a re-read: 404 again, entry untouched.
				h.p.WantContact(victim, "ContactDelete")
				if err := h.db.Update(func(tx *store.Tx) error { return tx.MarkDirty(victim, "webhook:ContactDelete") }); err != nil {
					t.Fatal(err)
				}
				ch, err := h.p.Children(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if ch.Gone != 1 || ch.Held != 1 {
					t.Errorf("webhook re-read: gone %d, held %d; want 1, 1", ch.Gone, ch.Held)
				}
				want(t, "after a webhook re-read", victim, round)
			}
		})
	}
	t.Run("reappears", func(t *testing.T) {
		before, _ := h.contact(t, back)
		px.set(back, false, false)
		sw, err := h.p.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sw.Released != 1 {
			t.Errorf("sweep released %d contacts, want 1", sw.Released)
		}
		if _, held := h.entry(t, back); held {
			t.Fatal("a contact listed again is still quarantined")
		}
		want(t, "after the release", victim, 4)
		calls := px.callsFor(back)
		ch, err := h.p.Children(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Held != 1 || ch.Contacts != n-1 {
			t.Errorf("children run: held %d, refreshed %d; want 1, %d", ch.Held, ch.Contacts, n-1)
		}
		after, _ := h.contact(t, back)
		if px.callsFor(back) == calls || !after.ChildrenFetchedAt.After(before.ChildrenFetchedAt) {
			t.Error("the released contact's children were not refreshed")
		}
		want(t, "after children", victim, 4)
	})
}

// TestChildrenRefreshKeepsQuarantineFromConcurrentSweep: a sweep that quarantines a contact
// while that contact's children are being fetched (after the run read the quarantine) keeps
// its entry; the refresh stores the children without rewriting the contact.
func TestChildrenRefreshKeepsQuarantineFromConcurrentSweep(t *testing.T) {
	const n = 6
	px, front := newHidingProxy(t)
	h := newHarnessFront(t, n, ghlsim.Options{Seed: 22}, Settings{ChildrenPeriod: time.Nanosecond}, front)
	h.backfill(t)
	ctx := context.Background()
	id := h.sim.Contacts()[1].ID
	px.set(id, false, true)
	var once sync.Once
	var sweepErr error
	px.mu.Lock()
	px.onTasks = func(got string) {
		if got == id {
			once.Do(func() { _, sweepErr = h.p.Sweep(ctx) })
		}
	}
	px.mu.Unlock()
	ch, err := h.p.Children(ctx)
	if err != nil || sweepErr != nil {
		t.Fatalf("children: %v; sweep: %v", err, sweepErr)
	}
	if ch.Contacts != n {
		t.Errorf("refreshed %d contacts, want %d", ch.Contacts, n)
	}
	q, ok := h.entry(t, id)
	if !ok || q.Confirmations != 1 {
		t.Fatalf("entry after a concurrent sweep: %+v (present %v), want 1 confirmation", q, ok)
	}
}
