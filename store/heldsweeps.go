package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// HeldSweep is a sweep whose listing was not believed: it would have quarantined too much,
// or the listing contradicted itself (see replicator/sweepguard). Its misses got no
// confirmation; the record keeps them, with how many consecutive suspect sweeps each was
// missing from, so that an operator who knows the deletions are real can approve it
// (`ptsync quarantine approve`) and give them those confirmations. There is at most one per
// ID: a later suspect sweep of the same listing updates it, a later believed one removes it.
type HeldSweep struct {
	// ID names the listing: side/kind for a location-wide one ("ghl/contact",
	// "ptd/contact"), side/kind/parent for one record's children ("ghl/task/<contact>").
	ID    string `json:"id"`
	Side  string `json:"side"`
	Kind  string `json:"kind"`
	Scope string `json:"scope,omitempty"` // the parent of a children listing
	// FirstAt is the first suspect sweep of the run, At the latest; Sweeps counts them.
	FirstAt time.Time `json:"firstAt"`
	At      time.Time `json:"at"`
	Sweeps  int       `json:"sweeps"`
	// The latest sweep's evidence: records the mirror held for the listing, distinct
	// records listed, the total the listing reported (-1: it reports none), and why it was
	// not believed.
	Mirrored int    `json:"mirrored"`
	Listed   int    `json:"listed"`
	Reported int    `json:"reported"`
	Reason   string `json:"reason"`
	// Misses maps each record the latest sweep lacked to the number of consecutive suspect
	// sweeps it was missing from.
	Misses map[string]int `json:"misses"`
}

// HeldSweepID is the ID of a listing's held sweep (scope "" for a location-wide listing).
func HeldSweepID(side, kind, scope string) string {
	id := side + "/" + kind
	if scope != "" {
		id += "/" + scope
	}
	return id
}

// HoldSweep records a suspect sweep of h's listing that lacked missing: h's evidence
// replaces the stored one, Sweeps grows by one, and each miss counts one more suspect sweep
// (a record listed this time is no longer a miss). ID, FirstAt, At and Misses are filled in;
// the stored record is returned.
func (tx *Tx) HoldSweep(h HeldSweep, missing []string) (HeldSweep, error) {
	h.ID = HeldSweepID(h.Side, h.Kind, h.Scope)
	if err := checkID("held sweep", h.ID); err != nil {
		return h, err
	}
	old, err := tx.HeldSweepOf(h.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return h, err
	}
	h.At = tx.now().UTC()
	h.FirstAt, h.Sweeps = h.At, 1
	if err == nil {
		h.FirstAt, h.Sweeps = old.FirstAt, old.Sweeps+1
	}
	h.Misses = make(map[string]int, len(missing))
	for _, id := range missing {
		h.Misses[id] = old.Misses[id] + 1
	}
	return h, tx.putJSON(bucketHeldSweeps, h.ID, h)
}

// HeldSweepOf returns the held sweep id; ErrNotFound when that listing is not held.
func (tx *Tx) HeldSweepOf(id string) (HeldSweep, error) {
	var h HeldSweep
	return h, tx.getJSON(bucketHeldSweeps, id, &h)
}

// DropHeldSweep forgets the held sweep id (a believed sweep of the listing, or an approval);
// absent is not an error.
func (tx *Tx) DropHeldSweep(id string) error {
	b, err := tx.bucket(bucketHeldSweeps)
	if err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// HeldSweeps returns every held sweep in ID order.
func (tx *Tx) HeldSweeps() ([]HeldSweep, error) {
	var out []HeldSweep
	err := tx.forEachJSON(bucketHeldSweeps, "", func(v []byte) error {
		var h HeldSweep
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("cannot decode held sweep: %w: %v", ErrCorrupt, err)
		}
		out = append(out, h)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}
