package reconcile_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/remote"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// HighLevel's search trails writes, and a tag write answers with the contact's tags only. A
// push that patched the mirror's tags but kept the contact's old dateUpdated let a lagging
// search row (a user's edit made before the push, still carrying the tags from before it)
// pass for newer: the mirror lost the pushed tag change and the next merge read it as a
// HighLevel edit. The reliability harness's fault soak saw PTD tag removals come back so.
func TestLaggingSearchDoesNotUndoAPushedTagChange(t *testing.T) {
	const lag = 2 * time.Second
	h := newHarness(t, hopts{})
	ids, rep := h.seed(6, 1, 0, 0, false)
	m := rep.Matches[0]
	gid, pid := ids[m.Index], m.ClientID
	if _, err := h.psim.TagClient(pid, []string{"coach-removes"}, nil); err != nil {
		t.Fatal(err)
	}
	h.converge(6)
	if g, _ := h.gsim.Contact(gid); !slices.Contains(g.Tags, "coach-removes") {
		t.Fatalf("setup: tag not on HighLevel after convergence: %v", g.Tags)
	}

	h.gsim.SetSearchLag(lag)
	edited := time.Now()
	if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("UserEdit")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lag / 2)
	if _, err := h.psim.TagClient(pid, nil, []string{"coach-removes"}); err != nil {
		t.Fatal(err)
	}
	// PTD's removal reaches HighLevel by a tag-only push; the user's edit is not mirrored yet.
	if _, err := h.eng.Cycle(h.ctx); err != nil {
		t.Fatal(err)
	}
	if g, _ := h.gsim.Contact(gid); slices.Contains(g.Tags, "coach-removes") {
		t.Fatalf("setup: the removal was not pushed to HighLevel: %v", g.Tags)
	}
	// The search now shows the user's edit but not yet the push that followed it.
	time.Sleep(time.Until(edited.Add(lag + lag/4)))
	if _, err := h.poller.Incremental(h.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Cycle(h.ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.psim.Client(pid); slices.Contains(p.Tags, "coach-removes") {
		t.Errorf("a lagging search row undid the pushed removal: the tag was put back on PTD %v", p.Tags)
	}
	h.gsim.SetSearchLag(0)
	h.converge(8)
	g, _ := h.gsim.Contact(gid)
	p, _ := h.psim.Client(pid)
	if slices.Contains(g.Tags, "coach-removes") || slices.Contains(p.Tags, "coach-removes") {
		t.Errorf("the coach's tag removal came back: ghl %v ptd %v", g.Tags, p.Tags)
	}
	if g.FirstName != "UserEdit" || p.FirstName != "UserEdit" {
		t.Errorf("firstName ghl %q ptd %q, want the user's edit UserEdit on both", g.FirstName, p.FirstName)
	}
}

// duringUpdate runs hook once, right after a HighLevel contact update returned.
type duringUpdate struct {
	remote.GHL
	hook func()
}

func (d *duringUpdate) UpdateContactOnce(ctx context.Context, id string, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	c, err := d.GHL.UpdateContactOnce(ctx, id, in)
	if d.hook != nil {
		d.hook()
		d.hook = nil
	}
	return c, err
}

// Ingestion runs beside the pusher. When it stores a newer copy of a contact (a user's edit)
// while a push to that contact is in flight, the push must not store its older copy over it:
// the mirror would hide the user's edit from the merge until a later read brought it back.
func TestPushDoesNotStoreAnOlderCopyOverIngestion(t *testing.T) {
	var wrap *duringUpdate
	h := newHarness(t, hopts{tweak: func(o *reconcile.Options) {
		wrap = &duringUpdate{GHL: o.GHL}
		o.GHL = wrap
	}})
	gid, pid := h.syncedPair()
	// Plans lastName FromPTD -> HighLevel.
	h.planPTDEdit(pid, ptdwire.ClientInput{LastName: strp("FromPTD")})
	wrap.hook = func() {
		time.Sleep(2 * time.Millisecond) // HighLevel stamps milliseconds
		if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("UserEdit")}); err != nil {
			t.Error(err)
		}
		if _, err := h.poller.Incremental(h.ctx); err != nil {
			t.Error(err)
		}
	}
	if _, err := h.eng.Push(h.ctx); err != nil {
		t.Fatal(err)
	}
	if wrap.hook != nil {
		t.Fatal("setup: the push made no HighLevel update")
	}
	var got store.GHLContact
	if err := h.db.View(func(tx *store.Tx) (err error) { got, err = tx.GetGHLContact(gid); return err }); err != nil {
		t.Fatal(err)
	}
	if got.FirstName != "UserEdit" || got.LastName != "FromPTD" {
		t.Fatalf("mirror holds firstName %q lastName %q after the push, want the user's UserEdit and the pushed FromPTD", got.FirstName, got.LastName)
	}
	h.converge(6)
	if p, _ := h.psim.Client(pid); p.FirstName != "UserEdit" {
		t.Fatalf("ptd firstName %q, want the user's edit", p.FirstName)
	}
}

// A guarded HighLevel update whose PUT fails is tried again only after reading the contact
// again: a user's edit made while the push waited to retry is kept, not overwritten by a
// write checked against the read from before it.
func TestGuardedUpdateRereadsBeforeRetrying(t *testing.T) {
	var wrap *duringUpdate
	h := newHarness(t, hopts{tweak: func(o *reconcile.Options) {
		wrap = &duringUpdate{GHL: o.GHL}
		o.GHL = wrap
	}})
	gid, pid := h.syncedPair()
	// Plans firstName FromPTD -> HighLevel.
	h.planPTDEdit(pid, ptdwire.ClientInput{FirstName: strp("FromPTD")})
	h.gsim.InjectNext("", ghlsim.Fault503) // the re-read passes, the PUT fails
	wrap.hook = func() {
		time.Sleep(2 * time.Millisecond) // HighLevel stamps milliseconds
		if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("UserEdit")}); err != nil {
			t.Error(err)
		}
	}
	if _, err := h.eng.Push(h.ctx); err != nil {
		t.Fatal(err)
	}
	if wrap.hook != nil {
		t.Fatal("setup: the push made no HighLevel update")
	}
	if g, _ := h.gsim.Contact(gid); g.FirstName != "UserEdit" {
		t.Fatalf("ghl firstName %q after the push: the retry overwrote the user's edit made after the failed PUT", g.FirstName)
	}
	h.convergeToFirstName(6, gid, pid, "UserEdit")
}
