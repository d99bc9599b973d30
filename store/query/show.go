package query

import (
	"errors"
	"fmt"
	"strings"

	"ptsync/diff"
	"ptsync/store"
)

// ContactView is everything the mirror knows about one HighLevel contact: the record, its
// children, its link and PTD counterpart, the agreed base, pending writes, open conflicts and
// history. It is the JSON body of POST /admin/show.
type ContactView struct {
	Contact      store.GHLContact       `json:"contact"`
	Dirty        bool                   `json:"dirty"`
	Tasks        []store.GHLTask        `json:"tasks"`
	Notes        []store.GHLNote        `json:"notes"`
	Appointments []store.GHLAppointment `json:"appointments"`
	Link         *store.Link            `json:"link,omitempty"`
	Client       *store.PTDClient       `json:"client,omitempty"`
	Base         *store.Base            `json:"base,omitempty"`
	Outbox       []store.OutboxEntry    `json:"outbox"`
	Conflicts    []store.Conflict       `json:"conflicts"`
	History      []store.HistoryEntry   `json:"history"`
}

// ShowContact builds the view of the contact whose id is ref, or else whose email is ref
// (normalized). Unknown is store.ErrNotFound; an email shared by several contacts is a
// *RequestError listing their ids.
func ShowContact(tx *store.Tx, ref string) (ContactView, error) {
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
	if v.Tasks, err = tx.GHLTasksOf(c.ID); err != nil {
		return v, err
	}
	if v.Notes, err = tx.GHLNotesOf(c.ID); err != nil {
		return v, err
	}
	if v.Appointments, err = tx.GHLAppointmentsOf(c.ID); err != nil {
		return v, err
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
