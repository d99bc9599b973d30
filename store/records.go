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

// Collections lists every mirrored record collection of the default child kinds: contacts,
// the HighLevel children, clients, the PTD children.
func Collections() []Collection {
	return (&childRegistry{kinds: DefaultChildKinds()}).mirrored()
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

// decodeRecord decodes a stored value of collection c, without its Raw (only what the
// indexes and checks need).
func (tx *Tx) decodeRecord(c Collection, v []byte) (record, error) {
	r, err := tx.st.kinds.newRecord(c)
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

func checkChild(what, parent, id string) error {
	if err := checkID(what+" parent", parent); err != nil {
		return err
	}
	return checkID(what, id)
}
