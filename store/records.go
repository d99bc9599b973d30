package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Collection names a bucket of mirrored records. The names are part of the file format.
type Collection string

// The mirrored collections.
const (
	GHLContacts     Collection = "ghl.contacts"
	GHLTasks        Collection = "ghl.tasks"
	GHLNotes        Collection = "ghl.notes"
	GHLAppointments Collection = "ghl.appointments"
	PTDClients      Collection = "ptd.clients"
	PTDTasks        Collection = "ptd.tasks"
	PTDNotes        Collection = "ptd.notes"
	PTDAppointments Collection = "ptd.appointments"

	collLinks   Collection = "links"
	collHistory Collection = "history"
	collOutbox  Collection = "outbox"
)

// Collections lists every mirrored record collection, HighLevel first.
func Collections() []Collection {
	return []Collection{GHLContacts, GHLTasks, GHLNotes, GHLAppointments, PTDClients, PTDTasks, PTDNotes, PTDAppointments}
}

// Sides of the sync.
const (
	SideGHL = "ghl"
	SidePTD = "ptd"
)

// Link kinds.
const (
	KindContact     = "contact"
	KindTask        = "task"
	KindNote        = "note"
	KindAppointment = "appointment"
)

// GHLContact is a HighLevel contact as mirrored. Email must be normalized (lower-case,
// trimmed) and Phone in E.164 by the caller: they are indexed as given. Raw is the object
// exactly as received.
type GHLContact struct {
	ID                string          `json:"id"`
	Email             string          `json:"email,omitempty"`
	Phone             string          `json:"phone,omitempty"`
	FirstName         string          `json:"firstName,omitempty"`
	LastName          string          `json:"lastName,omitempty"`
	Tags              []string        `json:"tags,omitempty"`
	DateAdded         time.Time       `json:"dateAdded"`
	DateUpdated       time.Time       `json:"dateUpdated"`
	Raw               json.RawMessage `json:"raw,omitempty"`
	FetchedAt         time.Time       `json:"fetchedAt"`
	ChildrenFetchedAt time.Time       `json:"childrenFetchedAt"`
}

// GHLTask is a HighLevel task of a contact; keyed by (ContactID, ID).
type GHLTask struct {
	ID         string          `json:"id"`
	ContactID  string          `json:"contactId"`
	Title      string          `json:"title,omitempty"`
	Body       string          `json:"body,omitempty"`
	AssignedTo string          `json:"assignedTo,omitempty"`
	DueDate    time.Time       `json:"dueDate"`
	Completed  bool            `json:"completed"`
	Raw        json.RawMessage `json:"raw,omitempty"`
	FetchedAt  time.Time       `json:"fetchedAt"`
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

// PTDClient is a PT Distinction client as mirrored; Email and Phone normalized by the caller.
type PTDClient struct {
	ID        string          `json:"id"`
	Email     string          `json:"email,omitempty"`
	Phone     string          `json:"phone,omitempty"`
	FirstName string          `json:"firstName,omitempty"`
	LastName  string          `json:"lastName,omitempty"`
	Tags      []string        `json:"tags,omitempty"`
	Groups    []string        `json:"groups,omitempty"`
	Packages  []string        `json:"packages,omitempty"`
	Access    string          `json:"access,omitempty"`
	ETag      string          `json:"etag,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Raw       json.RawMessage `json:"raw,omitempty"`
	FetchedAt time.Time       `json:"fetchedAt"`
}

// PTDTask is a PT Distinction task; keyed by (ClientID, ID).
type PTDTask struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Title     string          `json:"title,omitempty"`
	Body      string          `json:"body,omitempty"`
	DueAt     time.Time       `json:"dueAt"`
	Completed bool            `json:"completed"`
	UpdatedAt time.Time       `json:"updatedAt"`
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

// entry is one secondary-index entry of a record: stored as key value+"\x00"+primaryKey in
// the bucket "<collection>/<index>", with an empty value.
type entry struct{ index, value string }

// record is implemented by every indexed type.
type record interface {
	collection() Collection
	primaryKey() string
	entries() []entry
	validate() error
	// updated is the timestamp cursors of this collection advance over (zero if none).
	updated() time.Time
	// quarantineKey names the quarantine entry a re-appearing record clears ("" if none).
	quarantineKey() string
}

// indexNames lists the secondary indexes of each collection: the bucket "<coll>/<name>" exists
// for each. Part of the file format; adding one needs a migration that builds it.
func indexNames(c Collection) []string {
	switch c {
	case GHLContacts:
		return []string{"email", "phone", "tag", "updated", "children"}
	case PTDClients:
		return []string{"email", "phone", "tag", "updated"}
	case GHLTasks, PTDTasks:
		return []string{"id", "due"}
	case GHLNotes, PTDNotes:
		return []string{"id"}
	case GHLAppointments:
		return []string{"id", "start"}
	case PTDAppointments:
		return []string{"id", "external"}
	case collLinks:
		return []string{"ghl", "ptd", "parent"}
	case collHistory:
		return []string{"link"}
	case collOutbox:
		return []string{"record"}
	}
	return nil
}

// indexedCollections are the collections maintained through the generic record code.
func indexedCollections() []Collection {
	return append(Collections(), collLinks, collHistory, collOutbox)
}

// newRecord returns a zero record of collection c to decode into.
func newRecord(c Collection) (record, error) {
	switch c {
	case GHLContacts:
		return new(GHLContact), nil
	case GHLTasks:
		return new(GHLTask), nil
	case GHLNotes:
		return new(GHLNote), nil
	case GHLAppointments:
		return new(GHLAppointment), nil
	case PTDClients:
		return new(PTDClient), nil
	case PTDTasks:
		return new(PTDTask), nil
	case PTDNotes:
		return new(PTDNote), nil
	case PTDAppointments:
		return new(PTDAppointment), nil
	case collLinks:
		return new(Link), nil
	case collHistory:
		return new(HistoryEntry), nil
	case collOutbox:
		return new(OutboxEntry), nil
	}
	return nil, fmt.Errorf("cannot decode record: unknown collection %q", c)
}

// decodeRecord decodes a stored value of collection c, without its Raw (only what the
// indexes and checks need).
func decodeRecord(c Collection, v []byte) (record, error) {
	r, err := newRecord(c)
	if err != nil {
		return nil, err
	}
	if err := decodeValue(v, r, true); err != nil {
		return nil, fmt.Errorf("cannot decode %s record: %w", c, err)
	}
	return r, nil
}

// TimeKey formats t as a fixed-width UTC string whose byte order is time order: the form of
// every time-valued index entry. Zero times sort first.
func TimeKey(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func childKey(parent, id string) string { return parent + "\x00" + id }

func seqKey(seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return string(b[:])
}

func tagKey(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("cannot store %s: %w: empty id", what, ErrInvalid)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("cannot store %s %q: %w: id contains a NUL byte", what, id, ErrInvalid)
	}
	return nil
}

func checkNoNUL(what string, vals ...string) error {
	for _, v := range vals {
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("cannot store %s: %w: value %q contains a NUL byte", what, ErrInvalid, v)
		}
	}
	return nil
}

func contactEntries(email, phone string, tags []string, updated time.Time) []entry {
	var es []entry
	if email != "" {
		es = append(es, entry{"email", email})
	}
	if phone != "" {
		es = append(es, entry{"phone", phone})
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if k := tagKey(t); k != "" && !seen[k] {
			seen[k] = true
			es = append(es, entry{"tag", k})
		}
	}
	return append(es, entry{"updated", TimeKey(updated)})
}

func qkey(kind, side, id string) string { return kind + "\x00" + side + "\x00" + id }

func (r *GHLContact) collection() Collection { return GHLContacts }
func (r *GHLContact) primaryKey() string     { return r.ID }
func (r *GHLContact) updated() time.Time     { return r.DateUpdated }
func (r *GHLContact) quarantineKey() string  { return qkey(KindContact, SideGHL, r.ID) }
func (r *GHLContact) validate() error {
	if err := checkID("ghl contact", r.ID); err != nil {
		return err
	}
	return checkNoNUL("ghl contact "+r.ID, append([]string{r.Email, r.Phone}, r.Tags...)...)
}
func (r *GHLContact) entries() []entry {
	return append(contactEntries(r.Email, r.Phone, r.Tags, r.DateUpdated), entry{"children", TimeKey(r.ChildrenFetchedAt)})
}

func (r *GHLTask) collection() Collection { return GHLTasks }
func (r *GHLTask) primaryKey() string     { return childKey(r.ContactID, r.ID) }
func (r *GHLTask) updated() time.Time     { return time.Time{} }
func (r *GHLTask) quarantineKey() string  { return qkey(KindTask, SideGHL, r.ID) }
func (r *GHLTask) validate() error        { return checkChild("ghl task", r.ContactID, r.ID) }
func (r *GHLTask) entries() []entry       { return dueEntries(r.ID, r.DueDate) }

func (r *GHLNote) collection() Collection { return GHLNotes }
func (r *GHLNote) primaryKey() string     { return childKey(r.ContactID, r.ID) }
func (r *GHLNote) updated() time.Time     { return time.Time{} }
func (r *GHLNote) quarantineKey() string  { return qkey(KindNote, SideGHL, r.ID) }
func (r *GHLNote) validate() error        { return checkChild("ghl note", r.ContactID, r.ID) }
func (r *GHLNote) entries() []entry       { return []entry{{"id", r.ID}} }

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

func (r *PTDClient) collection() Collection { return PTDClients }
func (r *PTDClient) primaryKey() string     { return r.ID }
func (r *PTDClient) updated() time.Time     { return r.UpdatedAt }
func (r *PTDClient) quarantineKey() string  { return qkey(KindContact, SidePTD, r.ID) }
func (r *PTDClient) validate() error {
	if err := checkID("ptd client", r.ID); err != nil {
		return err
	}
	return checkNoNUL("ptd client "+r.ID, append([]string{r.Email, r.Phone}, r.Tags...)...)
}
func (r *PTDClient) entries() []entry { return contactEntries(r.Email, r.Phone, r.Tags, r.UpdatedAt) }

func (r *PTDTask) collection() Collection { return PTDTasks }
func (r *PTDTask) primaryKey() string     { return childKey(r.ClientID, r.ID) }
func (r *PTDTask) updated() time.Time     { return r.UpdatedAt }
func (r *PTDTask) quarantineKey() string  { return qkey(KindTask, SidePTD, r.ID) }
func (r *PTDTask) validate() error        { return checkChild("ptd task", r.ClientID, r.ID) }
func (r *PTDTask) entries() []entry       { return dueEntries(r.ID, r.DueAt) }

func (r *PTDNote) collection() Collection { return PTDNotes }
func (r *PTDNote) primaryKey() string     { return childKey(r.ClientID, r.ID) }
func (r *PTDNote) updated() time.Time     { return r.UpdatedAt }
func (r *PTDNote) quarantineKey() string  { return qkey(KindNote, SidePTD, r.ID) }
func (r *PTDNote) validate() error        { return checkChild("ptd note", r.ClientID, r.ID) }
func (r *PTDNote) entries() []entry       { return []entry{{"id", r.ID}} }

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

func checkChild(what, parent, id string) error {
	if err := checkID(what+" parent", parent); err != nil {
		return err
	}
	return checkID(what, id)
}

func dueEntries(id string, due time.Time) []entry {
	es := []entry{{"id", id}}
	if !due.IsZero() {
		es = append(es, entry{"due", TimeKey(due)})
	}
	return es
}
