package mapping

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
	if IsSetField(name) {
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

// GHLValues reads the mapped fields of a HighLevel contact, by mapping field name, with the
// contact's dateUpdated (the newest rule's clock). Values are as stored, not normalized:
// diff.Merge normalizes.
func (m *Mapping) GHLValues(c store.GHLContact) diff.Snapshot {
	o := decodeRaw(c.Raw)
	fillTyped(o, c.Email, c.Phone, c.FirstName, c.LastName, c.Tags)
	vals := diff.Values{}
	for _, s := range m.Specs {
		vals[s.Name] = o.get(m.Fields[s.Name].GHL)
	}
	return diff.Snapshot{Values: vals, UpdatedAt: c.DateUpdated}
}

// PTDValues reads the mapped fields of a PTD client, as GHLValues does for a contact.
func (m *Mapping) PTDValues(c store.PTDClient) diff.Snapshot {
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
	for _, s := range m.Specs {
		vals[s.Name] = o.get(m.Fields[s.Name].PTD)
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

// EncodeValue renders a value for the store's base and history: scalars as themselves, sets
// as a JSON array sorted without regard to case. DecodeValue reads it back.
func EncodeValue(v diff.Value) string {
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

// DecodeValue reads what EncodeValue wrote; set tells the kind. A set that is not a JSON
// array reads as the empty set.
func DecodeValue(s string, set bool) diff.Value {
	if !set {
		return diff.Scalar(s)
	}
	var items []string
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return diff.SetOf()
	}
	return diff.SetOf(items...)
}

// BaseSnapshot decodes a contact link's stored base for the mapping's specs (fields no spec
// names, left by a mapping change, are carried over as scalars); nil when none was agreed.
func (m *Mapping) BaseSnapshot(b *store.Base) *diff.Snapshot {
	if b == nil {
		return nil
	}
	snap := &diff.Snapshot{Values: diff.Values{}, UpdatedAt: b.AgreedAt}
	for _, s := range m.Specs {
		if v, ok := b.Fields[s.Name]; ok {
			snap.Values[s.Name] = DecodeValue(v, s.Set)
		}
	}
	for k, v := range b.Fields {
		if _, ok := snap.Values[k]; !ok {
			snap.Values[k] = diff.Scalar(v)
		}
	}
	return snap
}

// ChildBase decodes a child link's stored base (child fields are all scalars); nil when
// none was agreed.
func ChildBase(b *store.Base) *diff.Snapshot {
	if b == nil {
		return nil
	}
	s := &diff.Snapshot{Values: diff.Values{}, UpdatedAt: b.AgreedAt}
	for k, v := range b.Fields {
		s.Values[k] = diff.Scalar(v)
	}
	return s
}

// GHLRecord converts a wire contact into the mirror's record the way the ingest poller does
// (email and phone normalized, zone-less times read in the mapping's zone), fetched at now.
func (m *Mapping) GHLRecord(c ghlwire.Contact, now time.Time) store.GHLContact {
	loc := m.Options.Locale
	email, _ := diff.Email(c.Email)
	phone := ""
	if c.Phone != "" {
		phone, _ = diff.Phone(c.Phone, loc.Region)
	}
	r := store.GHLContact{ID: c.ID, Email: email, Phone: phone, FirstName: c.FirstName, LastName: c.LastName,
		Tags: diff.Tags(c.Tags), Raw: c.Raw, FetchedAt: now}
	r.DateAdded = ParseTime(c.DateAdded, loc.Location)
	r.DateUpdated = ParseTime(c.DateUpdated, loc.Location)
	if len(r.Raw) == 0 {
		r.Raw, _ = json.Marshal(c)
	}
	return r
}

// PTDRecord converts a wire client into the mirror's record, fetched at now.
func (m *Mapping) PTDRecord(c ptdwire.Client, now time.Time) store.PTDClient {
	email, _ := diff.Email(c.Email)
	phone := ""
	if c.Phone != "" {
		phone, _ = diff.Phone(c.Phone, m.Options.Locale.Region)
	}
	raw, _ := json.Marshal(c)
	return store.PTDClient{ID: c.ID, Email: email, Phone: phone, FirstName: c.FirstName, LastName: c.LastName,
		Tags: slices.Clone(c.Tags), Groups: slices.Clone(c.Groups), Packages: slices.Clone(c.Packages), Access: c.Access,
		ETag: c.ETag, CreatedAt: ParseTime(c.CreatedAt, time.UTC), UpdatedAt: ParseTime(c.UpdatedAt, time.UTC),
		Raw: raw, FetchedAt: now}
}

// ParseTime reads RFC 3339 or HighLevel's zone-less forms (in loc); unparseable input is the
// zero time. Sub-second precision is kept when the source has it.
func ParseTime(s string, loc *time.Location) time.Time {
	if s == "" {
		return time.Time{}
	}
	n, err := diff.Time(s, loc)
	if err != nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, n)
	if ms, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
		return ms.UTC()
	}
	return t
}

// PatchGHL applies written field values (by HighLevel wire name) to a mirrored contact and
// returns the updated record; the record's timestamps and children-fetch time are kept.
func (m *Mapping) PatchGHL(r store.GHLContact, vals map[string]diff.Value) store.GHLContact {
	o := decodeRaw(r.Raw)
	fillTyped(o, r.Email, r.Phone, r.FirstName, r.LastName, r.Tags)
	for k, v := range vals {
		o.set(k, v)
	}
	var c ghlwire.Contact
	_ = json.Unmarshal(o.encode(), &c)
	c.Raw = o.encode()
	out := m.GHLRecord(c, r.FetchedAt)
	out.DateAdded, out.DateUpdated, out.ChildrenFetchedAt = r.DateAdded, r.DateUpdated, r.ChildrenFetchedAt
	return out
}

// PatchPTD applies written values (by PTD wire name) to a mirrored client; its updatedAt is
// kept unless the values carry one.
func (m *Mapping) PatchPTD(r store.PTDClient, vals map[string]diff.Value) store.PTDClient {
	o := decodeRaw(r.Raw)
	for k, v := range vals {
		o.set(k, v)
	}
	var c ptdwire.Client
	_ = json.Unmarshal(o.encode(), &c)
	if c.ID == "" {
		c.ID = r.ID
	}
	out := m.PTDRecord(c, r.FetchedAt)
	if out.UpdatedAt.IsZero() {
		out.UpdatedAt = r.UpdatedAt
	}
	return out
}

// GHLInput builds a create or update body from values by HighLevel wire name: scalars, and
// tags on a create body (an update never sends tags: they move through their own endpoints,
// and the caller leaves them out). Other sets are left out.
func GHLInput(vals map[string]diff.Value) (ghlwire.ContactInput, error) {
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

// PTDInput builds a create or update body from scalar values by PTD wire name (access and the
// membership sets have their own endpoints and are left out).
func PTDInput(vals map[string]diff.Value) (ptdwire.ClientInput, error) {
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

// GHLContact decodes a mirrored contact's raw object (its typed fields fill gaps), for
// route conditions that read fields the record does not type.
func GHLContact(g store.GHLContact) ghlwire.Contact {
	var c ghlwire.Contact
	if len(g.Raw) > 0 {
		_ = json.Unmarshal(g.Raw, &c)
	}
	if c.ID == "" {
		c.ID = g.ID
	}
	if c.Email == "" {
		c.Email = g.Email
	}
	if c.FirstName == "" {
		c.FirstName = g.FirstName
	}
	if c.LastName == "" {
		c.LastName = g.LastName
	}
	if c.Tags == nil {
		c.Tags = g.Tags
	}
	return c
}

// BoolStr is a boolean as child fields hold it ("true", "false").
func BoolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TimeStr is a time as child fields hold it: RFC 3339 in UTC to the second, "" for zero.
func TimeStr(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
