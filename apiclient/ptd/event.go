package ptd

import "time"

// EventKind names what happened in PT Distinction. The values are stable: they appear in
// logs.
type EventKind string

// Event kinds a driver may deliver.
const (
	// EventClientAdded: a client was created in PTD.
	EventClientAdded EventKind = "client_added"
	// EventClientAddedToGroup: a client joined Event.Group.
	EventClientAddedToGroup EventKind = "client_added_to_group"
	// EventPackageSignUp: a client signed up to Event.Package.
	EventPackageSignUp EventKind = "package_sign_up"
)

// Event is one change PT Distinction pushed to ptsync, in a form no driver owns: the Zapier
// driver converts its triggers to it, and the replicator handles nothing else. A driver
// delivers only events it has validated.
type Event struct {
	Kind EventKind
	// ID identifies the delivery when the sender gives one; a repeat carries the same ID.
	ID string
	// Email is the client's key, normalized (NormalizeEmail), never empty.
	Email string
	// FirstName and LastName are empty when the sender did not say.
	FirstName, LastName string
	// Group is set for EventClientAddedToGroup, Package for EventPackageSignUp.
	Group, Package string
	// At is when it happened in PTD, in UTC; zero when the sender did not say. Senders retry
	// and deliver out of order, so a receiver compares At with what it holds.
	At time.Time
}
