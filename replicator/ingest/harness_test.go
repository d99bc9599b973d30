package ingest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/apiclient/ghl"
	"ptsync/internal/secret"
	"ptsync/metrics"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// harness is a HighLevel simulator on loopback, a real client, a real bbolt mirror in a temp
// dir and a Poller over them: the production code path with fast, scaled rate limits.
type harness struct {
	sim *ghlsim.Server
	db  *store.DB
	c   *ghl.Client
	p   *Poller
	m   *metrics.Metrics
	reg *prometheus.Registry
}

func newHarness(t *testing.T, n int, simOpts ghlsim.Options, set Settings) *harness {
	t.Helper()
	return newHarnessFront(t, n, simOpts, set, nil)
}

// newHarnessFront is newHarness with the client talking to front(simulator URL) instead: a
// test's proxy that changes what HighLevel appears to hold. A nil front is the simulator.
func newHarnessFront(t *testing.T, n int, simOpts ghlsim.Options, set Settings, front func(simURL string) string) *harness {
	t.Helper()
	if simOpts.Limits.BurstMax == 0 {
		simOpts.Limits = ghlsim.Limits{BurstMax: 1000, BurstInterval: 100 * time.Millisecond}
	}
	sim := ghlsim.New(simOpts)
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if n > 0 {
		sim.Seed(n)
	}
	if front != nil {
		url = front(url)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "mirror.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	lim := ghl.NewLimiter(ghl.LimiterOptions{Location: sim.LocationID(), Max: simOpts.Limits.BurstMax, Interval: simOpts.Limits.BurstInterval})
	c, err := ghl.New(ghl.Options{BaseURL: url, LocationID: sim.LocationID(), Limiter: lim, Observer: m.GHLObserver(),
		Credentials: ghl.NewStaticSource(sim.LocationID(), secret.New(sim.IssuePIT("contacts.readonly", "contacts.write")), nil)})
	if err != nil {
		t.Fatal(err)
	}
	if set.Burst == 0 {
		set.Burst, set.BurstInterval = simOpts.Limits.BurstMax, simOpts.Limits.BurstInterval
	}
	p, err := New(Options{Store: db, Client: c, Settings: set, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{sim: sim, db: db, c: c, p: p, m: m, reg: reg}
}

func (h *harness) backfill(t *testing.T) BackfillStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := h.p.Backfill(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// contact returns the mirrored contact id (ok false when absent).
func (h *harness) contact(t *testing.T, id string) (store.GHLContact, bool) {
	t.Helper()
	var c store.GHLContact
	var found bool
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		c, err = tx.GetGHLContact(id)
		found = err == nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c, found
}

func (h *harness) quarantined(t *testing.T, kind, id string) bool {
	t.Helper()
	var found bool
	_ = h.db.View(func(tx *store.Tx) error {
		qs, err := tx.Quarantined()
		for _, q := range qs {
			if q.Kind == kind && q.Side == store.SideGHL && q.ID == id {
				found = true
			}
		}
		return err
	})
	return found
}

func (h *harness) count(t *testing.T, c store.Collection) int {
	t.Helper()
	var n int
	if err := h.db.View(func(tx *store.Tx) error {
		st, err := tx.Stats()
		n = st[string(c)]
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
