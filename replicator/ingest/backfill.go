package ingest

import (
	"context"
	"errors"
	"fmt"

	"ptsync/store"
)

// Backfill phases reported in Progress.
const (
	PhaseContacts = "contacts"
	PhaseChildren = "children"
	PhaseDone     = "done"
)

// Progress is the backfill's progress: in PhaseContacts, Done contacts of Total reported by
// HighLevel; in PhaseChildren, Done contacts of Total whose children are fetched.
type Progress struct {
	Phase       string
	Done, Total int
}

// BackfillStats reports a backfill.
type BackfillStats struct {
	Contacts IncrementalStats
	Children ChildStats
}

// NeedsBackfill reports whether the first full sync has not completed yet (its cursor is
// missing from the mirror); one read transaction, safe beside the other methods.
func (p *Poller) NeedsBackfill() (bool, error) {
	var need bool
	err := p.db.View(func(tx *store.Tx) error {
		_, err := tx.Cursor(CursorBackfill)
		if errors.Is(err, store.ErrNotFound) {
			need = true
			return nil
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("cannot read backfill state: %w", err)
	}
	return need, nil
}

// Backfill runs the first full sync: every contact through the incremental search from the
// epoch (or a sweep if search is refused), staged for the store's bulk load and merged with
// the indexes built in key order once the walk ends (store.DB.CompleteBulkLoad), then the
// children of every contact not fetched yet, with the worker pool so the rate limiter is the
// bottleneck. It is resumable: an
// interrupted backfill continues from the search cursor and skips contacts whose children
// are stored. progress (may be nil) is called after each page and each contact; the metrics'
// backfill gauges follow the contacts phase. It records completion in the store.
func (p *Poller) Backfill(ctx context.Context, progress func(Progress)) (BackfillStats, error) {
	var st BackfillStats
	report := func(pr Progress) {
		if progress != nil {
			progress(pr)
		}
	}
	var err error
	st.Contacts, err = p.incremental(ctx, func(done, total int) {
		p.m.SetBackfill(done, total)
		report(Progress{Phase: PhaseContacts, Done: done, Total: total})
	}, true)
	if err != nil {
		return st, fmt.Errorf("cannot backfill contacts: %w", err)
	}
	// The walk staged the new contacts; merge them and build the indexes in key order
	// before anything reads the mirror through them (the children phase below does).
	if _, err := p.db.CompleteBulkLoad(ctx); err != nil {
		return st, fmt.Errorf("cannot backfill contacts: %w", err)
	}
	var ids []string
	snap, err := p.viewQuarantine(func(tx *store.Tx, _ map[string]bool) error {
		return tx.WithoutRaw().ReuseValues().ForEachGHLContact(func(c *store.GHLContact) error {
			if c.ChildrenFetchedAt.IsZero() {
				ids = append(ids, c.ID)
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("cannot list contacts for backfill: %w", err)
	}
	report(Progress{Phase: PhaseChildren, Done: 0, Total: len(ids)})
	st.Children = p.refresh(ctx, ids, ReasonDirty, func(n int) {
		report(Progress{Phase: PhaseChildren, Done: n, Total: len(ids)})
	}, snap)
	if st.Children.FirstErr != nil {
		return st, fmt.Errorf("cannot backfill children of %d contacts: %w", st.Children.Failed, st.Children.FirstErr)
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("backfill interrupted: %w", err)
	}
	if err := p.db.Update(func(tx *store.Tx) error {
		return tx.SetCursor(CursorBackfill, store.Cursor{Value: "complete"})
	}); err != nil {
		return st, fmt.Errorf("cannot record backfill completion: %w", err)
	}
	report(Progress{Phase: PhaseDone, Done: st.Contacts.Read, Total: st.Contacts.Read})
	return st, nil
}

// staging collects the contacts of one first-sync transaction that are new to the mirror,
// for store.Tx.StageGHLContacts: a contact read twice in the batch keeps the copy that
// sequential puts would have kept (Signpost.CopyStands).
type staging struct {
	at   map[string]int
	recs []store.GHLContact
}

// add stages r; false means an earlier copy in the batch stands and r is dropped.
func (s *staging) add(r *store.GHLContact, sp store.Signpost) bool {
	if s.at == nil {
		s.at = map[string]int{}
	}
	if i, ok := s.at[r.ID]; ok {
		if sp.CopyStands(s.recs[i].DateUpdated, r.DateUpdated) {
			return false
		}
		s.recs[i] = *r
		return true
	}
	s.at[r.ID] = len(s.recs)
	s.recs = append(s.recs, *r)
	return true
}

func (s *staging) rows() []store.GHLContact { return s.recs }
