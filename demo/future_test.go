package demo

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/apiclient/ghlwire"
	"ptsync/config"
	"ptsync/replicator"
	"ptsync/replicator/ingest"
	"ptsync/store"
)

// TestOpenRepairsCursorInTheFuture is the start-up repair of issue #22 on a mirror written by
// the code before it: a proxy restamped one contact 2030-01-01 and the search cursor moved
// there, so every HighLevel edit since is skipped. The test writes that state into the bbolt
// file of a synced mirror, edits another contact in HighLevel, and opens a new service on the
// file: Open warns once, naming the cursor, its time and the time it is pulled back to, and
// the next two contacts runs bring the edit into the mirror. Without the repair the first run
// finds nothing after 2030 and the bound pulls the cursor back to the request time less the
// overlap, so only the edits since then (less one more overlap) come back: the test's overlap
// is 20 ms and the edit is made 2.5 s before the service opens (the bound comes from the Date
// header, in whole seconds), as an edit made during days of a stuck cursor would be older
// than any overlap.
func TestOpenRepairsCursorInTheFuture(t *testing.T) {
	ctx := context.Background()
	d := startDemo(t, Options{Contacts: 30, Seed: 21, BurstInterval: 200 * time.Millisecond, IngestOnly: true})
	d.cancel()
	<-d.runDone
	if err := d.Service.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d.cancel = nil
	ids := d.GHL.Contacts()
	victim, edited := ids[0].ID, ids[1].ID
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	writeOldFutureCursor(t, d.Config.Store.Path, victim, future)
	city := "Skippedville"
	if _, err := d.GHL.UpdateContact(edited, ghlwire.ContactInput{City: &city}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // the edit is older than the bound's second and two overlaps

	cfg := *d.Config
	cfg.GHL.SearchOverlap = 20 * time.Millisecond
	var logs syncBuffer
	svc, err := replicator.New(replicator.Options{Config: &cfg, IngestOnly: true, Registry: prometheus.NewRegistry(), Notify: func(string) error { return nil },
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})})
	if err != nil {
		t.Fatal(err)
	}
	d.Service = svc // d.Close closes it
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	arrived := 0
	for i := 1; i <= 2 && arrived == 0; i++ {
		if err := svc.RunJob(ctx, config.JobContacts); err != nil {
			t.Fatal(err)
		}
		if mirroredCity(t, svc.Store(), edited) == city {
			arrived = i
		}
	}
	if arrived == 0 {
		var c store.Cursor
		_ = svc.Store().View(func(tx *store.Tx) error { c, err = tx.Cursor(ingest.CursorSearch); return err })
		t.Errorf("the edit made while the cursor was stuck is not in the mirror after two contacts runs (cursor %+v)", c)
	} else {
		t.Logf("the edit made while the cursor was stuck reached the mirror in contacts run %d", arrived)
	}
	var warnings []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "cursor was ahead of the clock") {
			warnings = append(warnings, l)
		}
	}
	t.Logf("open logged:\n%s", strings.Join(warnings, "\n"))
	if len(warnings) != 1 {
		t.Fatalf("%d repair warnings, want 1", len(warnings))
	}
	for _, want := range []string{"cursor=" + ingest.CursorSearch, "through=2030-01-01T00:00:00Z", "now=", "pulled_back_to="} {
		if !strings.Contains(warnings[0], want) {
			t.Errorf("repair warning lacks %s", want)
		}
	}
}

// writeOldFutureCursor leaves in the mirror at path what the code before issue #22 did after
// a proxy restamped contact id: the contact stamped at, the search cursor through at.
func writeOldFutureCursor(t *testing.T, path, id string, at time.Time) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *store.Tx) error {
		c, err := tx.GetGHLContact(id)
		if err != nil {
			return err
		}
		c.DateUpdated = at
		if err := tx.PutGHLContact(&c); err != nil {
			return err
		}
		v, _ := json.Marshal([]any{at.UnixMilli(), id})
		return tx.SetCursor(ingest.CursorSearch, store.Cursor{Value: string(v), Covers: store.GHLContacts, Through: at})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("the old code's mirror must pass the check (the cursor is not ahead of its data): %v", err)
	}
}

func mirroredCity(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	var raw []byte
	if err := db.View(func(tx *store.Tx) error {
		c, err := tx.GetGHLContact(id)
		raw = c.Raw
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var c ghlwire.Contact
	_ = json.Unmarshal(raw, &c)
	return c.City
}
