package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"ptsync/diff"
	"ptsync/store"
)

// ContactView is everything the mirror knows about one HighLevel contact: the record, its
// children, its link and PTD counterpart, the agreed base, pending writes, open conflicts and
// history. It is the JSON body of POST /admin/show: each child section is the member named
// by its heading ("tasks": [...]), after "dirty", as the fixed fields always were.
type ContactView struct {
	Contact store.GHLContact `json:"contact"`
	Dirty   bool             `json:"dirty"`
	// Children are the contact's children, one section per child kind with a Show, in kind
	// order.
	Children  []ChildSection       `json:"-"`
	Link      *store.Link          `json:"link,omitempty"`
	Client    *store.PTDClient     `json:"client,omitempty"`
	Base      *store.Base          `json:"base,omitempty"`
	Outbox    []store.OutboxEntry  `json:"outbox"`
	Conflicts []store.Conflict     `json:"conflicts"`
	History   []store.HistoryEntry `json:"history"`
}

// ChildSection is one kind's children of the contact in a ContactView.
type ChildSection struct {
	Kind    string // store kind
	Heading string // "tasks"
	// Records are the records (pointers to the kind's record type), in id order.
	Records []any
	// Lines render Records as ptsync show prints them, one each.
	Lines []string
}

// viewFields is ContactView without its methods, for the fixed members' encoding.
type viewFields ContactView

// MarshalJSON writes "contact", "dirty", each child section, then the other members, in
// the order the struct declares them.
func (v ContactView) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	member := func(sep, name string, val any) error {
		enc, err := json.Marshal(val)
		if err != nil {
			return err
		}
		key, _ := json.Marshal(name)
		fmt.Fprintf(&b, "%s%s:%s", sep, key, enc)
		return nil
	}
	if err := member("{", "contact", v.Contact); err != nil {
		return nil, err
	}
	if err := member(",", "dirty", v.Dirty); err != nil {
		return nil, err
	}
	for _, s := range v.Children {
		recs := s.Records
		if recs == nil {
			recs = []any{}
		}
		if err := member(",", s.Heading, recs); err != nil {
			return nil, err
		}
	}
	f := viewFields(v)
	f.Contact, f.Dirty = store.GHLContact{}, false
	rest, err := json.Marshal(struct {
		Link      *store.Link          `json:"link,omitempty"`
		Client    *store.PTDClient     `json:"client,omitempty"`
		Base      *store.Base          `json:"base,omitempty"`
		Outbox    []store.OutboxEntry  `json:"outbox"`
		Conflicts []store.Conflict     `json:"conflicts"`
		History   []store.HistoryEntry `json:"history"`
	}{f.Link, f.Client, f.Base, f.Outbox, f.Conflicts, f.History})
	if err != nil {
		return nil, err
	}
	b.WriteByte(',')
	b.Write(rest[1:]) // the members of rest, and its closing brace
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON wrote; the sections of the default child kinds are
// decoded into their record types and their lines rendered again.
func (v *ContactView) UnmarshalJSON(b []byte) error {
	var f viewFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	*v = ContactView(f)
	for _, k := range DefaultChildKinds() {
		raw, ok := members[k.Show.Heading]
		if k.Show.Heading == "" || !ok {
			continue
		}
		recs, err := k.Show.decodeSection(raw)
		if err != nil {
			return fmt.Errorf("cannot decode the %s of the contact view: %w", k.Show.Heading, err)
		}
		v.Children = append(v.Children, k.Show.section(k.Name, recs))
	}
	return nil
}

// section builds the section of records.
func (s ChildShow) section(kind string, recs []any) ChildSection {
	sec := ChildSection{Kind: kind, Heading: s.Heading, Records: recs, Lines: make([]string, len(recs))}
	for i, r := range recs {
		sec.Lines[i] = s.Line(r)
	}
	return sec
}

// showTime renders a time in a contact view's lines: RFC 3339 in UTC, "-" when unset.
func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// ShowContact builds the view of the contact whose id is ref, or else whose email is ref
// (normalized). Unknown is store.ErrNotFound; an email shared by several contacts is a
// *RequestError listing their ids.
func ShowContact(tx *store.Tx, ref string) (ContactView, error) {
	return NewCatalog(nil).ShowContact(tx, ref)
}

// ShowContact is the package's ShowContact with this catalog's child kinds.
func (cat *Catalog) ShowContact(tx *store.Tx, ref string) (ContactView, error) {
	var v ContactView
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return v, badf("show contact: give a contact id or email")
	}
	c, err := tx.GetGHLContact(ref)
	if errors.Is(err, store.ErrNotFound) && strings.Contains(ref, "@") {
		email, nerr := diff.Email(ref)
		if nerr != nil {
			return v, badf("show contact: %v", nerr)
		}
		cs, lerr := tx.GHLContactsByEmail(email)
		if lerr != nil {
			return v, lerr
		}
		switch len(cs) {
		case 0:
		case 1:
			c, err = cs[0], nil
		default:
			ids := make([]string, len(cs))
			for i := range cs {
				ids[i] = cs[i].ID
			}
			return v, &RequestError{Msg: fmt.Sprintf("show contact: email %s belongs to %d contacts; give an id", email, len(cs)), Known: ids}
		}
	}
	if err != nil {
		return v, fmt.Errorf("cannot find contact %q by id or email: %w", ref, store.ErrNotFound)
	}
	v.Contact = c
	if v.Dirty, err = tx.IsDirty(c.ID); err != nil {
		return v, err
	}
	for _, k := range cat.children {
		if k.Show.Heading == "" {
			continue
		}
		rs, err := tx.ChildrenOf(k.Name, store.SideGHL, c.ID)
		if err != nil {
			return v, err
		}
		recs := make([]any, len(rs))
		for i, r := range rs {
			recs[i] = r
		}
		v.Children = append(v.Children, k.Show.section(k.Name, recs))
	}
	if v.Outbox, err = tx.OutboxForRecord(store.KindContact, c.ID); err != nil {
		return v, err
	}
	l, err := tx.LinkByGHL(store.KindContact, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	v.Link = &l
	if cl, err := tx.GetPTDClient(l.PTDID); err == nil {
		v.Client = &cl
		more, err := tx.OutboxForRecord(store.KindContact, cl.ID)
		if err != nil {
			return v, err
		}
		v.Outbox = append(v.Outbox, more...)
	} else if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	if b, err := tx.GetBase(l.ID); err == nil {
		v.Base = &b
	} else if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	if v.Conflicts, err = tx.Conflicts(l.ID, false); err != nil {
		return v, err
	}
	v.History, err = tx.History(l.ID)
	return v, err
}
