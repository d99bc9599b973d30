package ingest

import (
	"context"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/internal/registry"
	"ptsync/store"
)

// ChildKind describes one kind of a contact's children to the children refresh and the
// webhook intake. The refresh lists every registered kind of a contact and replaces the
// mirror's copies in one transaction; the webhook marks a contact dirty for any kind's event.
type ChildKind struct {
	// Name is the store kind (store.KindTask); the mirror must register it (store.ChildKind)
	// with a HighLevel side.
	Name string
	// Order places the kind among the others (tasks 10, notes 20, appointments 30): the
	// order of the reads of one contact and of the metric's labels.
	Order int
	// Label is the kind label of ptsync_children_refreshes_total ("tasks").
	Label string
	// Fetch lists one contact's children (one request) and returns their conversion to store
	// records, run once every kind of the contact was read (so all carry the same fetch time,
	// taken after the last read). A contact HighLevel does not have must be an error matching
	// ghl.ErrNotFound: the refresh then quarantines the contact.
	Fetch func(ctx context.Context, c *ghl.Client, contactID string) (Convert, error)
	// Guarded kinds' listings go through the sweep guard before a vanished child is taken for
	// deleted: the kinds whose deletions the reconciler propagates to PTD.
	Guarded bool
	// Events are the webhook event types about this kind; each marks its contact dirty.
	Events []string
	// ContactOf returns the contact id such an event names; nil reads ev.ContactID.
	ContactOf func(ev ghlwire.WebhookEvent) string
}

// Convert turns what a Fetch read into store records stamped with s.
type Convert func(s Stamp) []store.ChildRecord

// Stamp is what a conversion needs: the records' fetch time and the zone of HighLevel's
// zone-less times.
type Stamp struct {
	At       time.Time
	TimeZone *time.Location
}

// kindFiles holds one method per child kind, each in the kind's own file (kind_task.go:
// func (kindFiles) Task() ChildKind). DefaultChildKinds collects them.
type kindFiles struct{}

// DefaultChildKinds returns the child kinds this build refreshes, in Order; a new slice on
// every call.
func DefaultChildKinds() []ChildKind {
	return registry.Collect(kindFiles{}, func(k ChildKind) int { return k.Order })
}

// ChildLabels returns the metric labels of kinds, in their order (the kind label of
// ptsync_children_refreshes_total, with ReasonDirty and ReasonSweep as its reason).
func ChildLabels(kinds []ChildKind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Label
	}
	return out
}

// contactOf returns the contact an event of k names.
func (k ChildKind) contactOf(ev ghlwire.WebhookEvent) string {
	if k.ContactOf != nil {
		return k.ContactOf(ev)
	}
	return ev.ContactID
}

// converter returns the Convert of wire records ws: conv applied to each, in order.
func converter[W any, R any, P interface {
	*R
	store.ChildRecord
}](ws []W, conv func(w W, s Stamp) R) Convert {
	return func(s Stamp) []store.ChildRecord {
		out := make([]store.ChildRecord, len(ws))
		for i, w := range ws {
			r := P(new(R))
			*r = conv(w, s)
			out[i] = r
		}
		return out
	}
}
