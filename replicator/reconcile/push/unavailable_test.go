package push

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/outbox"
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
	cfg := config.Pusher{MaxAttempts: 2, BackoffBase: time.Second, BackoffMax: time.Minute}
	e := New(Options{Config: cfg, Now: func() time.Time { return now }, Seed: 1, Logger: hclog.NewNullLogger()})
	var o store.OutboxEntry
	if err := db.Update(func(tx *store.Tx) error {
		o = store.OutboxEntry{Target: store.SideGHL, Op: kinds.OpTaskCreate, RecordKind: store.KindTask, RecordID: "t1"}
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
			dead, _, fn := e.failure(cur, cause)
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

// TestRefusingTargetIsHeldNotHammered is #17's push flood: with credentials PT Distinction
// rejects, 10 queued writes retried whenever due for 17 s gave one warning per entry per
// second. Now the target is held: the first refusal of a hold logs one line and every entry
// waits for the hold's end, which doubles from pusher.backoff_base (1 s): 5 lines, at 0, 1,
// 3, 7 and 15 s, and 5 attempts per entry. A successful write ends the hold.
func TestRefusingTargetIsHeldNotHammered(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logs strings.Builder
	cfg := config.Pusher{MaxAttempts: 8, BackoffBase: time.Second, BackoffMax: time.Minute}
	e := New(Options{Config: cfg, Now: func() time.Time { return now }, Seed: 1,
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})})
	var seqs []uint64
	if err := db.Update(func(tx *store.Tx) error {
		for i := range 10 {
			o := store.OutboxEntry{Target: store.SidePTD, Op: outbox.OpClientUpdate, RecordKind: store.KindContact, RecordID: fmt.Sprint("l", i)}
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
			seqs = append(seqs, o.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	refused := fmt.Errorf("cannot update client: %w", ptd.ErrUnauthorized)
	attempts := 0
	for step := 0; step <= 17*10; step++ { // every 100 ms for 17 s, each due entry is pushed and refused
		if err := db.Update(func(tx *store.Tx) error {
			for _, seq := range seqs {
				o, err := tx.GetOutbox(seq)
				if err != nil {
					return err
				}
				if o.NextAttemptAt.After(now) {
					continue
				}
				attempts++
				_, quiet, fn := e.failure(o, refused)
				if err := fn(tx); err != nil {
					return err
				}
				if !quiet {
					e.logFailure(o, refused, false)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(100 * time.Millisecond)
	}
	lines := strings.Count(logs.String(), "\n")
	t.Logf("17 s of a refusing target with 10 queued writes: %d log lines, %d attempts", lines, attempts)
	if lines != 5 || attempts != 50 {
		t.Errorf("%d log lines and %d attempts in 17 s, want 5 and 50 (one hold each at 0, 1, 3, 7, 15 s)\n%s", lines, attempts, logs.String())
	}
	e.holds.accepted(store.SidePTD)
	if next, opened := e.holds.refused(store.SidePTD, "credentials rejected", now, time.Second, time.Minute); !opened || next != now.Add(time.Second) {
		t.Errorf("after a success the next refusal holds %v (opened %v), want a fresh 1 s hold", next.Sub(now), opened)
	}
}
