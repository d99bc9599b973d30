package query

import (
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"ptsync/store"
)

// ftype is how a field is exposed to --where and printed.
type ftype int

const (
	fStr  ftype = iota // cty string
	fNum               // cty number
	fBool              // cty bool
	fTime              // cty number: unix seconds UTC, 0 when unset; printed as RFC 3339
	fList              // cty list of string
)

func (t ftype) cty() cty.Type {
	switch t {
	case fNum, fTime:
		return cty.Number
	case fBool:
		return cty.Bool
	case fList:
		return cty.List(cty.String)
	}
	return cty.String
}

func (t ftype) String() string {
	return [...]string{"string", "number", "bool", "time", "list(string)"}[t]
}

// env is what field getters may consult: the transaction (derived fields look up tasks and
// links) and the query's clock.
type env struct {
	tx  *store.Tx
	now time.Time
}

type field struct {
	name string
	typ  ftype
	get  func(e *env, rec any) (cty.Value, error)
}

// fld builds a field whose getter receives the record with its concrete type.
func fld[T any](name string, typ ftype, get func(e *env, r *T) (cty.Value, error)) field {
	return field{name, typ, func(e *env, rec any) (cty.Value, error) { return get(e, rec.(*T)) }}
}

// plain builds a field that needs neither env nor error.
func plain[T any](name string, typ ftype, get func(r *T) cty.Value) field {
	return fld(name, typ, func(_ *env, r *T) (cty.Value, error) { return get(r), nil })
}

func str(s string) cty.Value   { return cty.StringVal(s) }
func num(n int64) cty.Value    { return cty.NumberIntVal(n) }
func boolean(b bool) cty.Value { return cty.BoolVal(b) }
func tval(t time.Time) cty.Value {
	if t.IsZero() {
		return cty.NumberIntVal(0)
	}
	return cty.NumberIntVal(t.Unix())
}
func list(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

// source yields candidate records. idx is the chosen index flag ("" for a full scan).
type source func(e *env, idx string, arg indexArg, fn func(rec any) error) error

type indexArg struct {
	s string
	t time.Time
}

// kindDef describes one queryable kind.
type kindDef struct {
	name     string
	fields   []field
	defaults []string
	// flagField maps each supported index flag to the field it filters on.
	flagField map[string]string
	src       source
}

func (k *kindDef) field(name string) (field, bool) {
	for _, f := range k.fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func (k *kindDef) fieldNames() []string {
	out := make([]string, len(k.fields))
	for i, f := range k.fields {
		out[i] = f.name
	}
	return out
}

// Index flags, in the order the planner prefers them (most selective first).
const (
	FlagEmail        = "email"
	FlagPhone        = "phone"
	FlagTag          = "tag"
	FlagDueBefore    = "due-before"
	FlagUpdatedSince = "updated-since"
)

var flagOrder = []string{FlagEmail, FlagPhone, FlagTag, FlagDueBefore, FlagUpdatedSince}

func each[T any](fn func(rec any) error) func(*T) error {
	return func(r *T) error { return fn(r) }
}

func eachOf[T any](rs []T, err error, fn func(rec any) error) error {
	if err != nil {
		return err
	}
	for i := range rs {
		if err := fn(&rs[i]); err != nil {
			return err
		}
	}
	return nil
}

// openTasks counts a contact's open and overdue HighLevel tasks (a prefix scan).
func openTasks(e *env, contactID string) (open, overdue int64, err error) {
	ts, err := e.tx.GHLTasksOf(contactID)
	for _, t := range ts {
		if !t.Completed {
			open++
			if !t.DueDate.IsZero() && t.DueDate.Before(e.now) {
				overdue++
			}
		}
	}
	return open, overdue, err
}

func linkOf(e *env, side, kind, id string) (store.Link, bool, error) {
	var l store.Link
	var err error
	if side == store.SideGHL {
		l, err = e.tx.LinkByGHL(kind, id)
	} else {
		l, err = e.tx.LinkByPTD(kind, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return l, false, nil
	}
	return l, err == nil, err
}

func kinds() map[string]*kindDef {
	ks := []*kindDef{
		{
			name: "contacts",
			fields: []field{
				plain("id", fStr, func(r *store.GHLContact) cty.Value { return str(r.ID) }),
				plain("email", fStr, func(r *store.GHLContact) cty.Value { return str(r.Email) }),
				plain("phone", fStr, func(r *store.GHLContact) cty.Value { return str(r.Phone) }),
				plain("firstName", fStr, func(r *store.GHLContact) cty.Value { return str(r.FirstName) }),
				plain("lastName", fStr, func(r *store.GHLContact) cty.Value { return str(r.LastName) }),
				plain("tags", fList, func(r *store.GHLContact) cty.Value { return list(r.Tags) }),
				plain("dateAdded", fTime, func(r *store.GHLContact) cty.Value { return tval(r.DateAdded) }),
				plain("dateUpdated", fTime, func(r *store.GHLContact) cty.Value { return tval(r.DateUpdated) }),
				plain("fetchedAt", fTime, func(r *store.GHLContact) cty.Value { return tval(r.FetchedAt) }),
				plain("childrenFetchedAt", fTime, func(r *store.GHLContact) cty.Value { return tval(r.ChildrenFetchedAt) }),
				fld("openTasks", fNum, func(e *env, r *store.GHLContact) (cty.Value, error) {
					o, _, err := openTasks(e, r.ID)
					return num(o), err
				}),
				fld("overdueTasks", fNum, func(e *env, r *store.GHLContact) (cty.Value, error) {
					_, o, err := openTasks(e, r.ID)
					return num(o), err
				}),
				fld("linked", fBool, func(e *env, r *store.GHLContact) (cty.Value, error) {
					_, ok, err := linkOf(e, store.SideGHL, store.KindContact, r.ID)
					return boolean(ok), err
				}),
				fld("ptdId", fStr, func(e *env, r *store.GHLContact) (cty.Value, error) {
					l, _, err := linkOf(e, store.SideGHL, store.KindContact, r.ID)
					return str(l.PTDID), err
				}),
				fld("dirty", fBool, func(e *env, r *store.GHLContact) (cty.Value, error) {
					d, err := e.tx.IsDirty(r.ID)
					return boolean(d), err
				}),
			},
			defaults:  []string{"id", "email", "firstName", "lastName", "tags", "dateUpdated"},
			flagField: map[string]string{FlagEmail: "email", FlagPhone: "phone", FlagTag: "tags", FlagUpdatedSince: "dateUpdated"},
			src: func(e *env, idx string, a indexArg, fn func(any) error) error {
				switch idx {
				case FlagEmail:
					rs, err := e.tx.GHLContactsByEmail(a.s)
					return eachOf(rs, err, fn)
				case FlagPhone:
					rs, err := e.tx.GHLContactsByPhone(a.s)
					return eachOf(rs, err, fn)
				case FlagTag:
					return e.tx.GHLContactsByTag(a.s, each[store.GHLContact](fn))
				case FlagUpdatedSince:
					return e.tx.GHLContactsUpdatedSince(a.t, each[store.GHLContact](fn))
				}
				return e.tx.ForEachGHLContact(each[store.GHLContact](fn))
			},
		},
		{
			name: "tasks",
			fields: []field{
				plain("id", fStr, func(r *store.GHLTask) cty.Value { return str(r.ID) }),
				plain("contactId", fStr, func(r *store.GHLTask) cty.Value { return str(r.ContactID) }),
				plain("title", fStr, func(r *store.GHLTask) cty.Value { return str(r.Title) }),
				plain("body", fStr, func(r *store.GHLTask) cty.Value { return str(r.Body) }),
				plain("assignedTo", fStr, func(r *store.GHLTask) cty.Value { return str(r.AssignedTo) }),
				plain("dueDate", fTime, func(r *store.GHLTask) cty.Value { return tval(r.DueDate) }),
				plain("completed", fBool, func(r *store.GHLTask) cty.Value { return boolean(r.Completed) }),
				fld("overdue", fBool, func(e *env, r *store.GHLTask) (cty.Value, error) {
					return boolean(!r.Completed && !r.DueDate.IsZero() && r.DueDate.Before(e.now)), nil
				}),
				plain("fetchedAt", fTime, func(r *store.GHLTask) cty.Value { return tval(r.FetchedAt) }),
			},
			defaults:  []string{"id", "contactId", "title", "dueDate", "completed"},
			flagField: map[string]string{FlagDueBefore: "dueDate"},
			src: func(e *env, idx string, a indexArg, fn func(any) error) error {
				if idx == FlagDueBefore {
					return e.tx.GHLTasksDueBefore(a.t, each[store.GHLTask](fn))
				}
				return e.tx.ForEachGHLTask(each[store.GHLTask](fn))
			},
		},
		{
			name: "notes",
			fields: []field{
				plain("id", fStr, func(r *store.GHLNote) cty.Value { return str(r.ID) }),
				plain("contactId", fStr, func(r *store.GHLNote) cty.Value { return str(r.ContactID) }),
				plain("body", fStr, func(r *store.GHLNote) cty.Value { return str(r.Body) }),
				plain("dateAdded", fTime, func(r *store.GHLNote) cty.Value { return tval(r.DateAdded) }),
			},
			defaults: []string{"id", "contactId", "dateAdded", "body"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachGHLNote(each[store.GHLNote](fn))
			},
		},
		{
			name: "appointments",
			fields: []field{
				plain("id", fStr, func(r *store.GHLAppointment) cty.Value { return str(r.ID) }),
				plain("contactId", fStr, func(r *store.GHLAppointment) cty.Value { return str(r.ContactID) }),
				plain("title", fStr, func(r *store.GHLAppointment) cty.Value { return str(r.Title) }),
				plain("status", fStr, func(r *store.GHLAppointment) cty.Value { return str(r.Status) }),
				plain("startTime", fTime, func(r *store.GHLAppointment) cty.Value { return tval(r.StartTime) }),
				plain("endTime", fTime, func(r *store.GHLAppointment) cty.Value { return tval(r.EndTime) }),
				plain("dateUpdated", fTime, func(r *store.GHLAppointment) cty.Value { return tval(r.DateUpdated) }),
			},
			defaults: []string{"id", "contactId", "title", "status", "startTime"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachGHLAppointment(each[store.GHLAppointment](fn))
			},
		},
		{
			name: "ptd-clients",
			fields: []field{
				plain("id", fStr, func(r *store.PTDClient) cty.Value { return str(r.ID) }),
				plain("email", fStr, func(r *store.PTDClient) cty.Value { return str(r.Email) }),
				plain("phone", fStr, func(r *store.PTDClient) cty.Value { return str(r.Phone) }),
				plain("firstName", fStr, func(r *store.PTDClient) cty.Value { return str(r.FirstName) }),
				plain("lastName", fStr, func(r *store.PTDClient) cty.Value { return str(r.LastName) }),
				plain("tags", fList, func(r *store.PTDClient) cty.Value { return list(r.Tags) }),
				plain("groups", fList, func(r *store.PTDClient) cty.Value { return list(r.Groups) }),
				plain("packages", fList, func(r *store.PTDClient) cty.Value { return list(r.Packages) }),
				plain("access", fStr, func(r *store.PTDClient) cty.Value { return str(r.Access) }),
				plain("createdAt", fTime, func(r *store.PTDClient) cty.Value { return tval(r.CreatedAt) }),
				plain("updatedAt", fTime, func(r *store.PTDClient) cty.Value { return tval(r.UpdatedAt) }),
				fld("linked", fBool, func(e *env, r *store.PTDClient) (cty.Value, error) {
					_, ok, err := linkOf(e, store.SidePTD, store.KindContact, r.ID)
					return boolean(ok), err
				}),
				fld("ghlId", fStr, func(e *env, r *store.PTDClient) (cty.Value, error) {
					l, _, err := linkOf(e, store.SidePTD, store.KindContact, r.ID)
					return str(l.GHLID), err
				}),
			},
			defaults:  []string{"id", "email", "firstName", "lastName", "access", "updatedAt"},
			flagField: map[string]string{FlagEmail: "email", FlagPhone: "phone", FlagTag: "tags", FlagUpdatedSince: "updatedAt"},
			src: func(e *env, idx string, a indexArg, fn func(any) error) error {
				switch idx {
				case FlagEmail:
					rs, err := e.tx.PTDClientsByEmail(a.s)
					return eachOf(rs, err, fn)
				case FlagPhone:
					rs, err := e.tx.PTDClientsByPhone(a.s)
					return eachOf(rs, err, fn)
				case FlagTag:
					return e.tx.PTDClientsByTag(a.s, each[store.PTDClient](fn))
				case FlagUpdatedSince:
					return e.tx.PTDClientsUpdatedSince(a.t, each[store.PTDClient](fn))
				}
				return e.tx.ForEachPTDClient(each[store.PTDClient](fn))
			},
		},
		{
			name: "ptd-tasks",
			fields: []field{
				plain("id", fStr, func(r *store.PTDTask) cty.Value { return str(r.ID) }),
				plain("clientId", fStr, func(r *store.PTDTask) cty.Value { return str(r.ClientID) }),
				plain("title", fStr, func(r *store.PTDTask) cty.Value { return str(r.Title) }),
				plain("body", fStr, func(r *store.PTDTask) cty.Value { return str(r.Body) }),
				plain("dueAt", fTime, func(r *store.PTDTask) cty.Value { return tval(r.DueAt) }),
				plain("completed", fBool, func(r *store.PTDTask) cty.Value { return boolean(r.Completed) }),
				fld("overdue", fBool, func(e *env, r *store.PTDTask) (cty.Value, error) {
					return boolean(!r.Completed && !r.DueAt.IsZero() && r.DueAt.Before(e.now)), nil
				}),
				plain("updatedAt", fTime, func(r *store.PTDTask) cty.Value { return tval(r.UpdatedAt) }),
			},
			defaults:  []string{"id", "clientId", "title", "dueAt", "completed"},
			flagField: map[string]string{FlagDueBefore: "dueAt"},
			src: func(e *env, idx string, a indexArg, fn func(any) error) error {
				if idx == FlagDueBefore {
					return e.tx.PTDTasksDueBefore(a.t, each[store.PTDTask](fn))
				}
				return e.tx.ForEachPTDTask(each[store.PTDTask](fn))
			},
		},
		{
			name: "ptd-notes",
			fields: []field{
				plain("id", fStr, func(r *store.PTDNote) cty.Value { return str(r.ID) }),
				plain("clientId", fStr, func(r *store.PTDNote) cty.Value { return str(r.ClientID) }),
				plain("body", fStr, func(r *store.PTDNote) cty.Value { return str(r.Body) }),
				plain("createdAt", fTime, func(r *store.PTDNote) cty.Value { return tval(r.CreatedAt) }),
				plain("updatedAt", fTime, func(r *store.PTDNote) cty.Value { return tval(r.UpdatedAt) }),
			},
			defaults: []string{"id", "clientId", "createdAt", "body"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachPTDNote(each[store.PTDNote](fn))
			},
		},
		{
			name: "ptd-appointments",
			fields: []field{
				plain("id", fStr, func(r *store.PTDAppointment) cty.Value { return str(r.ID) }),
				plain("clientId", fStr, func(r *store.PTDAppointment) cty.Value { return str(r.ClientID) }),
				plain("externalId", fStr, func(r *store.PTDAppointment) cty.Value { return str(r.ExternalID) }),
				plain("title", fStr, func(r *store.PTDAppointment) cty.Value { return str(r.Title) }),
				plain("startAt", fTime, func(r *store.PTDAppointment) cty.Value { return tval(r.StartAt) }),
				plain("endAt", fTime, func(r *store.PTDAppointment) cty.Value { return tval(r.EndAt) }),
				plain("status", fStr, func(r *store.PTDAppointment) cty.Value { return str(r.Status) }),
			},
			defaults: []string{"id", "clientId", "externalId", "title", "startAt"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachPTDAppointment(each[store.PTDAppointment](fn))
			},
		},
		{
			name: "links",
			fields: []field{
				plain("id", fStr, func(r *store.Link) cty.Value { return str(r.ID) }),
				plain("kind", fStr, func(r *store.Link) cty.Value { return str(r.Kind) }),
				plain("ghlId", fStr, func(r *store.Link) cty.Value { return str(r.GHLID) }),
				plain("ptdId", fStr, func(r *store.Link) cty.Value { return str(r.PTDID) }),
				plain("parentLinkId", fStr, func(r *store.Link) cty.Value { return str(r.ParentLinkID) }),
				plain("matchedBy", fStr, func(r *store.Link) cty.Value { return str(r.MatchedBy) }),
				plain("createdAt", fTime, func(r *store.Link) cty.Value { return tval(r.CreatedAt) }),
			},
			defaults: []string{"id", "kind", "ghlId", "ptdId", "matchedBy", "createdAt"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachLink(each[store.Link](fn))
			},
		},
		{
			name: "outbox",
			fields: []field{
				plain("seq", fNum, func(r *store.OutboxEntry) cty.Value { return cty.NumberUIntVal(r.Seq) }),
				plain("target", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.Target) }),
				plain("op", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.Op) }),
				plain("linkId", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.LinkID) }),
				plain("recordKind", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.RecordKind) }),
				plain("recordId", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.RecordID) }),
				plain("payload", fStr, func(r *store.OutboxEntry) cty.Value { return str(compactJSON(r.Payload)) }),
				plain("idempotencyKey", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.IdempotencyKey) }),
				plain("attempts", fNum, func(r *store.OutboxEntry) cty.Value { return num(int64(r.Attempts)) }),
				plain("nextAttemptAt", fTime, func(r *store.OutboxEntry) cty.Value { return tval(r.NextAttemptAt) }),
				plain("lastError", fStr, func(r *store.OutboxEntry) cty.Value { return str(r.LastError) }),
				plain("createdAt", fTime, func(r *store.OutboxEntry) cty.Value { return tval(r.CreatedAt) }),
				plain("dead", fBool, func(r *store.OutboxEntry) cty.Value { return boolean(r.Dead) }),
			},
			defaults: []string{"seq", "target", "op", "recordKind", "recordId", "attempts", "dead", "lastError"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachOutbox(each[store.OutboxEntry](fn))
			},
		},
		{
			name: "conflicts",
			fields: []field{
				plain("linkId", fStr, func(r *store.Conflict) cty.Value { return str(r.LinkID) }),
				plain("field", fStr, func(r *store.Conflict) cty.Value { return str(r.Field) }),
				plain("base", fStr, func(r *store.Conflict) cty.Value { return str(r.Base) }),
				plain("ghl", fStr, func(r *store.Conflict) cty.Value { return str(r.GHL) }),
				plain("ptd", fStr, func(r *store.Conflict) cty.Value { return str(r.PTD) }),
				plain("detectedAt", fTime, func(r *store.Conflict) cty.Value { return tval(r.DetectedAt) }),
				plain("resolved", fBool, func(r *store.Conflict) cty.Value { return boolean(r.Resolved) }),
				plain("resolution", fStr, func(r *store.Conflict) cty.Value { return str(r.Resolution) }),
				plain("resolvedAt", fTime, func(r *store.Conflict) cty.Value { return tval(r.ResolvedAt) }),
			},
			defaults: []string{"linkId", "field", "base", "ghl", "ptd", "detectedAt", "resolved"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				cs, err := e.tx.Conflicts("", true)
				return eachOf(cs, err, fn)
			},
		},
		{
			name: "history",
			fields: []field{
				plain("seq", fNum, func(r *store.HistoryEntry) cty.Value { return cty.NumberUIntVal(r.Seq) }),
				plain("at", fTime, func(r *store.HistoryEntry) cty.Value { return tval(r.At) }),
				plain("linkId", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.LinkID) }),
				plain("recordKind", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.RecordKind) }),
				plain("recordId", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.RecordID) }),
				plain("field", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.Field) }),
				plain("old", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.Old) }),
				plain("new", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.New) }),
				plain("direction", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.Direction) }),
				plain("rule", fStr, func(r *store.HistoryEntry) cty.Value { return str(r.Rule) }),
				plain("cycle", fNum, func(r *store.HistoryEntry) cty.Value { return cty.NumberUIntVal(r.Cycle) }),
			},
			defaults: []string{"seq", "at", "linkId", "field", "old", "new", "direction", "rule"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				return e.tx.ForEachHistory(each[store.HistoryEntry](fn))
			},
		},
		{
			name: "quarantine",
			fields: []field{
				plain("kind", fStr, func(r *store.QuarantineEntry) cty.Value { return str(r.Kind) }),
				plain("side", fStr, func(r *store.QuarantineEntry) cty.Value { return str(r.Side) }),
				plain("id", fStr, func(r *store.QuarantineEntry) cty.Value { return str(r.ID) }),
				plain("detectedAt", fTime, func(r *store.QuarantineEntry) cty.Value { return tval(r.DetectedAt) }),
				plain("lastSeenAt", fTime, func(r *store.QuarantineEntry) cty.Value { return tval(r.LastSeenAt) }),
				plain("confirmations", fNum, func(r *store.QuarantineEntry) cty.Value { return num(int64(r.Confirmations)) }),
			},
			defaults: []string{"kind", "side", "id", "detectedAt", "confirmations"},
			src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
				qs, err := e.tx.Quarantined()
				return eachOf(qs, err, fn)
			},
		},
	}
	out := make(map[string]*kindDef, len(ks))
	for _, k := range ks {
		out[k.name] = k
	}
	return out
}

// Kinds lists the queryable kinds in a stable order.
func Kinds() []string {
	return []string{"contacts", "tasks", "notes", "appointments", "ptd-clients", "ptd-tasks", "ptd-notes",
		"ptd-appointments", "links", "outbox", "conflicts", "history", "quarantine"}
}

// Fields lists the fields of kind (for help text and error messages); nil for an unknown kind.
func Fields(kind string) []string {
	if k, ok := kinds()[kind]; ok {
		return k.fieldNames()
	}
	return nil
}

func compactJSON(b json.RawMessage) string {
	return strings.TrimSpace(string(b))
}

// export turns a cty value of type t into a plain Go value for JSON/CSV/table output.
func export(t ftype, v cty.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch t {
	case fStr:
		return v.AsString()
	case fBool:
		return v.True()
	case fTime:
		bf := v.AsBigFloat()
		sec, _ := bf.Int64()
		if sec == 0 {
			return ""
		}
		return time.Unix(sec, 0).UTC().Format(time.RFC3339)
	case fNum:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			i, acc := bf.Int64()
			if acc == big.Exact {
				return i
			}
		}
		f, _ := bf.Float64()
		return f
	case fList:
		out := []string{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, e.AsString())
		}
		return out
	}
	return nil
}
