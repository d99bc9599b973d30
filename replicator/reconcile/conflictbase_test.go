package reconcile_test

import (
	"strings"
	"testing"

	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile"
	"ptsync/store"
)

// A phone a coach types in PT Distinction that another HighLevel contact already holds is
// refused by HighLevel (a location without duplicates). The field is held as a conflict
// whose Base is the value both sides last agreed on, and whose Reason names the contact
// holding the phone: the reason is not a value, and `ptsync conflicts` must not show it as
// one.
func TestRefusedValueIsHeldWithItsBase(t *testing.T) {
	h := newHarness(t, hopts{})
	ids, rep := h.seed(6, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	gid, pid := ids[m.Index], m.ClientID
	var holder, taken string
	for _, id := range ids {
		if c, _ := h.gsim.Contact(id); id != gid && c.Phone != "" {
			holder, taken = id, c.Phone
			break
		}
	}
	if holder == "" {
		t.Fatal("no other contact with a phone in the seed")
	}
	l := h.linkOf(gid)
	var agreed string
	if err := h.db.View(func(tx *store.Tx) error {
		b, err := tx.GetBase(l.ID)
		agreed = b.Fields["phone"]
		return err
	}); err != nil || agreed == "" {
		t.Fatalf("no agreed phone for link %s (%v): the test proves nothing", l.ID, err)
	}

	h.planPTDEdit(pid, ptdwire.ClientInput{Phone: &taken})
	if _, err := h.eng.Push(h.ctx); err != nil {
		t.Fatal(err)
	}
	var cs []store.Conflict
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		cs, err = reconcile.ListConflicts(tx, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].LinkID != l.ID || cs[0].Field != "phone" {
		t.Fatalf("conflicts %+v, want one on the phone of %s", cs, l.ID)
	}
	c := cs[0]
	if c.Base != agreed || c.NoBase {
		t.Errorf("conflict base %q (noBase %v), want the agreed phone %q", c.Base, c.NoBase, agreed)
	}
	if !strings.Contains(c.Reason, holder) || !strings.Contains(c.Reason, "refused") {
		t.Errorf("conflict reason %q does not say HighLevel refused it for contact %s", c.Reason, holder)
	}
}
