package demo

import (
	"slices"
	"testing"

	"ptsync/store"
)

// compareMirror checks that the mirror at path holds exactly the HighLevel simulator's
// contacts and their tasks, notes and appointments (by id).
func compareMirror(t *testing.T, path string, d *Demo) {
	t.Helper()
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]bool{}
	var wantTasks, wantNotes, wantAppts []string
	for _, c := range d.GHL.Contacts() {
		want[c.ID] = true
		for _, x := range d.GHL.Tasks(c.ID) {
			wantTasks = append(wantTasks, c.ID+"/"+x.ID)
		}
		for _, x := range d.GHL.Notes(c.ID) {
			wantNotes = append(wantNotes, c.ID+"/"+x.ID)
		}
		for _, x := range d.GHL.Appointments(c.ID) {
			wantAppts = append(wantAppts, c.ID+"/"+x.ID)
		}
	}
	var got, gotTasks, gotNotes, gotAppts []string
	err = db.View(func(tx *store.Tx) error {
		if err := tx.ForEachGHLContact(func(c *store.GHLContact) error { got = append(got, c.ID); return nil }); err != nil {
			return err
		}
		if err := tx.ForEachGHLTask(func(x *store.GHLTask) error { gotTasks = append(gotTasks, x.ContactID+"/"+x.ID); return nil }); err != nil {
			return err
		}
		if err := tx.ForEachGHLNote(func(x *store.GHLNote) error { gotNotes = append(gotNotes, x.ContactID+"/"+x.ID); return nil }); err != nil {
			return err
		}
		return tx.ForEachGHLAppointment(func(x *store.GHLAppointment) error { gotAppts = append(gotAppts, x.ContactID+"/"+x.ID); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("mirror holds %d contacts, simulator %d", len(got), len(want))
	}
	for _, id := range got {
		if !want[id] {
			t.Errorf("mirror holds contact %s the simulator does not", id)
		}
	}
	for _, c := range []struct {
		kind      string
		got, want []string
	}{{"tasks", gotTasks, wantTasks}, {"notes", gotNotes, wantNotes}, {"appointments", gotAppts, wantAppts}} {
		slices.Sort(c.got)
		slices.Sort(c.want)
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: mirror has %d, simulator %d (or different ids)", c.kind, len(c.got), len(c.want))
		}
		if len(c.want) == 0 {
			t.Errorf("%s: simulator seeded none; the comparison proves nothing", c.kind)
		}
	}
	t.Logf("mirror matches simulator: %d contacts, %d tasks, %d notes, %d appointments", len(got), len(gotTasks), len(gotNotes), len(gotAppts))
}
