package store

import (
	"encoding/json"
	"time"
)

// Appointments: read-only on the HighLevel side and surfaced in PTD (as appointments, or as
// notes when the driver lacks them). HighLevel's are indexed by start time; PTD's by the
// HighLevel id they mirror ("external").

// Appointment is the kind's registry entry.
func (kindFiles) Appointment() ChildKind {
	return ChildKind{Name: KindAppointment, Order: 30, Since: 1,
		GHL: ChildSide{Collection: GHLAppointments, Indexes: []string{"start"}, New: func() ChildRecord { return new(GHLAppointment) }},
		PTD: ChildSide{Collection: PTDAppointments, Indexes: []string{"external"}, New: func() ChildRecord { return new(PTDAppointment) }}}
}

// GHLAppointment is a HighLevel appointment of a contact; keyed by (ContactID, ID).
type GHLAppointment struct {
	ID          string          `json:"id"`
	ContactID   string          `json:"contactId"`
	Title       string          `json:"title,omitempty"`
	Status      string          `json:"status,omitempty"`
	StartTime   time.Time       `json:"startTime"`
	EndTime     time.Time       `json:"endTime"`
	DateUpdated time.Time       `json:"dateUpdated"`
	Raw         json.RawMessage `json:"raw,omitempty"`
	FetchedAt   time.Time       `json:"fetchedAt"`
}

// PTDAppointment is an appointment surfaced in PTD; keyed by (ClientID, ID). ExternalID is the
// HighLevel appointment id and is indexed.
type PTDAppointment struct {
	ID         string          `json:"id"`
	ClientID   string          `json:"clientId"`
	ExternalID string          `json:"externalId,omitempty"`
	Title      string          `json:"title,omitempty"`
	StartAt    time.Time       `json:"startAt"`
	EndAt      time.Time       `json:"endAt"`
	Status     string          `json:"status,omitempty"`
	Raw        json.RawMessage `json:"raw,omitempty"`
	FetchedAt  time.Time       `json:"fetchedAt"`
}

// ChildID, ParentID and FetchedTime implement ChildRecord: the store keys the record by
// (ParentID, ChildID), and a refresh older than FetchedTime does not overwrite it.
func (r *GHLAppointment) ChildID() string        { return r.ID }
func (r *GHLAppointment) ParentID() string       { return r.ContactID }
func (r *GHLAppointment) FetchedTime() time.Time { return r.FetchedAt }
func (r *PTDAppointment) ChildID() string        { return r.ID }
func (r *PTDAppointment) ParentID() string       { return r.ClientID }
func (r *PTDAppointment) FetchedTime() time.Time { return r.FetchedAt }

func (r *GHLAppointment) collection() Collection { return GHLAppointments }
func (r *GHLAppointment) primaryKey() string     { return childKey(r.ContactID, r.ID) }
func (r *GHLAppointment) updated() time.Time     { return time.Time{} }
func (r *GHLAppointment) quarantineKey() string  { return qkey(KindAppointment, SideGHL, r.ID) }
func (r *GHLAppointment) validate() error        { return checkChild("ghl appointment", r.ContactID, r.ID) }
func (r *GHLAppointment) entries() []entry {
	es := []entry{{"id", r.ID}}
	if !r.StartTime.IsZero() {
		es = append(es, entry{"start", TimeKey(r.StartTime)})
	}
	return es
}

func (r *PTDAppointment) collection() Collection { return PTDAppointments }
func (r *PTDAppointment) primaryKey() string     { return childKey(r.ClientID, r.ID) }
func (r *PTDAppointment) updated() time.Time     { return time.Time{} }
func (r *PTDAppointment) quarantineKey() string  { return qkey(KindAppointment, SidePTD, r.ID) }
func (r *PTDAppointment) validate() error {
	if err := checkChild("ptd appointment", r.ClientID, r.ID); err != nil {
		return err
	}
	return checkNoNUL("ptd appointment "+r.ID, r.ExternalID)
}
func (r *PTDAppointment) entries() []entry {
	es := []entry{{"id", r.ID}}
	if r.ExternalID != "" {
		es = append(es, entry{"external", r.ExternalID})
	}
	return es
}

func (r *GHLAppointment) rawField() *json.RawMessage { return &r.Raw }
func (r *GHLAppointment) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.ContactID)
	e.str(r.Title)
	e.str(r.Status)
	e.times(r.StartTime, r.EndTime, r.DateUpdated, r.FetchedAt)
}
func (r *GHLAppointment) readHeader(d *dec) {
	r.ID, r.ContactID, r.Title, r.Status = d.str(), d.str(), d.str(), d.str()
	r.StartTime, r.EndTime, r.DateUpdated, r.FetchedAt = d.time(), d.time(), d.time(), d.time()
}

func (r *PTDAppointment) rawField() *json.RawMessage { return &r.Raw }
func (r *PTDAppointment) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.ClientID)
	e.str(r.ExternalID)
	e.str(r.Title)
	e.str(r.Status)
	e.times(r.StartAt, r.EndAt, r.FetchedAt)
}
func (r *PTDAppointment) readHeader(d *dec) {
	r.ID, r.ClientID, r.ExternalID, r.Title, r.Status = d.str(), d.str(), d.str(), d.str(), d.str()
	r.StartAt, r.EndAt, r.FetchedAt = d.time(), d.time(), d.time()
}

var (
	_ binRecord = (*GHLAppointment)(nil)
	_ binRecord = (*PTDAppointment)(nil)
)

// Typed access to appointments, the typed forms of the generic child methods (PutChild,
// ChildrenOf, ChildByID, DeleteChild) with the contract of api_records.go: a Put replaces the
// whole record and its index entries and is idempotent; Get, *ByID and Delete return
// ErrNotFound when the record is absent; *Of returns one parent's records in id order, and
// ForEach visits every record in (parent id, id) order, a fresh value each time unless the
// Tx came from ReuseValues.

// PutGHLAppointment stores a under its contact.
func (tx *Tx) PutGHLAppointment(a *GHLAppointment) error { return tx.putRecord(a) }

// GetGHLAppointment returns appointment id of contactID; ErrNotFound when absent.
func (tx *Tx) GetGHLAppointment(contactID, id string) (GHLAppointment, error) {
	var a GHLAppointment
	return a, tx.get(GHLAppointments, childKey(contactID, id), &a)
}

// GHLAppointmentByID finds a HighLevel appointment by its id alone, whatever its contact (through the id
// index); ErrNotFound when none has it.
func (tx *Tx) GHLAppointmentByID(id string) (GHLAppointment, error) {
	return byID[GHLAppointment](tx, GHLAppointments, id)
}

// DeleteGHLAppointment removes one appointment and its index entries; missing is ErrNotFound.
func (tx *Tx) DeleteGHLAppointment(contactID, id string) error {
	return tx.deleteRecord(GHLAppointments, childKey(contactID, id))
}

// GHLAppointmentsOf returns the appointments of a contact in id order (a prefix scan); none is an empty
// result, not an error.
func (tx *Tx) GHLAppointmentsOf(contactID string) ([]GHLAppointment, error) {
	return all[GHLAppointment](tx, GHLAppointments, func(f func([]byte) error) error {
		return tx.scanPrefix(GHLAppointments, contactID+"\x00", f)
	})
}

// ForEachGHLAppointment calls fn for every appointment.
func (tx *Tx) ForEachGHLAppointment(fn func(*GHLAppointment) error) error {
	return tx.scanPrefix(GHLAppointments, "", collect(tx, GHLAppointments, fn))
}

// PutPTDAppointment stores a under its client.
func (tx *Tx) PutPTDAppointment(a *PTDAppointment) error { return tx.putRecord(a) }

// PTDAppointmentByID finds a PTD appointment by its id alone, whatever its client (through the id index);
// ErrNotFound when none has it.
func (tx *Tx) PTDAppointmentByID(id string) (PTDAppointment, error) {
	return byID[PTDAppointment](tx, PTDAppointments, id)
}

// PTDAppointmentByExternalID finds the PTD appointment mirroring HighLevel appointment ghlID.
func (tx *Tx) PTDAppointmentByExternalID(ghlID string) (PTDAppointment, error) {
	return first[PTDAppointment](tx, PTDAppointments, "external", ghlID)
}

// DeletePTDAppointment removes one appointment and its index entries; missing is ErrNotFound.
func (tx *Tx) DeletePTDAppointment(clientID, id string) error {
	return tx.deleteRecord(PTDAppointments, childKey(clientID, id))
}

// PTDAppointmentsOf returns the appointments of a client in id order (a prefix scan); none is an empty
// result, not an error.
func (tx *Tx) PTDAppointmentsOf(clientID string) ([]PTDAppointment, error) {
	return all[PTDAppointment](tx, PTDAppointments, func(f func([]byte) error) error {
		return tx.scanPrefix(PTDAppointments, clientID+"\x00", f)
	})
}

// ForEachPTDAppointment calls fn for every PTD appointment.
func (tx *Tx) ForEachPTDAppointment(fn func(*PTDAppointment) error) error {
	return tx.scanPrefix(PTDAppointments, "", collect(tx, PTDAppointments, fn))
}
