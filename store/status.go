package store

import (
	"sort"
	"time"
)

// MirrorStatus is what the mirror alone tells of the sync's health: where every incremental
// cursor stands beside the time now, what waits in the outbox, the open conflicts and the
// quarantine. `ptsync status` prints it offline, and the running service answers the same
// fields (with its own beside them) through its admin endpoint. It is a snapshot of one read
// transaction: consistent, but stale as soon as it is returned.
type MirrorStatus struct {
	Now     time.Time      `json:"now"`
	Cursors []CursorStatus `json:"cursors"`
	Outbox  OutboxStats    `json:"outbox"`
	// Conflicts counts open (unresolved) field conflicts.
	Conflicts  int               `json:"conflicts"`
	Quarantine []QuarantineCount `json:"quarantine"`
	// HeldSweeps are the sweeps held as suspect, waiting for `ptsync quarantine approve`
	// or for a believed sweep of the same listing; empty when none is held.
	HeldSweeps []HeldSweepStatus `json:"heldSweeps,omitempty"`
	// Bulk is the first sync's bulk load while it is not complete: contacts staged and not
	// merged, collections whose indexes are being built (their queries scan meanwhile).
	Bulk *BulkState `json:"bulk,omitempty"`
}

// HeldSweepStatus is one held sweep in brief: what was listed and why it was not believed.
type HeldSweepStatus struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Sweeps   int       `json:"sweeps"`
	Mirrored int       `json:"mirrored"`
	Listed   int       `json:"listed"`
	Missing  int       `json:"missing"`
	Reason   string    `json:"reason"`
}

// CursorStatus is one stored cursor. Through is the newest record timestamp the cursor has
// moved past (zero for cursors that don't follow a timestamp, such as a sweep's position);
// a Through later than Now means the cursor runs ahead of the clock and would skip changes.
type CursorStatus struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	Through   time.Time `json:"through,omitzero"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// QuarantineCount is the number of quarantine entries of one kind and side.
type QuarantineCount struct {
	Kind  string `json:"kind"`
	Side  string `json:"side"`
	Count int    `json:"count"`
}

// Status reads the mirror's part of `ptsync status` in tx, with now as the time to compare
// cursors against. Cursors are sorted by name, quarantine counts by kind then side. The
// outbox and quarantine are scanned in full: both are expected to stay small.
func (tx *Tx) Status(now time.Time) (MirrorStatus, error) {
	st := MirrorStatus{Now: now.UTC()}
	cursors, err := tx.Cursors()
	if err != nil {
		return st, err
	}
	for name, c := range cursors {
		st.Cursors = append(st.Cursors, CursorStatus{Name: name, Value: c.Value, Through: c.Through, UpdatedAt: c.UpdatedAt})
	}
	sort.Slice(st.Cursors, func(i, j int) bool { return st.Cursors[i].Name < st.Cursors[j].Name })
	if st.Outbox, err = tx.OutboxStats(); err != nil {
		return st, err
	}
	open, err := tx.Conflicts("", false)
	if err != nil {
		return st, err
	}
	st.Conflicts = len(open)
	qs, err := tx.Quarantined()
	if err != nil {
		return st, err
	}
	counts := map[[2]string]int{}
	for _, q := range qs {
		counts[[2]string{q.Kind, q.Side}]++
	}
	for k, n := range counts {
		st.Quarantine = append(st.Quarantine, QuarantineCount{Kind: k[0], Side: k[1], Count: n})
	}
	sort.Slice(st.Quarantine, func(i, j int) bool {
		a, b := st.Quarantine[i], st.Quarantine[j]
		return a.Kind < b.Kind || a.Kind == b.Kind && a.Side < b.Side
	})
	held, err := tx.HeldSweeps()
	if err != nil {
		return st, err
	}
	if bs, err := tx.BulkState(); err != nil {
		return st, err
	} else if bs.Pending() {
		st.Bulk = &bs
	}
	for _, h := range held {
		st.HeldSweeps = append(st.HeldSweeps, HeldSweepStatus{ID: h.ID, At: h.At, Sweeps: h.Sweeps,
			Mirrored: h.Mirrored, Listed: h.Listed, Missing: len(h.Misses), Reason: h.Reason})
	}
	return st, nil
}
