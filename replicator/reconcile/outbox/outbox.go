// Package outbox is the contract between the planner, which writes entries to the store's
// outbox, and the pusher, which applies them: the ops, the JSON payload every entry carries,
// and the words of a link that a push reads and rewrites. Entries outlive the process that
// wrote them (a crash, an upgrade), so ops, payload field names and the words are part of the
// mirror's file format: add, never rename.
package outbox

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/store"
)

// The ops of contacts, reminders and deletes (the child kinds declare their own). The target
// is in store.OutboxEntry.Target; RecordKind/RecordID name the link (store.Kind* and the link
// id) so entries of one link are pushed in order.
const (
	OpClientCreate  = "client.create"  // ptd: create a client (look up first on a retry)
	OpClientUpdate  = "client.update"  // ptd: fields, access, tag/group/package deltas
	OpClientRoute   = "client.route"   // ptd: group / package / access of a routed new client
	OpContactCreate = "contact.create" // ghl: create a contact (look up first on a retry)
	OpContactUpdate = "contact.update" // ghl: PUT fields, POST/DELETE tag deltas
	OpReminder      = "reminder.send"  // ptd
	OpDeletePolicy  = "delete.policy"  // the surviving side of a deleted contact
	OpDeleteUndo    = "delete.undo"    // reverse an applied policy: the deleted contact came back
)

// UndoPrefix starts the Rule of a delete.undo entry and its history line
// ("undo-delete-print_only").
const UndoPrefix = "undo-"

// Link.MatchedBy values: how a contact link was made. The planner writes them; a push reads
// them (a route applies only to a client it created) and rewrites MatchedByCreate to
// MatchedByEmail when the create found the record already there (looked up by email).
const (
	MatchedByEmail  = "email"
	MatchedByPhone  = "phone"
	MatchedByCreate = "created"
)

// FieldWrite is one field of a payload, keyed in Payload.Fields by mapping field name.
type FieldWrite struct {
	Wire   string     `json:"wire"` // the target side's field name
	Value  diff.Value `json:"value"`
	Add    []string   `json:"add,omitempty"`    // set fields: members to add
	Remove []string   `json:"remove,omitempty"` // set fields: members to remove
	// Base, when set, becomes the link's base for this field once the write succeeded.
	Base *string `json:"base,omitempty"`
}

// Then is w followed by later, a write of the same field pushed after it, as one write:
// later's value wins, and set deltas combine (a member later removes is no longer added, one
// it adds is no longer removed), compared without regard to case.
func (w FieldWrite) Then(later FieldWrite) FieldWrite {
	if later.Value.IsSet {
		later.Add = union(minus(w.Add, later.Remove), later.Add)
		later.Remove = union(minus(w.Remove, later.Add), later.Remove)
	}
	return later
}

// Delta is the set write that takes a side holding from to holding to: the members to add
// and to remove, compared without regard to case.
func Delta(from, to []string) (add, remove []string) { return minus(to, from), minus(from, to) }

// union is a with the members of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// minus is a without the members of b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// Payload is the JSON body of every outbox entry the reconcile stages write. Which parts are
// set depends on the op.
type Payload struct {
	Fields      map[string]FieldWrite `json:"fields,omitempty"`
	Route       *Route                `json:"route,omitempty"`
	Reminder    *ptdwire.Reminder     `json:"reminder,omitempty"`
	Appointment *ptdwire.Appointment  `json:"appointment,omitempty"`
	Policy      string                `json:"policy,omitempty"`
	Tag         string                `json:"tag,omitempty"`
	// Deleted names the side whose record was deleted (delete.policy, delete.undo, and a
	// child kind's delete).
	Deleted string `json:"deleted,omitempty"`
	// Rule is the deciding rule of a delete policy ("delete-print_only"); Access is the
	// access a delete.undo restores.
	Rule   string `json:"rule,omitempty"`
	Access string `json:"access,omitempty"`
	// PTDETag is the ETag of the PTD client the merge read: a client update is conditional on
	// it (If-Match), so a coach's edit made after the plan answers 412 and is re-planned
	// instead of being overwritten. Empty in entries written before it existed.
	PTDETag string `json:"ptdEtag,omitempty"`
	// GHLUpdated is the dateUpdated of the HighLevel contact the merge read. HighLevel has no
	// conditional update, so a scalar update re-reads the contact first and is re-planned if
	// it changed since: a user's newer edit is not overwritten (a race of one GET remains).
	GHLUpdated time.Time `json:"ghlUpdated,omitzero"`
}

// Route is what a client.route entry assigns to a routed new client (route Name).
type Route struct {
	Name    string `json:"name"`
	Group   string `json:"group,omitempty"`
	Package string `json:"package,omitempty"`
	Access  string `json:"access,omitempty"`
}

// Entry is an outbox entry for target with op, record kind and payload; the caller sets
// LinkID and RecordID (the planner's commit does, once link ids exist).
func Entry(target, op, kind string, pl Payload) store.OutboxEntry {
	b, _ := json.Marshal(pl) // a Payload always marshals
	return store.OutboxEntry{Target: target, Op: op, RecordKind: kind, Payload: b}
}

// Summarize names the fields of a payload and renders a short line without contact values
// (tags, being labels, are shown as deltas), for ptsync plan.
func Summarize(pl Payload) ([]string, string) {
	var fields, parts []string
	for f := range pl.Fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		w := pl.Fields[f]
		if w.Value.IsSet {
			var d []string
			for _, a := range w.Add {
				d = append(d, "+"+a)
			}
			for _, r := range w.Remove {
				d = append(d, "-"+r)
			}
			parts = append(parts, f+" "+strings.Join(d, " "))
			continue
		}
		parts = append(parts, f)
	}
	switch {
	case pl.Route != nil:
		parts = append(parts, "route "+pl.Route.Name)
	case pl.Reminder != nil:
		parts = append(parts, "reminder due "+pl.Reminder.DueAt)
	case pl.Appointment != nil:
		parts = append(parts, "appointment "+pl.Appointment.ExternalID)
	case pl.Policy != "" && pl.Rule != "" && strings.HasPrefix(pl.Rule, UndoPrefix):
		parts = append(parts, "undo delete policy "+pl.Policy+" ("+pl.Deleted+" record came back)")
	case pl.Policy != "":
		parts = append(parts, "delete policy "+pl.Policy+" ("+pl.Deleted+" record deleted)")
	}
	return fields, strings.Join(parts, ", ")
}
