package query

import (
	"fmt"
	"time"

	"ptsync/store"
)

// Appointment is the appointments' entry: `query appointments`, `query ptd-appointments`
// and the contact view's appointments.
func (kindFiles) Appointment() ChildKind {
	return ChildKind{Name: store.KindAppointment, Order: 30,
		GHL: ChildQuery{Kind: "appointments",
			Fields: []Field{
				Str("id", func(r *store.GHLAppointment) string { return r.ID }),
				Str("contactId", func(r *store.GHLAppointment) string { return r.ContactID }),
				Str("title", func(r *store.GHLAppointment) string { return r.Title }),
				Str("status", func(r *store.GHLAppointment) string { return r.Status }),
				Time("startTime", func(r *store.GHLAppointment) time.Time { return r.StartTime }),
				Time("endTime", func(r *store.GHLAppointment) time.Time { return r.EndTime }),
				Time("dateUpdated", func(r *store.GHLAppointment) time.Time { return r.DateUpdated }),
			},
			Defaults: []string{"id", "contactId", "title", "status", "startTime"},
			Scan: func(tx *store.Tx, fn func(any) error) error {
				return tx.ForEachGHLAppointment(each[store.GHLAppointment](fn))
			}},
		PTD: ChildQuery{Kind: "ptd-appointments",
			Fields: []Field{
				Str("id", func(r *store.PTDAppointment) string { return r.ID }),
				Str("clientId", func(r *store.PTDAppointment) string { return r.ClientID }),
				Str("externalId", func(r *store.PTDAppointment) string { return r.ExternalID }),
				Str("title", func(r *store.PTDAppointment) string { return r.Title }),
				Time("startAt", func(r *store.PTDAppointment) time.Time { return r.StartAt }),
				Time("endAt", func(r *store.PTDAppointment) time.Time { return r.EndAt }),
				Str("status", func(r *store.PTDAppointment) string { return r.Status }),
			},
			Defaults: []string{"id", "clientId", "externalId", "title", "startAt"},
			Scan: func(tx *store.Tx, fn func(any) error) error {
				return tx.ForEachPTDAppointment(each[store.PTDAppointment](fn))
			}},
		Show: ChildShow{Heading: "appointments", New: func() any { return new(store.GHLAppointment) },
			Line: func(rec any) string {
				a := rec.(*store.GHLAppointment)
				return fmt.Sprintf("%s  %s  %s  %s", a.ID, showTime(a.StartTime), a.Status, a.Title)
			}},
	}
}
