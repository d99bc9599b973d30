// Package sweepguard decides whether a complete listing is believed before any sweep turns
// its absences into quarantine confirmations. A listing upstream answered wrongly (a proxy
// that returns 200 with no rows, a truncated page set, a bug) looks exactly like mass
// deletion; believed, it would let the delete policy revoke every client. Like rclone
// bisync's --max-delete, the guard refuses a sweep that would quarantine more than a share
// or a count of what the mirror holds, and it refuses a listing that contradicts itself.
//
// Every sweep uses it, on both sides: HighLevel contacts and each contact's tasks and notes,
// PT Distinction clients and each client's tasks and notes. The sweep calls Judge with its
// evidence, then Record in the transaction that would have confirmed the misses; a suspect
// sweep confirms nothing and leaves a store.HeldSweep that status, metrics and `ptsync
// quarantine approve` read. The package keeps no state.
package sweepguard

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/go-hclog"

	"ptsync/config"
	"ptsync/metrics"
	"ptsync/store"
)

// Bounds limit what one sweep may quarantine (deletes.max_share and deletes.max_count).
type Bounds struct {
	MaxShare float64 // of the records the mirror holds for the listing, in (0, 1]
	MaxCount int
}

// Default bounds, as in config's defaults (rclone bisync's 50 % and a modest count).
const (
	DefaultMaxShare = 0.5
	DefaultMaxCount = 50
)

// BoundsFrom returns the bounds of a validated configuration's deletes block.
func BoundsFrom(d config.Deletes) Bounds {
	return Bounds{MaxShare: d.MaxShare, MaxCount: d.MaxCount}.withDefaults()
}

func (b Bounds) withDefaults() Bounds {
	if b.MaxShare <= 0 || b.MaxShare > 1 {
		b.MaxShare = DefaultMaxShare
	}
	if b.MaxCount <= 0 {
		b.MaxCount = DefaultMaxCount
	}
	return b
}

// ChildFloor is the Floor of a children listing: one record's tasks or notes are few, and a
// coach deleting one or two of them is ordinary, so the share and empty-listing rules only
// hold a children listing that would quarantine more than this many records.
const ChildFloor = 2

// Evidence is what a complete listing says, beside what the mirror holds.
type Evidence struct {
	Side, Kind string
	Scope      string // the parent of a children listing; "" for a location-wide one
	// Mirrored counts the records the mirror holds that the listing should have shown.
	Mirrored int
	// Listed counts the distinct records the listing returned.
	Listed int
	// Reported is the total the listing claims for itself (meta.total), -1 if it has none.
	Reported int
	// Missing are the mirrored records the listing lacks: what a believed sweep quarantines.
	Missing []string
	// Floor: the share and empty-listing rules ignore a sweep missing at most Floor records
	// (0 for a location-wide listing, ChildFloor for a children listing).
	Floor int
}

// ID names the listing (store.HeldSweepID).
func (ev Evidence) ID() string { return store.HeldSweepID(ev.Side, ev.Kind, ev.Scope) }

// Verdict is Judge's decision: Suspect with the Reason, or believed.
type Verdict struct {
	Suspect bool
	Reason  string
}

// Judge decides whether ev's listing is believed. It is suspect when it would quarantine
// something and: it reports a total larger than the rows it returned (pages went missing);
// it is empty while the mirror holds records; it would quarantine more than b.MaxCount
// records; or more than b.MaxShare of the mirrored ones. A listing that quarantines nothing
// is always believed. Judge is a pure function.
func Judge(b Bounds, ev Evidence) Verdict {
	b = b.withDefaults()
	n := len(ev.Missing)
	switch {
	case n == 0:
		return Verdict{}
	case ev.Reported >= 0 && ev.Reported > ev.Listed:
		return Verdict{true, fmt.Sprintf("the listing reports %d records but returned %d", ev.Reported, ev.Listed)}
	case ev.Listed == 0 && ev.Mirrored > 0 && n > ev.Floor:
		return Verdict{true, fmt.Sprintf("empty listing while the mirror holds %d records", ev.Mirrored)}
	case n > b.MaxCount:
		return Verdict{true, fmt.Sprintf("would quarantine %d records, more than max_count %d", n, b.MaxCount)}
	case n > ev.Floor && ev.Mirrored > 0 && float64(n) > b.MaxShare*float64(ev.Mirrored):
		return Verdict{true, fmt.Sprintf("would quarantine %d of %d mirrored records (%.0f%%), more than max_share %g",
			n, ev.Mirrored, 100*float64(n)/float64(ev.Mirrored), b.MaxShare)}
	}
	return Verdict{}
}

// Record writes v's outcome for ev's listing in tx: a suspect sweep is held (store.HoldSweep;
// the caller must then confirm nothing), a believed one drops any held sweep of the same
// listing, whose misses it has just judged afresh. It returns the held record (zero when
// believed).
func Record(tx *store.Tx, ev Evidence, v Verdict) (store.HeldSweep, error) {
	if !v.Suspect {
		return store.HeldSweep{}, tx.DropHeldSweep(ev.ID())
	}
	missing := append([]string(nil), ev.Missing...)
	sort.Strings(missing)
	h, err := tx.HoldSweep(store.HeldSweep{Side: ev.Side, Kind: ev.Kind, Scope: ev.Scope, Mirrored: ev.Mirrored,
		Listed: ev.Listed, Reported: ev.Reported, Reason: v.Reason}, missing)
	if err != nil {
		return h, fmt.Errorf("cannot hold sweep %s: %w", ev.ID(), err)
	}
	return h, nil
}

// Report logs the one ERROR line of a held sweep and counts it; call it after the
// transaction that recorded h committed. Believed sweeps are summarized by their caller.
func Report(log hclog.Logger, m *metrics.Metrics, h store.HeldSweep) {
	m.SweepHeld(h.Side, h.Kind)
	log.Error("sweep held as suspect; nothing quarantined", "listing", h.ID, "reason", h.Reason,
		"mirrored", h.Mirrored, "listed", h.Listed, "missing", len(h.Misses), "consecutive", h.Sweeps,
		"release", "ptsync quarantine approve "+h.ID)
}

// PublishHeld sets the held-sweeps gauge from tx.
func PublishHeld(tx *store.Tx, m *metrics.Metrics) error {
	hs, err := tx.HeldSweeps()
	if err != nil {
		return err
	}
	m.SetSweepsHeld(len(hs))
	return nil
}

// ErrNotHeld: the sweep an operator asked to approve is not held (any more).
var ErrNotHeld = errors.New("no such held sweep")
