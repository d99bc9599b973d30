package ingest

import (
	"context"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/store"
)

// Appointment is the appointments' entry: GET /contacts/{id}/appointments. Not guarded: a
// vanished appointment is never deleted anywhere else (HighLevel → PTD only). Appointment
// events nest the appointment, so the contact may be inside it.
func (kindFiles) Appointment() ChildKind {
	return ChildKind{Name: store.KindAppointment, Order: 30, Label: "appointments",
		Events: []string{"AppointmentCreate", "AppointmentUpdate", "AppointmentDelete"},
		ContactOf: func(ev ghlwire.WebhookEvent) string {
			if ev.ContactID == "" && ev.Appointment != nil {
				return ev.Appointment.ContactID
			}
			return ev.ContactID
		},
		Fetch: func(ctx context.Context, c *ghl.Client, id string) (Convert, error) {
			as, err := c.ListAppointments(ctx, id)
			return converter(as, func(a ghlwire.Appointment, s Stamp) store.GHLAppointment {
				start, _ := parseTime(a.StartTime, s.TimeZone)
				end, _ := parseTime(a.EndTime, s.TimeZone)
				upd, _ := parseTime(a.DateUpdated, s.TimeZone)
				status := a.AppointmentStatus
				if status == "" {
					status = a.Status
				}
				return store.GHLAppointment{ID: a.ID, ContactID: id, Title: a.Title, Status: status,
					StartTime: start, EndTime: end, DateUpdated: upd, Raw: a.Raw, FetchedAt: s.At}
			}), err
		}}
}
