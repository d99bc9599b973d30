package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/replicator/sweepguard"
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
	// Held is set when the guard did not believe the complete listing (HeldReason says
	// why): nothing was quarantined or confirmed, and Missing counts what would have been.
	Held       bool
	HeldReason string
	Missing    int
}

// Sweep lists every contact through GET /contacts/ (both startAfter and startAfterId, the
// client guards against a repeated cursor), writes contacts that are new or changed, and after
// a complete listing holds every mirrored contact it did not see in the store's quarantine.
// Contacts written after the sweep started are never quarantined by it (they may have been
// created behind its position). A quarantined contact that is listed again is released. An
// interrupted sweep quarantines nothing; the next one starts from the beginning. A complete
// listing the guard does not believe (sweepguard.Judge: it would quarantine too much, is
// empty while the mirror holds contacts, or returned fewer rows than its meta.total)
// quarantines and confirms nothing: it is recorded as a held sweep, logged once at ERROR and
// counted, until a believed sweep or `ptsync quarantine approve` settles it.
func (p *Poller) Sweep(ctx context.Context) (SweepStats, error) { return p.sweep(ctx, nil) }

func (p *Poller) sweep(ctx context.Context, progress func(done, total int)) (SweepStats, error) {
	set := p.settings()
	start := p.now().UTC()
	var st SweepStats
	quarantined, err := p.quarantinedContacts()
	if err != nil {
		return st, err
	}
	seen := map[string]bool{}
	reported := -1
	for page, err := range p.c.ListPages(ctx, ghl.ListParams{Limit: set.SweepPageLimit}) {
		if err != nil {
			return st, fmt.Errorf("cannot sweep contacts after %d pages: %w", st.Pages, err)
		}
		st.Pages++
		reported = page.Total // the last page's total: the location as the walk ended
		if err := p.sweepPage(ctx, page, seen, quarantined, &st); err != nil {
			return st, err
		}
		st.Seen = len(seen)
		if progress != nil {
			progress(st.Seen, page.Total)
		}
	}
	if err := p.settleSweep(set, start, seen, reported, &st); err != nil {
		return st, err
	}
	st.Complete = true
	return st, nil
}

// quarantinedContacts are the HighLevel contacts held in the quarantine that have not been
// listed again.
func (p *Poller) quarantinedContacts() (map[string]bool, error) {
	quarantined := map[string]bool{}
	if err := p.db.View(func(tx *store.Tx) error {
		qs, err := tx.Quarantined()
		for _, q := range qs {
			if q.Kind == store.KindContact && q.Side == store.SideGHL && q.Returned.IsZero() {
				quarantined[q.ID] = true
			}
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("cannot read quarantine: %w", err)
	}
	return quarantined, nil
}

// sweepPage stores one listing page: the contacts new or changed (rows without dateUpdated,
// the spec's reduced listing schema, fetched in full when the mirror lacks them), the release
// of the quarantined contacts it lists, and the sweep's position, in one transaction. seen
// takes the page's ids.
func (p *Poller) sweepPage(ctx context.Context, page ghl.ListPage, seen, quarantined map[string]bool, st *SweepStats) error {
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
	fetched, err := p.fetchUnknown(ctx, thin)
	st.Fetched += len(fetched)
	if err != nil {
		return err
	}
	full = append(full, fetched...)
	changed, _, err := p.commitPage(full, func(tx *store.Tx, _ time.Time) error {
		for _, c := range page.Contacts {
			if quarantined[c.ID] {
				// The put above may have released it already; this covers unchanged rows.
				if _, err := tx.ReleaseQuarantine(store.KindContact, store.SideGHL, c.ID); err != nil {
					return err
				}
				st.Released++
				delete(quarantined, c.ID)
			}
		}
		return tx.SetCursor(CursorSweep, store.Cursor{Value: encodeCursor(page.Next)})
	})
	if err != nil {
		return err
	}
	st.Changed += changed
	return nil
}

// fetchUnknown fetches in full the listed rows the mirror does not know yet; known ones are
// only counted as seen, and a contact gone meanwhile is skipped. On error it returns what it
// fetched before.
func (p *Poller) fetchUnknown(ctx context.Context, thin []ghlwire.Contact) ([]ghlwire.Contact, error) {
	var out []ghlwire.Contact
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
			return out, fmt.Errorf("cannot fetch listed contact %s: %w", c.ID, err)
		}
		out = append(out, fc)
	}
	return out, nil
}

// settleSweep runs once the listing is complete: whatever the mirror held before the sweep
// started that it did not list is gone, if the guard believes it (sweepguard.Judge), and is
// quarantined (one more confirmation); a listing it does not believe is recorded as held and
// reported once committed. The write lock and the generation tell a children refresh in
// flight that its snapshot of the quarantine may be stale (see refreshOne).
func (p *Poller) settleSweep(set Settings, start time.Time, seen map[string]bool, reported int, st *SweepStats) error {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	var held store.HeldSweep
	err := p.db.Update(func(tx *store.Tx) error {
		p.qgen.Add(1)
		st.Quarantined = 0
		ev := sweepguard.Evidence{Side: store.SideGHL, Kind: store.KindContact, Listed: len(seen), Reported: reported}
		if err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if c.FetchedAt.Before(start) {
				ev.Mirrored++
				if !seen[c.ID] {
					ev.Missing = append(ev.Missing, c.ID)
				}
			}
			return nil
		}); err != nil {
			return err
		}
		st.Missing = len(ev.Missing)
		v := sweepguard.Judge(set.Guard, ev)
		var err error
		if held, err = sweepguard.Record(tx, ev, v); err != nil {
			return err
		}
		st.Held, st.HeldReason = v.Suspect, v.Reason
		if !v.Suspect {
			for _, id := range ev.Missing {
				q, err := tx.QuarantineDelete(store.KindContact, store.SideGHL, id)
				if err != nil {
					return err
				}
				p.log.Debug("contact missing from sweep; held in quarantine", "id", id, "confirmations", q.Confirmations)
				st.Quarantined++
			}
		}
		if err := sweepguard.PublishHeld(tx, p.m); err != nil {
			return err
		}
		return tx.SetCursor(CursorSweep, store.Cursor{Value: "complete"})
	})
	if err != nil {
		return fmt.Errorf("cannot record sweep result: %w", err)
	}
	if st.Held {
		sweepguard.Report(p.log, p.m, held)
	}
	return nil
}
