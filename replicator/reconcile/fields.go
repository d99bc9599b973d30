package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/store"
)

// rawObj is a mirrored record's raw JSON object, read and patched field by field under the
// wire names the mapping uses (ghlwire.Contact and ptdwire.Client JSON names).
type rawObj map[string]json.RawMessage

func decodeRaw(raw json.RawMessage) rawObj {
	o := rawObj{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &o) // a record that is not an object reads as empty
	}
	return o
}

// get returns field name as a diff.Value: a set for list fields, a scalar otherwise. Numbers
// and booleans are rendered as their JSON text.
func (o rawObj) get(name string) diff.Value {
	raw, ok := o[name]
	if isSetField(name) {
		var items []string
		if ok {
			_ = json.Unmarshal(raw, &items)
		}
		return diff.SetOf(items...)
	}
	if !ok || string(raw) == "null" {
		return diff.Scalar("")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return diff.Scalar(s)
	}
	return diff.Scalar(string(raw))
}

func (o rawObj) set(name string, v diff.Value) {
	var b []byte
	if v.IsSet {
		items := v.Set
		if items == nil {
			items = []string{}
		}
		b, _ = json.Marshal(items)
	} else {
		b, _ = json.Marshal(v.S)
	}
	o[name] = b
}

func (o rawObj) encode() json.RawMessage {
	b, _ := json.Marshal(o)
	return b
}

// ghlValues reads the mapped fields of a HighLevel contact.
func (e *Engine) ghlValues(c store.GHLContact) diff.Snapshot {
	o := decodeRaw(c.Raw)
	fillTyped(o, c.Email, c.Phone, c.FirstName, c.LastName, c.Tags)
	vals := diff.Values{}
	for _, s := range e.specs {
		vals[s.Name] = o.get(e.fmap[s.Name].GHL)
	}
	return diff.Snapshot{Values: vals, UpdatedAt: c.DateUpdated}
}

// ptdValues reads the mapped fields of a PTD client.
func (e *Engine) ptdValues(c store.PTDClient) diff.Snapshot {
	o := decodeRaw(c.Raw)
	fillTyped(o, c.Email, c.Phone, c.FirstName, c.LastName, c.Tags)
	if _, ok := o["groups"]; !ok && c.Groups != nil {
		o.set("groups", diff.SetOf(c.Groups...))
	}
	if _, ok := o["packages"]; !ok && c.Packages != nil {
		o.set("packages", diff.SetOf(c.Packages...))
	}
	if _, ok := o["access"]; !ok && c.Access != "" {
		o.set("access", diff.Scalar(c.Access))
	}
	vals := diff.Values{}
	for _, s := range e.specs {
		vals[s.Name] = o.get(e.fmap[s.Name].PTD)
	}
	return diff.Snapshot{Values: vals, UpdatedAt: c.UpdatedAt}
}

// fillTyped supplies typed fields a record without raw JSON still has.
func fillTyped(o rawObj, email, phone, first, last string, tags []string) {
	for k, v := range map[string]string{"email": email, "phone": phone, "firstName": first, "lastName": last} {
		if _, ok := o[k]; !ok && v != "" {
			o.set(k, diff.Scalar(v))
		}
	}
	if _, ok := o["tags"]; !ok && tags != nil {
		o.set("tags", diff.SetOf(tags...))
	}
}

// ghlUpdateUnwritable are HighLevel fields PUT /contacts/{id} drops (the client removes them),
// so a write would never land and would repeat forever.
var ghlUpdateUnwritable = map[string]bool{"gender": true, "companyName": true}

// encodeValue renders a value for the store's base and history: scalars as themselves, sets
// as a sorted JSON array.
func encodeValue(v diff.Value) string {
	if !v.IsSet {
		return v.S
	}
	items := slices.Clone(v.Set)
	slices.SortFunc(items, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if items == nil {
		items = []string{}
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// decodeValue reads what encodeValue wrote; set tells the kind.
func decodeValue(s string, set bool) diff.Value {
	if !set {
		return diff.Scalar(s)
	}
	var items []string
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return diff.SetOf()
	}
	return diff.SetOf(items...)
}

// baseSnapshot decodes a stored base for the engine's specs; nil when none was agreed.
func (e *Engine) baseSnapshot(b *store.Base) *diff.Snapshot {
	if b == nil {
		return nil
	}
	snap := &diff.Snapshot{Values: diff.Values{}, UpdatedAt: b.AgreedAt}
	for _, s := range e.specs {
		if v, ok := b.Fields[s.Name]; ok {
			snap.Values[s.Name] = decodeValue(v, s.Set)
		}
	}
	for k, v := range b.Fields { // fields no spec names (a mapping change) are carried over
		if _, ok := snap.Values[k]; !ok {
			snap.Values[k] = diff.Scalar(v)
		}
	}
	return snap
}

// ghlRecord converts a wire contact into the mirror's record the way the ingest poller does.
func (e *Engine) ghlRecord(c ghlwire.Contact, now time.Time) store.GHLContact {
	email, _ := diff.Email(c.Email)
	phone := ""
	if c.Phone != "" {
		phone, _ = diff.Phone(c.Phone, e.dopts.Locale.Region)
	}
	r := store.GHLContact{ID: c.ID, Email: email, Phone: phone, FirstName: c.FirstName, LastName: c.LastName,
		Tags: diff.Tags(c.Tags), Raw: c.Raw, FetchedAt: now}
	r.DateAdded = parseTime(c.DateAdded, e.dopts.Locale.Location)
	r.DateUpdated = parseTime(c.DateUpdated, e.dopts.Locale.Location)
	if len(r.Raw) == 0 {
		r.Raw, _ = json.Marshal(c)
	}
	return r
}

// ptdRecord converts a wire client into the mirror's record.
func (e *Engine) ptdRecord(c ptdwire.Client, now time.Time) store.PTDClient {
	email, _ := diff.Email(c.Email)
	phone := ""
	if c.Phone != "" {
		phone, _ = diff.Phone(c.Phone, e.dopts.Locale.Region)
	}
	raw, _ := json.Marshal(c)
	return store.PTDClient{ID: c.ID, Email: email, Phone: phone, FirstName: c.FirstName, LastName: c.LastName,
		Tags: slices.Clone(c.Tags), Groups: slices.Clone(c.Groups), Packages: slices.Clone(c.Packages), Access: c.Access,
		ETag: c.ETag, CreatedAt: parseTime(c.CreatedAt, time.UTC), UpdatedAt: parseTime(c.UpdatedAt, time.UTC),
		Raw: raw, FetchedAt: now}
}

// parseTime reads RFC 3339 or HighLevel's zone-less forms; unparseable input is the zero time.
func parseTime(s string, loc *time.Location) time.Time {
	if s == "" {
		return time.Time{}
	}
	n, err := diff.Time(s, loc)
	if err != nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, n)
	if ms, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
		return ms.UTC() // keep sub-second precision when the source has it
	}
	return t
}

// patchGHL applies written field values (by HighLevel wire name) to a mirrored contact and
// returns the updated record; the record's timestamps are kept.
func (e *Engine) patchGHL(r store.GHLContact, vals map[string]diff.Value) store.GHLContact {
	o := decodeRaw(r.Raw)
	fillTyped(o, r.Email, r.Phone, r.FirstName, r.LastName, r.Tags)
	for k, v := range vals {
		o.set(k, v)
	}
	var c ghlwire.Contact
	_ = json.Unmarshal(o.encode(), &c)
	c.Raw = o.encode()
	out := e.ghlRecord(c, r.FetchedAt)
	out.DateAdded, out.DateUpdated, out.ChildrenFetchedAt = r.DateAdded, r.DateUpdated, r.ChildrenFetchedAt
	return out
}

// patchPTD applies written values (by PTD wire name) to a mirrored client.
func (e *Engine) patchPTD(r store.PTDClient, vals map[string]diff.Value) store.PTDClient {
	o := decodeRaw(r.Raw)
	for k, v := range vals {
		o.set(k, v)
	}
	var c ptdwire.Client
	_ = json.Unmarshal(o.encode(), &c)
	if c.ID == "" {
		c.ID = r.ID
	}
	out := e.ptdRecord(c, r.FetchedAt)
	if out.UpdatedAt.IsZero() {
		out.UpdatedAt = r.UpdatedAt
	}
	return out
}

// ghlInput builds a create or update body from scalar values by HighLevel wire name.
func ghlInput(vals map[string]diff.Value) (ghlwire.ContactInput, error) {
	m := map[string]any{}
	for k, v := range vals {
		if v.IsSet {
			if k == "tags" {
				m[k] = v.Set
			}
			continue
		}
		m[k] = v.S
	}
	var in ghlwire.ContactInput
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &in); err != nil {
		return in, fmt.Errorf("cannot build highlevel contact body: %w", err)
	}
	return in, nil
}

// ptdInput builds a create or update body from scalar values by PTD wire name (access and the
// membership sets have their own endpoints and are left out).
func ptdInput(vals map[string]diff.Value) (ptdwire.ClientInput, error) {
	m := map[string]any{}
	for k, v := range vals {
		if v.IsSet || k == "access" {
			continue
		}
		m[k] = v.S
	}
	var in ptdwire.ClientInput
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &in); err != nil {
		return in, fmt.Errorf("cannot build ptd client body: %w", err)
	}
	return in, nil
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func timeStr(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// childBase decodes a child link's base.
func childBase(b *store.Base) *diff.Snapshot {
	if b == nil {
		return nil
	}
	s := &diff.Snapshot{Values: diff.Values{}, UpdatedAt: b.AgreedAt}
	for k, v := range b.Fields {
		s.Values[k] = diff.Scalar(v)
	}
	return s
}
