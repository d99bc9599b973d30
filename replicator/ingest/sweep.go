package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/store"
)

// SweepStats reports one full sweep.
type SweepStats struct {
	Pages   int
	Seen    int // distinct contacts listed
	Changed int // new or changed contacts written
	Fetched int // contacts fetched one by one because the listing row lacked dateUpdated
	// Quarantined counts mirrored contacts missing from this complete sweep (new or confirmed
	// quarantine entries); Released counts quarantined contacts that were listed again.
	Quarantined int
	Released    int
	Complete    bool
}

// Sweep lists every contact through GET /contacts/ (both startAfter and startAfterId, the
// client guards against a repeated cursor), writes contacts that are new or changed, and after
// a complete listing holds every mirrored contact it did not see in the store's quarantine.
// Contacts written after the sweep started are never quarantined by it (they may have been
// created behind its position). A quarantined contact that is listed again is released. An
// interrupted sweep quarantines nothing; the next one starts from the beginning.
func (p *Poller) Sweep(ctx context.Context) (SweepStats, error) { return p.sweep(ctx, nil) }

func (p *Poller) sweep(ctx context.Context, progress func(done, total int)) (SweepStats, error) {
	set := p.settings()
	start := p.now().UTC()
	var st SweepStats
	quarantined := map[string]bool{}
	if err := p.db.View(func(tx *store.Tx) error {
		qs, err := tx.Quarantined()
		for _, q := range qs {
			if q.Kind == store.KindContact && q.Side == store.SideGHL {
				quarantined[q.ID] = true
			}
		}
		return err
	}); err != nil {
		return st, fmt.Errorf("cannot read quarantine: %w", err)
	}
	seen := map[string]bool{}
	for page, err := range p.c.ListPages(ctx, ghl.ListParams{Limit: set.SweepPageLimit}) {
		if err != nil {
			return st, fmt.Errorf("cannot sweep contacts after %d pages: %w", st.Pages, err)
		}
		st.Pages++
		var full, thin []ghlwire.Contact
		for _, c := range page.Contacts {
			if c.ID == "" || seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			if c.DateUpdated == "" {
				thin = append(thin, c)
			} else {
				full = append(full, c)
			}
		}
		// Rows without dateUpdated (the spec's reduced listing schema) are fetched in full
		// when the mirror lacks them; known ones are only counted as seen.
		for _, c := range thin {
			var known bool
			_ = p.db.View(func(tx *store.Tx) error {
				_, err := tx.GetGHLContact(c.ID)
				known = err == nil
				return nil
			})
			if known {
				continue
			}
			fc, err := p.c.GetContact(ctx, c.ID)
			if errors.Is(err, ghl.ErrNotFound) {
				continue
			}
			if err != nil {
				return st, fmt.Errorf("cannot fetch listed contact %s: %w", c.ID, err)
			}
			st.Fetched++
			full = append(full, fc)
		}
		changed, _, err := p.commitPage(full, func(tx *store.Tx, _ time.Time) error {
			for _, c := range page.Contacts {
				if quarantined[c.ID] {
					if err := tx.ClearQuarantine(store.KindContact, store.SideGHL, c.ID); err != nil {
						return err
					}
				}
			}
			return tx.SetCursor(CursorSweep, store.Cursor{Value: encodeCursor(page.Next)})
		})
		if err != nil {
			return st, err
		}
		for _, c := range page.Contacts {
			if quarantined[c.ID] {
				delete(quarantined, c.ID)
				st.Released++
			}
		}
		st.Changed += changed
		st.Seen = len(seen)
		if progress != nil {
			progress(st.Seen, page.Total)
		}
	}
	// The listing is complete: whatever the mirror holds that it did not list is gone. The
	// write lock and the generation tell a children refresh in flight that its snapshot of
	// the quarantine may be stale (see refreshOne).
	p.qmu.Lock()
	defer p.qmu.Unlock()
	err := p.db.Update(func(tx *store.Tx) error {
		p.qgen.Add(1)
		st.Quarantined = 0
		var missing []string
		if err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if !seen[c.ID] && c.FetchedAt.Before(start) {
				missing = append(missing, c.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range missing {
			q, err := tx.QuarantineDelete(store.KindContact, store.SideGHL, id)
			if err != nil {
				return err
			}
			p.log.Info("contact missing from sweep; held in quarantine", "id", id, "confirmations", q.Confirmations)
			st.Quarantined++
		}
		return tx.SetCursor(CursorSweep, store.Cursor{Value: "complete"})
	})
	if err != nil {
		return st, fmt.Errorf("cannot record sweep result: %w", err)
	}
	st.Complete = true
	return st, nil
}
