package reconcile

import (
	"slices"
	"testing"

	"ptsync/store"
)

// The ops the service declares at zero come from the kinds now; they are the ones the
// engine always pushed.
func TestPushOpsAreTheChildKindsOps(t *testing.T) {
	want := map[string][]string{
		store.SideGHL: {"contact.create", "contact.update", "task.create", "task.update", "task.delete",
			"note.create", "note.update", "note.delete", "delete.policy"},
		store.SidePTD: {"client.create", "client.update", "client.route", "appointment.upsert", "reminder.send",
			"task.create", "task.update", "task.delete", "note.create", "note.update", "note.delete", "delete.policy"},
	}
	for target, ops := range want {
		got := PushOps(target)
		slices.Sort(got)
		slices.Sort(ops)
		if !slices.Equal(got, ops) {
			t.Errorf("%s: %v, want %v", target, got, ops)
		}
	}
}
