package reconcile_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/plan"
	"ptsync/store"
	"ptsync/store/query"
)

// kindTrip is how TestChildKindsAgree makes a record of one kind in HighLevel and finds it
// again: its wire form, its PTD counterpart and, for a BothWays kind, an edit coming back.
type kindTrip struct {
	// create makes a record for HighLevel contact gid in the simulator; it returns its id.
	create func(h *harness, gid string) string
	// onPTD returns the id of the PTD record that shows the HighLevel record id ("" if none).
	onPTD func(h *harness, pid, id string) string
	// editPTD edits that PTD record; editedGHL reports whether the edit reached HighLevel.
	// Both nil for a ToPTD kind.
	editPTD   func(h *harness, ptdID string)
	editedGHL func(h *harness, gid, id string) bool
}

// kindTrips holds one trip per child kind: a kind registered without one fails the test.
func kindTrips() map[string]kindTrip {
	due := time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
	return map[string]kindTrip{
		store.KindTask: {
			create: func(h *harness, gid string) string {
				f := false
				t, err := h.gsim.AddTask(gid, ghlwire.TaskInput{Title: strp("Kinds agree"), DueDate: &due, Completed: &f})
				if err != nil {
					h.t.Fatal(err)
				}
				return t.ID
			},
			onPTD: func(h *harness, pid, _ string) string {
				for _, t := range h.psim.Tasks(pid) {
					if t.Title == "Kinds agree" {
						return t.ID
					}
				}
				return ""
			},
			editPTD: func(h *harness, id string) {
				if _, err := h.psim.EditTask(id, ptdwire.TaskInput{Title: strp("Kinds agree (back)")}); err != nil {
					h.t.Fatal(err)
				}
			},
			editedGHL: func(h *harness, gid, id string) bool {
				for _, t := range h.gsim.Tasks(gid) {
					if t.ID == id {
						return t.Title == "Kinds agree (back)"
					}
				}
				return false
			},
		},
		store.KindNote: {
			create: func(h *harness, gid string) string {
				n, err := h.gsim.AddNote(gid, ghlwire.NoteInput{Body: strp("kinds agree")})
				if err != nil {
					h.t.Fatal(err)
				}
				return n.ID
			},
			onPTD: func(h *harness, pid, _ string) string {
				for _, n := range h.psim.Notes(pid) {
					if n.Body == "kinds agree" {
						return n.ID
					}
				}
				return ""
			},
			editPTD: func(h *harness, id string) {
				if _, err := h.psim.EditNote(id, "kinds agree, back"); err != nil {
					h.t.Fatal(err)
				}
			},
			editedGHL: func(h *harness, gid, id string) bool {
				for _, n := range h.gsim.Notes(gid) {
					if n.ID == id {
						return n.Body == "kinds agree, back"
					}
				}
				return false
			},
		},
		store.KindAppointment: {
			create: func(h *harness, gid string) string {
				a, err := h.gsim.AddAppointment(gid, ghlwire.Appointment{Title: "Kinds agree", StartTime: due,
					EndTime: time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC).Format(time.RFC3339), Status: "confirmed"})
				if err != nil {
					h.t.Fatal(err)
				}
				return a.ID
			},
			onPTD: func(h *harness, pid, id string) string {
				for _, a := range h.psim.Appointments(pid) {
					if a.ExternalID == id {
						return a.ID
					}
				}
				return ""
			},
		},
	}
}

func kindNames[K any](ks []K, name func(K) string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = name(k)
	}
	return out
}

// TestChildKindsAgree: every layer's registry names the same child kinds in the same order,
// each describes the sides the mirror keeps, and a record of every kind goes wire → store →
// query → plan → push against the simulators and, for a two-way kind, back.
func TestChildKindsAgree(t *testing.T) {
	sk, ik, qk, rk := store.DefaultChildKinds(), ingest.DefaultChildKinds(), query.DefaultChildKinds(), kinds.DefaultChildKinds()
	want := kindNames(sk, func(k store.ChildKind) string { return k.Name })
	for layer, got := range map[string][]string{
		"ingest":    kindNames(ik, func(k ingest.ChildKind) string { return k.Name }),
		"query":     kindNames(qk, func(k query.ChildKind) string { return k.Name }),
		"reconcile": kindNames(rk, func(k kinds.ChildKind) string { return k.Name }),
	} {
		if !slices.Equal(got, want) {
			t.Errorf("%s registers %v, the store %v", layer, got, want)
		}
	}
	for i, k := range sk {
		if k.GHL.Collection == "" {
			t.Errorf("%s: HighLevel child kinds are mirrored from HighLevel, but the store keeps no HighLevel side", k.Name)
		}
		if i < len(qk) && (qk[i].GHL.Kind != "") != (k.GHL.Collection != "") || i < len(qk) && (qk[i].PTD.Kind != "") != (k.PTD.Collection != "") {
			t.Errorf("%s: query kinds %q/%q do not match the store's sides", k.Name, qk[i].GHL.Kind, qk[i].PTD.Kind)
		}
		if i < len(rk) && rk[i].Direction == kinds.BothWays && k.PTD.Collection == "" {
			t.Errorf("%s: a two-way kind needs its PTD side mirrored", k.Name)
		}
	}
	trips := kindTrips()
	for _, k := range rk {
		if _, ok := trips[k.Name]; !ok {
			t.Fatalf("kind %s has no round trip in kindTrips: add one", k.Name)
		}
	}
	if t.Failed() {
		return
	}

	h := newHarness(t, hopts{})
	gid, pid := h.syncedPair()
	cat := query.NewCatalog(nil)
	for i, k := range rk {
		t.Run(k.Name, func(t *testing.T) {
			trip, q := trips[k.Name], qk[i]
			id := trip.create(h, gid)
			h.ingest()
			var rows int
			var shown bool
			if err := h.db.View(func(tx *store.Tx) error {
				rs, err := tx.ChildrenOf(k.Name, store.SideGHL, gid)
				if err != nil || !slices.ContainsFunc(rs, func(r store.ChildRecord) bool { return r.ChildID() == id }) {
					return fmt.Errorf("store: %s %s not mirrored under %s (%v)", k.Name, id, gid, err)
				}
				res, err := cat.Run(tx, query.Request{Kind: q.GHL.Kind, Where: fmt.Sprintf("id == %q", id)}, time.Now())
				if err != nil {
					return err
				}
				rows = len(res.Rows)
				v, err := cat.ShowContact(tx, gid)
				for _, s := range v.Children {
					shown = shown || s.Kind == k.Name && slices.ContainsFunc(s.Records, func(r any) bool { return r.(store.ChildRecord).ChildID() == id })
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if rows != 1 || !shown {
				t.Fatalf("query %s found %d rows for %s, shown %v", q.GHL.Kind, rows, id, shown)
			}
			planned, err := h.eng.Plan(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(planned.Writes, func(w plan.Write) bool { return w.RecordKind == k.Name && w.Target == store.SidePTD }) {
				t.Fatalf("plan writes nothing of kind %s to ptd: %+v", k.Name, planned.Writes)
			}
			h.converge(6)
			ptdID := trip.onPTD(h, pid, id)
			if ptdID == "" {
				t.Fatalf("%s %s did not reach ptd", k.Name, id)
			}
			var l store.Link
			if err := h.db.View(func(tx *store.Tx) (err error) { l, err = tx.LinkByGHL(k.Name, id); return err }); err != nil || l.PTDID == "" {
				t.Fatalf("link of %s %s: %+v, %v", k.Name, id, l, err)
			}
			if k.Direction != kinds.BothWays {
				return
			}
			trip.editPTD(h, ptdID)
			h.converge(6)
			if !trip.editedGHL(h, gid, id) {
				t.Fatalf("the ptd edit of %s %s did not come back to highlevel", k.Name, ptdID)
			}
		})
	}
	h.check()
}
