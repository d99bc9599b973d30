package sweepguard

import (
	"errors"
	"fmt"
	"sort"

	"ptsync/store"
)

// Approval reports what approving one held sweep did.
type Approval struct {
	ID string `json:"id"`
	// Confirmed counts the misses given their denied confirmations (records the mirror still
	// held); Gone counts misses the mirror no longer held (nothing to confirm).
	Confirmed int `json:"confirmed"`
	Gone      int `json:"gone"`
}

// AllHeld is the id that approves every held sweep.
const AllHeld = "all"

// Approve releases the held sweep id (or every one, for AllHeld) in tx: each miss the mirror
// still holds gets the confirmations the suspect sweeps denied it, exactly as if those sweeps
// had been believed (children are removed from the mirror and quarantined the way a children
// refresh would), and the held record is dropped. The delete policy then applies at the next
// reconcile to what reached deletes.confirmations. Use it only when the deletions are real:
// it cannot be taken back, but a record that turns out to exist is released by the next sweep
// that lists it, and an applied policy is undone. An unknown id matches store.ErrNotFound.
func Approve(tx *store.Tx, id string) ([]Approval, error) {
	var held []store.HeldSweep
	if id == AllHeld {
		hs, err := tx.HeldSweeps()
		if err != nil {
			return nil, err
		}
		held = hs
	} else {
		h, err := tx.HeldSweepOf(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("cannot approve %q: %w: %w", id, ErrNotHeld, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		held = []store.HeldSweep{h}
	}
	out := []Approval{}
	for _, h := range held {
		a, err := approveOne(tx, h)
		if err != nil {
			return nil, fmt.Errorf("cannot approve held sweep %s: %w", h.ID, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func approveOne(tx *store.Tx, h store.HeldSweep) (Approval, error) {
	a := Approval{ID: h.ID}
	ids := make([]string, 0, len(h.Misses))
	for id := range h.Misses {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ok, err := confirmMiss(tx, h, id, h.Misses[id])
		if err != nil {
			return a, err
		}
		if ok {
			a.Confirmed++
		} else {
			a.Gone++
		}
	}
	return a, tx.DropHeldSweep(h.ID)
}

// confirmMiss does for one miss what a believed sweep would have done; ok is false when the
// mirror no longer holds the record.
func confirmMiss(tx *store.Tx, h store.HeldSweep, id string, n int) (ok bool, err error) {
	switch {
	case h.Kind == store.KindContact && h.Side == store.SideGHL:
		_, err = tx.GetGHLContact(id)
	case h.Kind == store.KindContact && h.Side == store.SidePTD:
		_, err = tx.GetPTDClient(id)
	default:
		return confirmChild(tx, h, id, n)
	}
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = tx.ConfirmMissing(h.Kind, h.Side, id, n)
	return err == nil, err
}

// confirmChild removes a vanished task or note from the mirror and quarantines it: always on
// the HighLevel side, only when linked on the PTD side (as the children refreshes do).
func confirmChild(tx *store.Tx, h store.HeldSweep, id string, n int) (bool, error) {
	del := map[[2]string]func(tx *store.Tx, parent, id string) error{
		{store.SideGHL, store.KindTask}: (*store.Tx).DeleteGHLTask,
		{store.SideGHL, store.KindNote}: (*store.Tx).DeleteGHLNote,
		{store.SidePTD, store.KindTask}: (*store.Tx).DeletePTDTask,
		{store.SidePTD, store.KindNote}: (*store.Tx).DeletePTDNote,
	}[[2]string{h.Side, h.Kind}]
	if del == nil {
		return false, fmt.Errorf("%w: no sweep of %s %s records", store.ErrInvalid, h.Side, h.Kind)
	}
	err := del(tx, h.Scope, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if h.Side == store.SidePTD {
		if _, err := tx.LinkByPTD(h.Kind, id); errors.Is(err, store.ErrNotFound) {
			return true, nil
		} else if err != nil {
			return false, err
		}
	}
	_, err = tx.ConfirmMissing(h.Kind, h.Side, id, n)
	return err == nil, err
}
