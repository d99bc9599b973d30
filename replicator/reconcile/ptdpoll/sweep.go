package ptdpoll

import (
	"context"
	"fmt"

	"ptsync/apiclient/ptd"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// SweepStats reports one Sweep. Quarantined, Missing and Held are set only once the listing
// was complete.
type SweepStats struct {
	Pages       int
	Seen        int // distinct clients listed
	Quarantined int // mirrored clients missing from a believed listing (new or confirmed)
	Released    int // quarantined clients listed again
	Missing     int // mirrored clients the listing lacked
	// Held is set when the guard did not believe the listing (HeldReason says why): nothing
	// was quarantined or confirmed.
	Held       bool
	HeldReason string
	// Skipped is set when the driver cannot list clients (zapier): nothing is swept.
	Skipped bool
}

// Sweep lists every PTD client (one transaction per page, each listed client stored, which
// releases its quarantine entry) and, once the listing is complete, holds each mirrored
// client it lacked in the store's quarantine (one more confirmation per sweep); the delete
// policy then applies in the planner after deletes.confirmations. The sweep guard judges the
// complete listing first (sweepguard.Judge: empty while the mirror holds clients, or missing
// more than deletes.max_share / max_count of them): a listing it does not believe confirms
// nothing and is recorded as a held sweep, logged once at ERROR and counted. An interrupted
// sweep quarantines nothing. A driver that cannot list clients (zapier) is skipped, said
// once: it never notices a PTD deletion.
func (p *Poller) Sweep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	if p.Remote.PTD == nil || !p.Remote.Can(ptd.CapClientRead, "sweep ptd clients for deletions") {
		st.Skipped = true
		return st, nil
	}
	start := p.Now().UTC()
	seen, err := p.listAllClients(ctx, &st)
	if err != nil {
		return st, err
	}
	st.Seen = len(seen)
	var held store.HeldSweep
	err = p.Store.Update(func(tx *store.Tx) error {
		ev := sweepguard.Evidence{Side: store.SidePTD, Kind: store.KindContact, Listed: len(seen), Reported: -1}
		if err := tx.WithoutRaw().ForEachPTDClient(func(c *store.PTDClient) error {
			ev.Mirrored++
			if !seen[c.ID] && c.FetchedAt.Before(start) {
				ev.Missing = append(ev.Missing, c.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		st.Missing, st.Quarantined = len(ev.Missing), 0
		v := sweepguard.Judge(p.Guard, ev)
		var err error
		if held, err = sweepguard.Record(tx, ev, v); err != nil {
			return err
		}
		st.Held, st.HeldReason = v.Suspect, v.Reason
		if v.Suspect {
			return nil
		}
		for _, id := range ev.Missing {
			q, err := tx.QuarantineDelete(store.KindContact, store.SidePTD, id)
			if err != nil {
				return err
			}
			p.Logger.Debug("ptd client missing from sweep; held in quarantine", "id", id, "confirmations", q.Confirmations)
			st.Quarantined++
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("cannot quarantine missing ptd clients: %w", err)
	}
	if st.Held {
		sweepguard.Report(p.Logger, p.Metrics, held)
	}
	return st, nil
}

// listAllClients pages through every PTD client, storing each (a client new or changed is
// marked for a children refresh: the incremental poll will not see that change again), and
// returns the ids listed.
func (p *Poller) listAllClients(ctx context.Context, st *SweepStats) (map[string]bool, error) {
	var held map[string]bool
	if err := p.Store.View(func(tx *store.Tx) error {
		var err error
		held, err = goneClients(tx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("cannot read quarantine: %w", err)
	}
	seen := map[string]bool{}
	pos := ""
	for {
		page, err := p.Remote.PTD.ListClientsPage(ctx, pos, p.PageSize)
		if err != nil {
			return nil, fmt.Errorf("cannot sweep ptd clients after %d pages: %w", st.Pages, err)
		}
		st.Pages++
		now := p.Now().UTC()
		if err := p.Store.Update(func(tx *store.Tx) error {
			var marks []string
			for _, c := range page.Clients {
				rec := p.Mapping.PTDRecord(c, now)
				if old, err := tx.GetPTDClient(rec.ID); err != nil || old.ETag != rec.ETag || !old.UpdatedAt.Equal(rec.UpdatedAt) {
					marks = append(marks, rec.ID)
				}
				if err := tx.PutPTDClient(&rec); err != nil { // releases its quarantine entry
					return err
				}
			}
			return MarkChildren(tx, marks, nil)
		}); err != nil {
			return nil, fmt.Errorf("cannot store ptd sweep page: %w", err)
		}
		for _, c := range page.Clients {
			if !seen[c.ID] && held[c.ID] {
				st.Released++
			}
			seen[c.ID] = true
		}
		if page.NextCursor == "" {
			return seen, nil
		}
		pos = page.NextCursor
	}
}
