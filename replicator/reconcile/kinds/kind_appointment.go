package kinds

import (
	"context"
	"fmt"
	"strings"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/store"
)

// OpApptUpsert surfaces a HighLevel appointment as a PTD appointment (ptd).
const OpApptUpsert = "appointment.upsert"

// Appointment is the appointments' entry: read-only on the HighLevel side, surfaced in PTD as
// appointments when the driver has them, else as notes ("Appointment: <title>, <start> to
// <end> (<status>)"), else not at all.
func (kindFiles) Appointment() ChildKind {
	return ChildKind{Name: store.KindAppointment, Order: 30, Direction: ToPTD,
		Fingerprint: func(r store.ChildRecord) (string, bool) {
			want := apptWant(r.(*store.GHLAppointment))
			return want.Title + "|" + want.StartAt + "|" + want.EndAt + "|" + want.Status, want.StartAt != ""
		},
		Surfaces: []Surface{{
			Cap: ptd.CapAppointments, Work: "surface appointments in ptd (falling back to notes)", Create: OpApptUpsert,
			Write: func(r store.ChildRecord) Write {
				want := apptWant(r.(*store.GHLAppointment))
				return Write{Appointment: &want}
			},
			Calls: ChildCalls{Create: upsertAppointment},
		}, {
			Cap: ptd.CapNotes, Work: "surface appointments in ptd as notes", Create: OpNoteCreate, Update: OpNoteUpdate,
			Into: store.KindNote,
			Write: func(r store.ChildRecord) Write {
				want := apptWant(r.(*store.GHLAppointment))
				body := fmt.Sprintf("Appointment: %s, %s", want.Title, want.StartAt)
				if want.EndAt != "" {
					body += " to " + want.EndAt
				}
				if want.Status != "" {
					body += " (" + want.Status + ")"
				}
				return Write{Fields: map[string]string{"body": body}}
			},
			Calls: ptdNoteCalls(),
		}}}
}

// apptWant is the PTD appointment that shows a HighLevel one.
func apptWant(ap *store.GHLAppointment) ptdwire.Appointment {
	want := ptdwire.Appointment{ExternalID: ap.ID, Title: ap.Title, StartAt: mapping.TimeStr(ap.StartTime), EndAt: mapping.TimeStr(ap.EndTime), Status: ap.Status}
	if strings.TrimSpace(want.Title) == "" {
		want.Title = "Appointment"
	}
	return want
}

// upsertAppointment creates or replaces the PTD appointment keyed by the HighLevel id.
func upsertAppointment(ctx context.Context, env ChildEnv, pid string, w Write) (store.ChildRecord, error) {
	a, err := env.PTD.UpsertAppointment(ctx, pid, *w.Appointment)
	if err != nil {
		return nil, err
	}
	rec := &store.PTDAppointment{ID: a.ID, ClientID: pid, ExternalID: w.Appointment.ExternalID, Title: a.Title,
		StartAt: mapping.ParseTime(a.StartAt, nil), EndAt: mapping.ParseTime(a.EndAt, nil), Status: a.Status, FetchedAt: env.Now()}
	if rec.ID == "" {
		rec.ID = "ext-" + rec.ExternalID
	}
	return rec, nil
}
