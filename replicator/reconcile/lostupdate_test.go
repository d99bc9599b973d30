package reconcile_test

import (
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/store"
)

// A coach's PTD edit made between a plan and its push must not be overwritten by the push,
// even when the PTD poll refreshed the mirror in between (the reliability harness's fault
// soak lost such edits: the update's If-Match was the mirror's ETag at push time, which
// already covered the coach's edit, instead of the ETag the plan had read).
func TestPTDEditBetweenPlanAndPushIsNotOverwritten(t *testing.T) {
	tests := []struct {
		name        string
		pollBetween bool // the PTD poll refreshes the mirror between plan and push
	}{
		{"mirror still stale at push", false},
		{"mirror refreshed by the ptd poll before the push", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, hopts{})
			ids, rep := h.seed(6, 1, 0, 0, false)
			h.converge(4)
			m := rep.Matches[0]
			gid, pid := ids[m.Index], m.ClientID

			if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("FromGHL")}); err != nil {
				t.Fatal(err)
			}
			h.ingest()
			if _, err := h.eng.PollPTD(h.ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := h.eng.Reconcile(h.ctx); err != nil { // plans FromGHL -> PTD
				t.Fatal(err)
			}
			if _, err := h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: strp("CoachLater")}); err != nil {
				t.Fatal(err)
			}
			if tc.pollBetween {
				if _, err := h.eng.PollPTD(h.ctx); err != nil {
					t.Fatal(err)
				}
			}
			_, _ = h.eng.Push(h.ctx)
			if c, _ := h.psim.Client(pid); c.FirstName != "CoachLater" {
				t.Fatalf("ptd firstName %q right after the push: the coach's later edit was overwritten", c.FirstName)
			}
			h.convergeToFirstName(6, gid, pid, "CoachLater")
		})
	}
}

// The same race on the HighLevel side, which has no conditional update: a user's edit made
// after the plan (the mirror had not seen it) must survive the push.
func TestGHLEditBetweenPlanAndPushIsNotOverwritten(t *testing.T) {
	h := newHarness(t, hopts{})
	gid, pid := h.syncedPair()
	// Plans FromPTD -> HighLevel.
	h.planPTDEdit(pid, ptdwire.ClientInput{FirstName: strp("FromPTD")})
	time.Sleep(2 * time.Millisecond) // HighLevel stamps milliseconds
	if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("UserLater")}); err != nil {
		t.Fatal(err)
	}
	_, _ = h.eng.Push(h.ctx)
	if c, _ := h.gsim.Contact(gid); c.FirstName != "UserLater" {
		t.Fatalf("ghl firstName %q right after the push: the user's later edit was overwritten", c.FirstName)
	}
	h.convergeToFirstName(6, gid, pid, "UserLater")
}

// A HighLevel change that the push's re-read discovers (a user edited the contact, and added a
// task, after the plan) must leave the contact marked for a child refresh. The push stores the
// newer dateUpdated, so ingestion's next poll sees nothing new and would not mark it; before
// the fix the task reached PTD only through the periodic children sweep (the reliability
// harness saw ~40 s). The mark is written in the transaction that stores the contact, so a
// kill cannot separate them.
func TestGHLChangeFoundByPushKeepsDirtyMark(t *testing.T) {
	tests := []struct {
		name string
		tag  bool // the pending update also carries a tag delta (the update is applied in part)
	}{
		{"superseded update", false},
		{"update with a tag delta still applied", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, hopts{dirtyChildrenOnly: true})
			ids, rep := h.seed(6, 1, 0, 0, false)
			h.converge(4)
			m := rep.Matches[0]
			gid, pid := ids[m.Index], m.ClientID

			if _, err := h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: strp("FromPTD")}); err != nil {
				t.Fatal(err)
			}
			if tc.tag {
				if _, err := h.psim.TagClient(pid, []string{"from-ptd"}, nil); err != nil {
					t.Fatal(err)
				}
			}
			h.ingest()
			if _, err := h.eng.PollPTD(h.ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := h.eng.Reconcile(h.ctx); err != nil { // plans FromPTD -> HighLevel
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // HighLevel stamps milliseconds
			due := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
			f := false
			if _, err := h.gsim.AddTask(gid, ghlwire.TaskInput{Title: strp("added with the edit"), DueDate: &due, Completed: &f}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("UserLater")}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.eng.Push(h.ctx); err != nil {
				t.Fatal(err)
			}
			var dirty bool
			if err := h.db.View(func(tx *store.Tx) error {
				var err error
				dirty, err = tx.IsDirty(gid)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !dirty {
				t.Fatal("the push stored the contact's newer dateUpdated without a dirty mark")
			}
			h.cycle() // children of dirty contacts only, then poll, plan, push
			found := false
			for _, task := range h.psim.Tasks(pid) {
				found = found || task.Title == "added with the edit"
			}
			if !found {
				t.Fatal("the HighLevel task added with the edit did not reach PTD in the next cycle")
			}
		})
	}
}
