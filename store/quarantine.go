package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// QuarantineEntry is a record that disappeared from one side. Deletes are never propagated
// until the configured number of Confirmations. The entry clears itself when the record is
// Put again, unless a delete policy was already applied because of it (Applied): then the
// entry stays, marked Returned, until the reconciler has undone what the policy changed, so
// that a wrong listing never leaves a permanent trace (see ReleaseQuarantine).
type QuarantineEntry struct {
	Kind          string    `json:"kind"`
	Side          string    `json:"side"`
	ID            string    `json:"id"`
	DetectedAt    time.Time `json:"detectedAt"`
	LastSeenAt    time.Time `json:"lastSeenAt"` // last time the absence was confirmed
	Confirmations int       `json:"confirmations"`
	// Applied is what the delete policy changed on the surviving side because of this
	// entry; nil while the policy has not been applied.
	Applied *AppliedPolicy `json:"applied,omitempty"`
	// Returned is when the record was seen again after the policy was applied: the entry
	// now waits for the undo. Zero while the record is missing.
	Returned time.Time `json:"returned,omitzero"`
}

// AppliedPolicy records one delete policy applied to the survivor of a link, with what is
// needed to reverse it: the survivor's access before print_only, the tag added (empty when
// the survivor already carried it, so removing it would take away the user's own tag).
// Irreversible is set for delete: a deleted HighLevel contact cannot be brought back.
type AppliedPolicy struct {
	Policy       string    `json:"policy"`
	Rule         string    `json:"rule"` // the deciding rule, as in history (e.g. "delete-print_only")
	LinkID       string    `json:"linkId"`
	Target       string    `json:"target"` // the survivor's side
	PrevAccess   string    `json:"prevAccess,omitempty"`
	TagAdded     string    `json:"tagAdded,omitempty"`
	Irreversible bool      `json:"irreversible,omitempty"`
	At           time.Time `json:"at"`
}

// QuarantineDelete records (first call) or confirms (later calls) that record kind/side/id is
// missing, and returns the entry with its confirmation count.
func (tx *Tx) QuarantineDelete(kind, side, id string) (QuarantineEntry, error) {
	return tx.ConfirmMissing(kind, side, id, 1)
}

// ConfirmMissing is QuarantineDelete counting n confirmations at once (n >= 1): an approved
// held sweep gives its misses the confirmations the suspect sweeps denied them. A record that
// was missing again after it had returned (Returned set) is missing again: Returned clears.
func (tx *Tx) ConfirmMissing(kind, side, id string, n int) (QuarantineEntry, error) {
	if err := checkID("quarantine entry", id); err != nil {
		return QuarantineEntry{}, err
	}
	if n < 1 {
		return QuarantineEntry{}, fmt.Errorf("cannot confirm quarantine entry %q: %w: %d confirmations", id, ErrInvalid, n)
	}
	q, err := tx.QuarantineEntryOf(kind, side, id)
	now := tx.now().UTC()
	switch {
	case errors.Is(err, ErrNotFound):
		q = QuarantineEntry{Kind: kind, Side: side, ID: id, DetectedAt: now}
	case err != nil:
		return q, err
	}
	q.Confirmations += n
	q.LastSeenAt = now
	q.Returned = time.Time{}
	return q, tx.putJSON(bucketQuarantine, qkey(kind, side, id), q)
}

// QuarantineEntryOf returns the entry of kind/side/id; ErrNotFound if the record is not held.
func (tx *Tx) QuarantineEntryOf(kind, side, id string) (QuarantineEntry, error) {
	var q QuarantineEntry
	return q, tx.getJSON(bucketQuarantine, qkey(kind, side, id), &q)
}

// RecordApplied stores on the entry of kind/side/id what the delete policy changed. Call it
// in the transaction that records the policy's success. A missing entry is ErrNotFound.
func (tx *Tx) RecordApplied(kind, side, id string, a AppliedPolicy) error {
	q, err := tx.QuarantineEntryOf(kind, side, id)
	if err != nil {
		return err
	}
	if a.At.IsZero() {
		a.At = tx.now().UTC()
	}
	q.Applied = &a
	return tx.putJSON(bucketQuarantine, qkey(kind, side, id), q)
}

// ReleaseQuarantine is what a record seen again does to its entry: an entry without an
// applied policy is removed; one with an applied policy is kept and marked Returned (once),
// so the reconciler undoes the policy and then clears it. released reports whether anything
// changed. Absent is not an error. Every Put of a mirrored record calls it.
func (tx *Tx) ReleaseQuarantine(kind, side, id string) (released bool, err error) {
	return tx.releaseQuarantine(qkey(kind, side, id))
}

func (tx *Tx) releaseQuarantine(key string) (bool, error) {
	var q QuarantineEntry
	err := tx.getJSON(bucketQuarantine, key, &q)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if q.Applied == nil {
		b, err := tx.bucket(bucketQuarantine)
		if err != nil {
			return false, err
		}
		return true, b.Delete([]byte(key))
	}
	if !q.Returned.IsZero() {
		return false, nil
	}
	q.Returned = tx.now().UTC()
	return true, tx.putJSON(bucketQuarantine, key, q)
}

// ClearQuarantine removes an entry, applied policy or not; absent is not an error. The
// reconciler calls it once an applied policy has been undone (or cannot be).
func (tx *Tx) ClearQuarantine(kind, side, id string) error {
	b, err := tx.bucket(bucketQuarantine)
	if err != nil {
		return err
	}
	return b.Delete([]byte(qkey(kind, side, id)))
}

// Quarantined returns every quarantine entry, ordered by kind, side and id (the key order).
// A malformed entry is ErrCorrupt; none is an empty result.
func (tx *Tx) Quarantined() ([]QuarantineEntry, error) {
	var out []QuarantineEntry
	err := tx.forEachJSON(bucketQuarantine, "", func(v []byte) error {
		var q QuarantineEntry
		if err := json.Unmarshal(v, &q); err != nil {
			return fmt.Errorf("cannot decode quarantine entry: %w: %v", ErrCorrupt, err)
		}
		out = append(out, q)
		return nil
	})
	return out, err
}
