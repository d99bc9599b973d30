package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// OutboxEntry is one pending write to a remote side. Entries are kept in Seq order (bbolt's
// NextSequence, stored big-endian so key order is Seq order); entries for the same record
// must be applied in that order. An entry leaves the outbox only in the Update that records
// its success (RemoveOutbox beside the new base), or by an operator's DropOutbox.
type OutboxEntry struct {
	Seq            uint64          `json:"seq"`
	Target         string          `json:"target"` // ghl | ptd
	Op             string          `json:"op"`     // e.g. contact.update, tags.add, task.create
	LinkID         string          `json:"linkId,omitempty"`
	RecordKind     string          `json:"recordKind,omitempty"`
	RecordID       string          `json:"recordId,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	Attempts       int             `json:"attempts"`
	NextAttemptAt  time.Time       `json:"nextAttemptAt"`
	LastError      string          `json:"lastError,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	Dead           bool            `json:"dead"`
}

func (e *OutboxEntry) collection() Collection { return collOutbox }
func (e *OutboxEntry) primaryKey() string     { return seqKey(e.Seq) }
func (e *OutboxEntry) updated() time.Time     { return time.Time{} }
func (e *OutboxEntry) quarantineKey() string  { return "" }
func (e *OutboxEntry) validate() error {
	if e.Target != SideGHL && e.Target != SidePTD {
		return fmt.Errorf("cannot store outbox entry: %w: target %q is not ghl or ptd", ErrInvalid, e.Target)
	}
	if e.Op == "" {
		return fmt.Errorf("cannot store outbox entry: %w: empty op", ErrInvalid)
	}
	return checkNoNUL("outbox entry", e.RecordKind, e.RecordID)
}
func (e *OutboxEntry) entries() []entry {
	if e.RecordID == "" {
		return nil
	}
	return []entry{{"record", e.RecordKind + "/" + e.RecordID}}
}

// Enqueue appends e, assigning e.Seq; a zero CreatedAt becomes now and a zero NextAttemptAt
// becomes CreatedAt. Enqueue in the same Update as the history of the decision.
func (tx *Tx) Enqueue(e *OutboxEntry) error {
	b, err := tx.bucket([]byte(collOutbox))
	if err != nil {
		return err
	}
	if err := e.validate(); err != nil {
		return err
	}
	if e.Seq, err = b.NextSequence(); err != nil {
		return fmt.Errorf("cannot enqueue outbox entry: %w", err)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = tx.now().UTC()
	}
	if e.NextAttemptAt.IsZero() {
		e.NextAttemptAt = e.CreatedAt
	}
	return tx.putRecord(e)
}

// GetOutbox returns entry seq; ErrNotFound if it is gone.
func (tx *Tx) GetOutbox(seq uint64) (OutboxEntry, error) {
	var e OutboxEntry
	return e, tx.get(collOutbox, seqKey(seq), &e)
}

// ForEachOutbox calls fn for every entry, dead ones included, in Seq order.
func (tx *Tx) ForEachOutbox(fn func(*OutboxEntry) error) error {
	return tx.scanPrefix(collOutbox, "", collect(tx, collOutbox, fn))
}

// OutboxDue returns up to limit live entries ready at now, in Seq order, keeping per-record
// order: once an entry of a record is dead or still waiting for its NextAttemptAt, later
// entries of the same record are held back too.
func (tx *Tx) OutboxDue(now time.Time, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	blocked := map[string]bool{}
	err := tx.ForEachOutbox(func(e *OutboxEntry) error {
		key := e.RecordKind + "/" + e.RecordID
		if e.RecordID == "" {
			key = fmt.Sprintf("seq/%d", e.Seq)
		}
		if blocked[key] {
			return nil
		}
		if e.Dead || e.NextAttemptAt.After(now) {
			blocked[key] = true
			return nil
		}
		blocked[key] = true // later entries of this record wait until this one is done
		out = append(out, *e)
		if limit > 0 && len(out) >= limit {
			return ErrStop
		}
		return nil
	})
	return out, err
}

// OutboxForRecord returns the entries (dead included) of one record in Seq order.
func (tx *Tx) OutboxForRecord(kind, id string) ([]OutboxEntry, error) {
	return all[OutboxEntry](tx, collOutbox, func(f func([]byte) error) error {
		return tx.lookup(collOutbox, "record", kind+"/"+id, f)
	})
}

func (tx *Tx) modifyOutbox(seq uint64, fn func(*OutboxEntry)) (OutboxEntry, error) {
	e, err := tx.GetOutbox(seq)
	if err != nil {
		return e, err
	}
	fn(&e)
	return e, tx.putRecord(&e)
}

// RecordAttempt notes a failed attempt of entry seq: Attempts+1, LastError and the time of
// the next try (the caller's backoff).
func (tx *Tx) RecordAttempt(seq uint64, lastError string, next time.Time) (OutboxEntry, error) {
	return tx.modifyOutbox(seq, func(e *OutboxEntry) {
		e.Attempts++
		e.LastError = lastError
		e.NextAttemptAt = next.UTC()
	})
}

// PostponeOutbox makes entry seq due again at next without counting an attempt: for failures
// that say nothing about the entry itself (the upstream refused the credential, its breaker is
// open, the daily budget is spent), so that an outage or a re-authorisation can never exhaust an
// entry's attempts and dead-letter it.
func (tx *Tx) PostponeOutbox(seq uint64, lastError string, next time.Time) (OutboxEntry, error) {
	return tx.modifyOutbox(seq, func(e *OutboxEntry) {
		e.LastError = lastError
		e.NextAttemptAt = next.UTC()
	})
}

// DeadLetter parks entry seq: it is kept (and blocks later entries of its record) until an
// operator retries or drops it.
func (tx *Tx) DeadLetter(seq uint64, reason string) (OutboxEntry, error) {
	return tx.modifyOutbox(seq, func(e *OutboxEntry) { e.Dead, e.LastError = true, reason })
}

// RetryOutbox revives entry seq (dead or backing off): due now, attempts reset.
func (tx *Tx) RetryOutbox(seq uint64) (OutboxEntry, error) {
	return tx.modifyOutbox(seq, func(e *OutboxEntry) {
		e.Dead, e.Attempts, e.NextAttemptAt = false, 0, tx.now().UTC()
	})
}

// RemoveOutbox deletes entry seq after its success; call it in the Update that stores the
// success's effects (base, link). Missing is ErrNotFound, so a double removal is visible.
func (tx *Tx) RemoveOutbox(seq uint64) error { return tx.deleteRecord(collOutbox, seqKey(seq)) }

// DropOutbox deletes entry seq without applying it (operator action) and returns it.
func (tx *Tx) DropOutbox(seq uint64) (OutboxEntry, error) {
	e, err := tx.GetOutbox(seq)
	if err != nil {
		return e, err
	}
	return e, tx.RemoveOutbox(seq)
}

// OutboxStats summarises the outbox for metrics.
type OutboxStats struct {
	Depth  int       // live (not dead) entries
	Dead   int       // dead-lettered entries
	Oldest time.Time // CreatedAt of the oldest live entry; zero when Depth is 0
}

// OutboxStats scans the outbox (it is expected to stay small).
func (tx *Tx) OutboxStats() (OutboxStats, error) {
	var s OutboxStats
	err := tx.ForEachOutbox(func(e *OutboxEntry) error {
		if e.Dead {
			s.Dead++
			return nil
		}
		if s.Depth == 0 || e.CreatedAt.Before(s.Oldest) {
			s.Oldest = e.CreatedAt
		}
		s.Depth++
		return nil
	})
	return s, err
}
