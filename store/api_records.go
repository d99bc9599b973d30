package store

import (
	"errors"
	"fmt"
	"time"
)

// Typed record access. Every Put replaces the whole record, rewrites its index entries in the
// same transaction, clears a matching delete-quarantine entry (the record reappeared) and is
// idempotent. Get returns ErrNotFound when absent. ForEach/By* callbacks receive a freshly
// decoded value each time (safe to keep) and may return ErrStop to end early; they run inside
// the transaction and must not do I/O.

// PutGHLContact stores c (Email/Phone already normalized by the caller).
func (tx *Tx) PutGHLContact(c *GHLContact) error { return tx.putRecord(c) }

// GetGHLContact returns the contact with id.
func (tx *Tx) GetGHLContact(id string) (GHLContact, error) {
	var c GHLContact
	return c, tx.get(GHLContacts, id, &c)
}

// DeleteGHLContact removes the contact and, in the same transaction, its children of every
// registered kind. The dirty flag is cleared too, and a copy staged by a first sync and not
// merged yet will not be merged. Missing is ErrNotFound, except while contacts are staged:
// the contact may be one of them, and the deletion succeeds.
func (tx *Tx) DeleteGHLContact(id string) error {
	staging, err := tx.stageTombstone(id) // a staged copy must not come back
	if err != nil {
		return err
	}
	if err := tx.deleteRecord(GHLContacts, id); err != nil && !(staging && errors.Is(err, ErrNotFound)) {
		return err
	}
	if err := tx.deleteChildrenOf(SideGHL, id); err != nil {
		return err
	}
	return tx.clearDirty(id)
}

// ForEachGHLContact calls fn for every contact in id order.
func (tx *Tx) ForEachGHLContact(fn func(*GHLContact) error) error {
	return tx.scanPrefix(GHLContacts, "", collect(tx, GHLContacts, fn))
}

// GHLContactsByEmail returns the contacts whose normalized email equals email (usually 0 or 1).
func (tx *Tx) GHLContactsByEmail(email string) ([]GHLContact, error) {
	return all[GHLContact](tx, GHLContacts, func(f func([]byte) error) error { return tx.lookup(GHLContacts, "email", email, f) })
}

// GHLContactsByPhone returns the contacts whose E.164 phone equals phone.
func (tx *Tx) GHLContactsByPhone(phone string) ([]GHLContact, error) {
	return all[GHLContact](tx, GHLContacts, func(f func([]byte) error) error { return tx.lookup(GHLContacts, "phone", phone, f) })
}

// GHLContactsByTag calls fn for every contact carrying tag (compared trimmed, case-folded).
func (tx *Tx) GHLContactsByTag(tag string, fn func(*GHLContact) error) error {
	return tx.lookup(GHLContacts, "tag", tagKey(tag), collect(tx, GHLContacts, fn))
}

// GHLContactsUpdatedSince calls fn for contacts with DateUpdated >= since, oldest first.
func (tx *Tx) GHLContactsUpdatedSince(since time.Time, fn func(*GHLContact) error) error {
	return tx.rangeIndex(GHLContacts, "updated", TimeKey(since), "", collect(tx, GHLContacts, fn))
}

// PutPTDClient stores c (Email/Phone already normalized by the caller).
func (tx *Tx) PutPTDClient(c *PTDClient) error { return tx.putRecord(c) }

// GetPTDClient returns the client with id.
func (tx *Tx) GetPTDClient(id string) (PTDClient, error) {
	var c PTDClient
	return c, tx.get(PTDClients, id, &c)
}

// DeletePTDClient removes the client and its children of every registered kind.
func (tx *Tx) DeletePTDClient(id string) error {
	if err := tx.deleteRecord(PTDClients, id); err != nil {
		return err
	}
	return tx.deleteChildrenOf(SidePTD, id)
}

// ForEachPTDClient calls fn for every client in id order.
func (tx *Tx) ForEachPTDClient(fn func(*PTDClient) error) error {
	return tx.scanPrefix(PTDClients, "", collect(tx, PTDClients, fn))
}

// PTDClientsByEmail returns the clients with that normalized email.
func (tx *Tx) PTDClientsByEmail(email string) ([]PTDClient, error) {
	return all[PTDClient](tx, PTDClients, func(f func([]byte) error) error { return tx.lookup(PTDClients, "email", email, f) })
}

// PTDClientsByPhone returns the clients with that E.164 phone.
func (tx *Tx) PTDClientsByPhone(phone string) ([]PTDClient, error) {
	return all[PTDClient](tx, PTDClients, func(f func([]byte) error) error { return tx.lookup(PTDClients, "phone", phone, f) })
}

// PTDClientsByTag calls fn for every client carrying tag.
func (tx *Tx) PTDClientsByTag(tag string, fn func(*PTDClient) error) error {
	return tx.lookup(PTDClients, "tag", tagKey(tag), collect(tx, PTDClients, fn))
}

// PTDClientsUpdatedSince calls fn for clients with UpdatedAt >= since, oldest first.
func (tx *Tx) PTDClientsUpdatedSince(since time.Time, fn func(*PTDClient) error) error {
	return tx.rangeIndex(PTDClients, "updated", TimeKey(since), "", collect(tx, PTDClients, fn))
}

func byID[T any](tx *Tx, c Collection, id string) (T, error) { return first[T](tx, c, "id", id) }

func first[T any](tx *Tx, c Collection, index, value string) (T, error) {
	var out T
	found := false
	err := tx.lookup(c, index, value, collect(tx, c, func(r *T) error { out, found = *r, true; return ErrStop }))
	if err != nil {
		return out, err
	}
	if !found {
		return out, fmt.Errorf("cannot find %s by %s %q: %w", c, index, value, ErrNotFound)
	}
	return out, nil
}

// deleteChildren removes every record of c keyed under parent, with their index entries.
func (tx *Tx) deleteChildren(c Collection, parent string) error {
	var keys []string
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	p := []byte(parent + "\x00")
	cur := b.Cursor()
	for k, _ := cur.Seek(p); k != nil && len(k) >= len(p) && string(k[:len(p)]) == string(p); k, _ = cur.Next() {
		keys = append(keys, string(k))
	}
	for _, k := range keys {
		if err := tx.deleteRecord(c, k); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
