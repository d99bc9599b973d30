package reconcile

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/config"
	"ptsync/store"
)

// A refused credential, an open breaker or a spent daily budget says nothing about the entry:
// the harness saw a write wait out minutes of backoff after a re-authorisation, and enough such
// failures would have dead-lettered it. They postpone the entry without counting an attempt; a
// server error still counts, and the last allowed attempt still dead-letters.
func TestUnavailableUpstreamNeverSpendsAttempts(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cfg := &config.Config{Pusher: config.Pusher{MaxAttempts: 2, BackoffBase: time.Second, BackoffMax: time.Minute}}
	e := &Engine{cfg: cfg, now: func() time.Time { return now }, rng: rand.New(rand.NewPCG(1, 2))}
	var o store.OutboxEntry
	if err := db.Update(func(tx *store.Tx) error {
		o = store.OutboxEntry{Target: store.SideGHL, Op: OpTaskCreate, RecordKind: store.KindTask, RecordID: "t1"}
		return tx.Enqueue(&o)
	}); err != nil {
		t.Fatal(err)
	}
	fail := func(cause error) (bool, store.OutboxEntry) {
		t.Helper()
		var got store.OutboxEntry
		if err := db.Update(func(tx *store.Tx) error {
			cur, err := tx.GetOutbox(o.Seq)
			if err != nil {
				return err
			}
			dead, fn := e.failure(cur, cause)
			if err := fn(tx); err != nil {
				return err
			}
			got, err = tx.GetOutbox(o.Seq)
			if dead != got.Dead {
				t.Errorf("failure said dead=%v, entry says %v", dead, got.Dead)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got.Dead, got
	}
	for i, cause := range []error{ghl.ErrInvalidGrant, ghl.ErrNoToken, ghl.ErrBreakerOpen, fmt.Errorf("cannot create task: %w", ghl.ErrInvalidGrant)} {
		for range 5 {
			if dead, got := fail(cause); dead || got.Attempts != 0 || got.NextAttemptAt.After(now.Add(time.Second)) {
				t.Fatalf("cause %d (%v): dead %v, attempts %d, next in %v; want postponed by at most the base backoff, no attempt counted",
					i, cause, dead, got.Attempts, got.NextAttemptAt.Sub(now))
			}
		}
	}
	server := errors.Join(ghl.ErrServer, errors.New("503"))
	if dead, got := fail(server); dead || got.Attempts != 1 {
		t.Fatalf("first server error: dead %v, attempts %d; want counted, not dead", dead, got.Attempts)
	}
	if dead, _ := fail(server); !dead {
		t.Fatal("the last allowed attempt did not dead-letter")
	}
}
