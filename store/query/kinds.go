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
	// open holds the current record's task counts once computed: openTasks and
	// overdueTasks share one prefix scan per contact. Run clears counted per record.
	open    [2]int64
	counted bool
	// tasks reads contacts' tasks with one forward-moving cursor (made on first use): a
	// scan asks for them in contact id order.
	tasks *store.GHLTaskReader
}

// field is one queryable field. get gives its cty value (HCL evaluation, output); the
// native getters, when set, give the same value without cty for the compiled --where path
// (num for fNum and fTime: Unix seconds, 0 when unset). Strings are NFC-normalized by the
// compiled path, as cty.StringVal does.
type field struct {
	name string
	typ  ftype
	get  func(e *env, rec any) (cty.Value, error)
	str  func(e *env, rec any) (string, error)
	num  func(e *env, rec any) (int64, error)
	bl   func(e *env, rec any) (bool, error)
	lst  func(e *env, rec any) ([]string, error)
}

// fld builds a field whose getter receives the record with its concrete type.
func fld[T any](name string, typ ftype, get func(e *env, r *T) (cty.Value, error)) field {
	return field{name: name, typ: typ, get: func(e *env, rec any) (cty.Value, error) { return get(e, rec.(*T)) }}
}

// plain builds a field that needs neither env nor error.
func plain[T any](name string, typ ftype, get func(r *T) cty.Value) field {
	return fld(name, typ, func(_ *env, r *T) (cty.Value, error) { return get(r), nil })
}

func pstr[T any](name string, get func(r *T) string) field {
	f := plain(name, fStr, func(r *T) cty.Value { return str(get(r)) })
	f.str = func(_ *env, rec any) (string, error) { return get(rec.(*T)), nil }
	return f
}

func ptime[T any](name string, get func(r *T) time.Time) field {
	f := plain(name, fTime, func(r *T) cty.Value { return tval(get(r)) })
	f.num = func(_ *env, rec any) (int64, error) { return tsec(get(rec.(*T))), nil }
	return f
}

func pnum[T any](name string, get func(r *T) int64) field {
	f := plain(name, fNum, func(r *T) cty.Value { return num(get(r)) })
	f.num = func(_ *env, rec any) (int64, error) { return get(rec.(*T)), nil }
	return f
}

func pbool[T any](name string, get func(r *T) bool) field {
	return dbool(name, func(_ *env, r *T) (bool, error) { return get(r), nil })
}

func plist[T any](name string, get func(r *T) []string) field {
	f := plain(name, fList, func(r *T) cty.Value { return list(get(r)) })
	f.lst = func(_ *env, rec any) ([]string, error) { return get(rec.(*T)), nil }
	return f
}

// dnum and dbool build derived fields (they consult the transaction or the clock).
func dnum[T any](name string, get func(e *env, r *T) (int64, error)) field {
	f := fld(name, fNum, func(e *env, r *T) (cty.Value, error) { n, err := get(e, r); return num(n), err })
	f.num = func(e *env, rec any) (int64, error) { return get(e, rec.(*T)) }
	return f
}

func dbool[T any](name string, get func(e *env, r *T) (bool, error)) field {
	f := fld(name, fBool, func(e *env, r *T) (cty.Value, error) { b, err := get(e, r); return boolean(b), err })
	f.bl = func(e *env, rec any) (bool, error) { return get(e, rec.(*T)) }
	return f
}

func dstr[T any](name string, get func(e *env, r *T) (string, error)) field {
	f := fld(name, fStr, func(e *env, r *T) (cty.Value, error) { s, err := get(e, r); return str(s), err })
	f.str = func(e *env, rec any) (string, error) { return get(e, rec.(*T)) }
	return f
}

func tsec(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
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
	// coll is the collection whose indexes answer the flags ("" if none can be incomplete).
	coll store.Collection
	src  source
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

func ptdClientsDef() *kindDef {
	return &kindDef{
		name: "ptd-clients",
		fields: []field{
			pstr("id", func(r *store.PTDClient) string { return r.ID }),
			pstr("email", func(r *store.PTDClient) string { return r.Email }),
			pstr("phone", func(r *store.PTDClient) string { return r.Phone }),
			pstr("firstName", func(r *store.PTDClient) string { return r.FirstName }),
			pstr("lastName", func(r *store.PTDClient) string { return r.LastName }),
			plist("tags", func(r *store.PTDClient) []string { return r.Tags }),
			plist("groups", func(r *store.PTDClient) []string { return r.Groups }),
			plist("packages", func(r *store.PTDClient) []string { return r.Packages }),
			pstr("access", func(r *store.PTDClient) string { return r.Access }),
			ptime("createdAt", func(r *store.PTDClient) time.Time { return r.CreatedAt }),
			ptime("updatedAt", func(r *store.PTDClient) time.Time { return r.UpdatedAt }),
			dbool("linked", func(e *env, r *store.PTDClient) (bool, error) {
				_, ok, err := linkOf(e, store.SidePTD, store.KindContact, r.ID)
				return ok, err
			}),
			dstr("ghlId", func(e *env, r *store.PTDClient) (string, error) {
				l, _, err := linkOf(e, store.SidePTD, store.KindContact, r.ID)
				return l.GHLID, err
			}),
		},
		defaults:  []string{"id", "email", "firstName", "lastName", "access", "updatedAt"},
		flagField: map[string]string{FlagEmail: "email", FlagPhone: "phone", FlagTag: "tags", FlagUpdatedSince: "updatedAt"},
		coll:      store.PTDClients,
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
	}
}

// openTasks counts a contact's open and overdue HighLevel tasks (a prefix scan, done once
// per record however many fields use it).
func openTasks(e *env, contactID string) (open, overdue int64, err error) {
	if e.counted {
		return e.open[0], e.open[1], nil
	}
	if e.tasks == nil {
		var err error
		if e.tasks, err = e.tx.NewGHLTaskReader(); err != nil {
			return 0, 0, err
		}
	}
	ts, err := e.tasks.TasksOf(contactID)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range ts {
		if !t.Completed {
			open++
			if !t.DueDate.IsZero() && t.DueDate.Before(e.now) {
				overdue++
			}
		}
	}
	e.open, e.counted = [2]int64{open, overdue}, true
	return open, overdue, nil
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

// kindDefs lists the queryable kinds: contacts, the HighLevel child kinds, PTD clients, the
// PTD child kinds, then links, outbox, conflicts, history and quarantine.
func kindDefs(children []ChildKind) []*kindDef {
	ks := []*kindDef{contactsDef()}
	for _, k := range children {
		if k.GHL.Kind != "" {
			ks = append(ks, k.GHL.def(k.Name, store.SideGHL))
		}
	}
	ks = append(ks, ptdClientsDef())
	for _, k := range children {
		if k.PTD.Kind != "" {
			ks = append(ks, k.PTD.def(k.Name, store.SidePTD))
		}
	}
	return append(ks, linksDef(), outboxDef(), conflictsDef(), historyDef(), quarantineDef())
}

// contactsDef: the HighLevel contacts, with the derived fields (open and overdue tasks, link,
// dirty) read in the query's transaction, and the indexes --email, --phone, --tag and
// --updated-since answer from.
func contactsDef() *kindDef {
	return &kindDef{
		name: "contacts",
		fields: []field{
			pstr("id", func(r *store.GHLContact) string { return r.ID }),
			pstr("email", func(r *store.GHLContact) string { return r.Email }),
			pstr("phone", func(r *store.GHLContact) string { return r.Phone }),
			pstr("firstName", func(r *store.GHLContact) string { return r.FirstName }),
			pstr("lastName", func(r *store.GHLContact) string { return r.LastName }),
			plist("tags", func(r *store.GHLContact) []string { return r.Tags }),
			ptime("dateAdded", func(r *store.GHLContact) time.Time { return r.DateAdded }),
			ptime("dateUpdated", func(r *store.GHLContact) time.Time { return r.DateUpdated }),
			ptime("fetchedAt", func(r *store.GHLContact) time.Time { return r.FetchedAt }),
			ptime("childrenFetchedAt", func(r *store.GHLContact) time.Time { return r.ChildrenFetchedAt }),
			dnum("openTasks", func(e *env, r *store.GHLContact) (int64, error) {
				o, _, err := openTasks(e, r.ID)
				return o, err
			}),
			dnum("overdueTasks", func(e *env, r *store.GHLContact) (int64, error) {
				_, o, err := openTasks(e, r.ID)
				return o, err
			}),
			dbool("linked", func(e *env, r *store.GHLContact) (bool, error) {
				_, ok, err := linkOf(e, store.SideGHL, store.KindContact, r.ID)
				return ok, err
			}),
			dstr("ptdId", func(e *env, r *store.GHLContact) (string, error) {
				l, _, err := linkOf(e, store.SideGHL, store.KindContact, r.ID)
				return l.PTDID, err
			}),
			dbool("dirty", func(e *env, r *store.GHLContact) (bool, error) { return e.tx.IsDirty(r.ID) }),
		},
		defaults:  []string{"id", "email", "firstName", "lastName", "tags", "dateUpdated"},
		flagField: map[string]string{FlagEmail: "email", FlagPhone: "phone", FlagTag: "tags", FlagUpdatedSince: "dateUpdated"},
		coll:      store.GHLContacts,
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
	}
}

// linksDef: the links between HighLevel and PTD records, every kind, from the links bucket.
func linksDef() *kindDef {
	return &kindDef{
		name: "links",
		fields: []field{
			pstr("id", func(r *store.Link) string { return r.ID }),
			pstr("kind", func(r *store.Link) string { return r.Kind }),
			pstr("ghlId", func(r *store.Link) string { return r.GHLID }),
			pstr("ptdId", func(r *store.Link) string { return r.PTDID }),
			pstr("parentLinkId", func(r *store.Link) string { return r.ParentLinkID }),
			pstr("matchedBy", func(r *store.Link) string { return r.MatchedBy }),
			ptime("createdAt", func(r *store.Link) time.Time { return r.CreatedAt }),
		},
		defaults: []string{"id", "kind", "ghlId", "ptdId", "matchedBy", "createdAt"},
		src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
			return e.tx.ForEachLink(each[store.Link](fn))
		},
	}
}

// outboxDef: the pending and dead outbox entries, in sequence order.
func outboxDef() *kindDef {
	return &kindDef{
		name: "outbox",
		fields: []field{
			plain("seq", fNum, func(r *store.OutboxEntry) cty.Value { return cty.NumberUIntVal(r.Seq) }),
			pstr("target", func(r *store.OutboxEntry) string { return r.Target }),
			pstr("op", func(r *store.OutboxEntry) string { return r.Op }),
			pstr("linkId", func(r *store.OutboxEntry) string { return r.LinkID }),
			pstr("recordKind", func(r *store.OutboxEntry) string { return r.RecordKind }),
			pstr("recordId", func(r *store.OutboxEntry) string { return r.RecordID }),
			pstr("payload", func(r *store.OutboxEntry) string { return compactJSON(r.Payload) }),
			pstr("idempotencyKey", func(r *store.OutboxEntry) string { return r.IdempotencyKey }),
			pnum("attempts", func(r *store.OutboxEntry) int64 { return int64(r.Attempts) }),
			ptime("nextAttemptAt", func(r *store.OutboxEntry) time.Time { return r.NextAttemptAt }),
			pstr("lastError", func(r *store.OutboxEntry) string { return r.LastError }),
			ptime("createdAt", func(r *store.OutboxEntry) time.Time { return r.CreatedAt }),
			pbool("dead", func(r *store.OutboxEntry) bool { return r.Dead }),
		},
		defaults: []string{"seq", "target", "op", "recordKind", "recordId", "attempts", "dead", "lastError"},
		src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
			return e.tx.ForEachOutbox(each[store.OutboxEntry](fn))
		},
	}
}

// conflictsDef: every field conflict, resolved ones included.
func conflictsDef() *kindDef {
	return &kindDef{
		name: "conflicts",
		fields: []field{
			pstr("linkId", func(r *store.Conflict) string { return r.LinkID }),
			pstr("field", func(r *store.Conflict) string { return r.Field }),
			pstr("base", func(r *store.Conflict) string { return r.Base }),
			pstr("ghl", func(r *store.Conflict) string { return r.GHL }),
			pstr("ptd", func(r *store.Conflict) string { return r.PTD }),
			ptime("detectedAt", func(r *store.Conflict) time.Time { return r.DetectedAt }),
			pbool("resolved", func(r *store.Conflict) bool { return r.Resolved }),
			pstr("resolution", func(r *store.Conflict) string { return r.Resolution }),
			ptime("resolvedAt", func(r *store.Conflict) time.Time { return r.ResolvedAt }),
		},
		defaults: []string{"linkId", "field", "base", "ghl", "ptd", "detectedAt", "resolved"},
		src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
			cs, err := e.tx.Conflicts("", true)
			return eachOf(cs, err, fn)
		},
	}
}

// historyDef: the field-change history, in sequence order.
func historyDef() *kindDef {
	return &kindDef{
		name: "history",
		fields: []field{
			plain("seq", fNum, func(r *store.HistoryEntry) cty.Value { return cty.NumberUIntVal(r.Seq) }),
			ptime("at", func(r *store.HistoryEntry) time.Time { return r.At }),
			pstr("linkId", func(r *store.HistoryEntry) string { return r.LinkID }),
			pstr("recordKind", func(r *store.HistoryEntry) string { return r.RecordKind }),
			pstr("recordId", func(r *store.HistoryEntry) string { return r.RecordID }),
			pstr("field", func(r *store.HistoryEntry) string { return r.Field }),
			pstr("old", func(r *store.HistoryEntry) string { return r.Old }),
			pstr("new", func(r *store.HistoryEntry) string { return r.New }),
			pstr("direction", func(r *store.HistoryEntry) string { return r.Direction }),
			pstr("rule", func(r *store.HistoryEntry) string { return r.Rule }),
			plain("cycle", fNum, func(r *store.HistoryEntry) cty.Value { return cty.NumberUIntVal(r.Cycle) }),
		},
		defaults: []string{"seq", "at", "linkId", "field", "old", "new", "direction", "rule"},
		src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
			return e.tx.ForEachHistory(each[store.HistoryEntry](fn))
		},
	}
}

// quarantineDef: the deletions held in quarantine.
func quarantineDef() *kindDef {
	return &kindDef{
		name: "quarantine",
		fields: []field{
			pstr("kind", func(r *store.QuarantineEntry) string { return r.Kind }),
			pstr("side", func(r *store.QuarantineEntry) string { return r.Side }),
			pstr("id", func(r *store.QuarantineEntry) string { return r.ID }),
			ptime("detectedAt", func(r *store.QuarantineEntry) time.Time { return r.DetectedAt }),
			ptime("lastSeenAt", func(r *store.QuarantineEntry) time.Time { return r.LastSeenAt }),
			pnum("confirmations", func(r *store.QuarantineEntry) int64 { return int64(r.Confirmations) }),
		},
		defaults: []string{"kind", "side", "id", "detectedAt", "confirmations"},
		src: func(e *env, _ string, _ indexArg, fn func(any) error) error {
			qs, err := e.tx.Quarantined()
			return eachOf(qs, err, fn)
		},
	}
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
