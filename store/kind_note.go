package store

import (
	"encoding/json"
	"time"
)

// Notes: free text on a contact, merged both ways with PTD notes.

// Note is the kind's registry entry.
func (kindFiles) Note() ChildKind {
	return ChildKind{Name: KindNote, Order: 20, Since: 1,
		GHL: ChildSide{Collection: GHLNotes, New: func() ChildRecord { return new(GHLNote) }},
		PTD: ChildSide{Collection: PTDNotes, New: func() ChildRecord { return new(PTDNote) }}}
}

// GHLNote is a HighLevel note of a contact; keyed by (ContactID, ID). Notes have no dateUpdated.
type GHLNote struct {
	ID        string          `json:"id"`
	ContactID string          `json:"contactId"`
	Body      string          `json:"body,omitempty"`
	DateAdded time.Time       `json:"dateAdded"`
	Raw       json.RawMessage `json:"raw,omitempty"`
	FetchedAt time.Time       `json:"fetchedAt"`
}

// PTDNote is a PT Distinction note; keyed by (ClientID, ID).
type PTDNote struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Body      string          `json:"body,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Raw       json.RawMessage `json:"raw,omitempty"`
	FetchedAt time.Time       `json:"fetchedAt"`
}

// ChildID, ParentID and FetchedTime implement ChildRecord: the store keys the record by
// (ParentID, ChildID), and a refresh older than FetchedTime does not overwrite it.
func (r *GHLNote) ChildID() string        { return r.ID }
func (r *GHLNote) ParentID() string       { return r.ContactID }
func (r *GHLNote) FetchedTime() time.Time { return r.FetchedAt }
func (r *PTDNote) ChildID() string        { return r.ID }
func (r *PTDNote) ParentID() string       { return r.ClientID }
func (r *PTDNote) FetchedTime() time.Time { return r.FetchedAt }

func (r *GHLNote) collection() Collection { return GHLNotes }
func (r *GHLNote) primaryKey() string     { return childKey(r.ContactID, r.ID) }
func (r *GHLNote) updated() time.Time     { return time.Time{} }
func (r *GHLNote) quarantineKey() string  { return qkey(KindNote, SideGHL, r.ID) }
func (r *GHLNote) validate() error        { return checkChild("ghl note", r.ContactID, r.ID) }
func (r *GHLNote) entries() []entry       { return []entry{{"id", r.ID}} }

func (r *PTDNote) collection() Collection { return PTDNotes }
func (r *PTDNote) primaryKey() string     { return childKey(r.ClientID, r.ID) }
func (r *PTDNote) updated() time.Time     { return r.UpdatedAt }
func (r *PTDNote) quarantineKey() string  { return qkey(KindNote, SidePTD, r.ID) }
func (r *PTDNote) validate() error        { return checkChild("ptd note", r.ClientID, r.ID) }
func (r *PTDNote) entries() []entry       { return []entry{{"id", r.ID}} }

func (r *GHLNote) rawField() *json.RawMessage { return &r.Raw }
func (r *GHLNote) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.ContactID)
	e.str(r.Body)
	e.times(r.DateAdded, r.FetchedAt)
}
func (r *GHLNote) readHeader(d *dec) {
	r.ID, r.ContactID, r.Body = d.str(), d.str(), d.str()
	r.DateAdded, r.FetchedAt = d.time(), d.time()
}

func (r *PTDNote) rawField() *json.RawMessage { return &r.Raw }
func (r *PTDNote) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.ClientID)
	e.str(r.Body)
	e.times(r.CreatedAt, r.UpdatedAt, r.FetchedAt)
}
func (r *PTDNote) readHeader(d *dec) {
	r.ID, r.ClientID, r.Body = d.str(), d.str(), d.str()
	r.CreatedAt, r.UpdatedAt, r.FetchedAt = d.time(), d.time(), d.time()
}

var (
	_ binRecord = (*GHLNote)(nil)
	_ binRecord = (*PTDNote)(nil)
)

// Typed access to notes, the typed forms of the generic child methods (PutChild,
// ChildrenOf, ChildByID, DeleteChild) with the contract of api_records.go: a Put replaces the
// whole record and its index entries and is idempotent; Get, *ByID and Delete return
// ErrNotFound when the record is absent; *Of returns one parent's records in id order, and
// ForEach visits every record in (parent id, id) order, a fresh value each time unless the
// Tx came from ReuseValues.

// PutGHLNote stores n under its contact.
func (tx *Tx) PutGHLNote(n *GHLNote) error { return tx.putRecord(n) }

// GetGHLNote returns note id of contactID; ErrNotFound when absent.
func (tx *Tx) GetGHLNote(contactID, id string) (GHLNote, error) {
	var n GHLNote
	return n, tx.get(GHLNotes, childKey(contactID, id), &n)
}

// GHLNoteByID finds a HighLevel note by its id alone, whatever its contact (through the id
// index); ErrNotFound when none has it.
func (tx *Tx) GHLNoteByID(id string) (GHLNote, error) { return byID[GHLNote](tx, GHLNotes, id) }

// DeleteGHLNote removes one note and its index entries; missing is ErrNotFound.
func (tx *Tx) DeleteGHLNote(contactID, id string) error {
	return tx.deleteRecord(GHLNotes, childKey(contactID, id))
}

// GHLNotesOf returns the notes of a contact in id order (a prefix scan); none is an empty
// result, not an error.
func (tx *Tx) GHLNotesOf(contactID string) ([]GHLNote, error) {
	return all[GHLNote](tx, GHLNotes, func(f func([]byte) error) error { return tx.scanPrefix(GHLNotes, contactID+"\x00", f) })
}

// ForEachGHLNote calls fn for every note.
func (tx *Tx) ForEachGHLNote(fn func(*GHLNote) error) error {
	return tx.scanPrefix(GHLNotes, "", collect(tx, GHLNotes, fn))
}

// PutPTDNote stores n under its client.
func (tx *Tx) PutPTDNote(n *PTDNote) error { return tx.putRecord(n) }

// PTDNoteByID finds a PTD note by its id alone, whatever its client (through the id index);
// ErrNotFound when none has it.
func (tx *Tx) PTDNoteByID(id string) (PTDNote, error) { return byID[PTDNote](tx, PTDNotes, id) }

// DeletePTDNote removes one note and its index entries; missing is ErrNotFound.
func (tx *Tx) DeletePTDNote(clientID, id string) error {
	return tx.deleteRecord(PTDNotes, childKey(clientID, id))
}

// PTDNotesOf returns the notes of a client in id order (a prefix scan); none is an empty
// result, not an error.
func (tx *Tx) PTDNotesOf(clientID string) ([]PTDNote, error) {
	return all[PTDNote](tx, PTDNotes, func(f func([]byte) error) error { return tx.scanPrefix(PTDNotes, clientID+"\x00", f) })
}

// ForEachPTDNote calls fn for every PTD note.
func (tx *Tx) ForEachPTDNote(fn func(*PTDNote) error) error {
	return tx.scanPrefix(PTDNotes, "", collect(tx, PTDNotes, fn))
}
