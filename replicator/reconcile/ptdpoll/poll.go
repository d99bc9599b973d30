// Package ptdpoll brings PT Distinction into the mirror, the reconcile side's counterpart of
// package ingest: the incremental client poll, the rotation that re-reads every client's
// tasks and notes at least once per period (PT Distinction reports no child changes), the
// full sweep that finds deleted clients (through the sweep guard), and the events a driver
// pushes. It only writes the mirror; the planner reads what it stored.
//
// Every step is restartable: a page's clients commit with the cursor that covers them and
// with their children marks, so a kill loses neither a change nor the re-read it asks for.
package ptdpoll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/metrics"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/remote"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// Cursor names this package keeps in the store (part of the mirror's file format).
const (
	// CursorClients is the PTD client listing position: Value is the contract's opaque
	// cursor of the last page's start (the contract gives no cursor after the last page, so
	// that page is re-read and de-duplicated on (id, updatedAt)), held at the start of the
	// first page that showed a client stamped in the future; Through the greatest updatedAt
	// stored, never later than the server's clock when it answered (store.Signpost).
	CursorClients = "ptd.clients"
	// CursorChildren is the rotation of the PTD child refresh: Value is the last client
	// id re-read, Through the rotation's clock (how far into the period it has gone).
	CursorChildren = "ptd.children.rotation"
	// CursorChildrenPending holds the PTD clients marked for a children refresh (Value: a
	// JSON array of client ids), written in the transaction that stored the change.
	CursorChildrenPending = "ptd.children.pending"
	// CursorListed exists once a PTD client listing has reached its last page: from then
	// on the mirror holds every client PTD had, and a HighLevel contact that matches none of
	// them may be created in PTD. UpdatedAt is when the first complete listing was stored
	// (Through stays zero: the marker follows no timestamp, so status shows no lag for it).
	CursorListed = "ptd.clients.listed"
)

// Options build a Poller. Store, Remote, Mapping and Logger are required; Now defaults to
// time.Now.
type Options struct {
	Store   *store.DB
	Remote  *remote.Systems
	Mapping *mapping.Mapping
	// Kinds are the child kinds whose PTD side the rotation re-reads (the BothWays ones the
	// driver can list).
	Kinds   []kinds.ChildKind
	Guard   sweepguard.Bounds
	Metrics *metrics.Metrics // may be nil
	Logger  hclog.Logger
	Now     func() time.Time
	// PageSize is the client listing page size (1 to 500).
	PageSize int
	// ChildrenPerPoll bounds how many clients get their children re-read per Poll; negative
	// means every client on every poll. ChildrenPeriod (> 0) is how often the rotation
	// re-reads every client at least.
	ChildrenPerPoll int
	ChildrenPeriod  time.Duration
}

// Poller mirrors one PT Distinction account. Its methods do not lock against each other:
// the caller runs one at a time (the reconcile Engine's job lock), except ChildrenLag and
// HandleEvent, which are safe beside any of them.
type Poller struct{ Options }

// New returns a Poller over o. It performs no I/O.
func New(o Options) *Poller {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Poller{o}
}

// PollStats reports one Poll; on error, what was stored before it (committed pages stay).
type PollStats struct {
	Pages    int
	Read     int // clients listed
	Changed  int // clients new or changed in the mirror
	Children int // clients whose tasks and notes were re-read
	Skipped  bool
}

// Poll mirrors PT Distinction: clients changed since the stored cursor (one transaction per
// page, with the cursor and the changed clients' children marks), then the tasks and notes of
// the marked clients and of the rotation's share of every client (see refreshChildren; one
// transaction per 100 clients, replacing the mirror's copies and clearing their marks). A
// driver without client reads (zapier) is skipped, said once. Safe to repeat; on error the
// committed pages stay and the next call resumes.
func (p *Poller) Poll(ctx context.Context) (PollStats, error) {
	var st PollStats
	if p.Remote.PTD == nil || !p.Remote.Can(ptd.CapClientRead, "poll ptd clients") {
		st.Skipped = true
		return st, nil
	}
	cur, err := p.clientsCursor()
	if err != nil {
		return st, err
	}
	changed := map[string]bool{}
	// The walk reads every page, but the stored position stops before the first page that
	// showed a client stamped in the future: the listing orders by updatedAt, so a cursor past
	// that client would skip every client changed later (stamped earlier) until the clock
	// catches up. The held pages (the future clients sort last) are re-read each poll.
	pos, held := cur.Value, false
	for {
		sent := p.Now().UTC()
		page, err := p.Remote.PTD.ListClientsPage(ctx, pos, p.PageSize)
		if err != nil {
			return st, fmt.Errorf("cannot poll ptd clients after %d pages: %w", st.Pages, err)
		}
		st.Pages++
		st.Read += len(page.Clients)
		sp := store.NewSignpost(page.Date, sent, 0)
		held = held || slices.ContainsFunc(page.Clients, func(c ptdwire.Client) bool { return sp.Future(mapping.ParseTime(c.UpdatedAt, time.UTC)) })
		if !held && page.NextCursor != "" {
			cur.Value = page.NextCursor
		}
		if cur, err = p.storeClients(page.Clients, sp, cur, changed); err != nil {
			return st, err
		}
		if page.NextCursor == "" {
			break
		}
		pos = page.NextCursor
	}
	st.Changed = len(changed)
	if err := p.markListed(); err != nil {
		return st, err
	}
	n, err := p.refreshChildren(ctx)
	st.Children = n
	return st, err
}

// clientsCursor reads CursorClients; the zero cursor before the first poll.
func (p *Poller) clientsCursor() (store.Cursor, error) {
	var cur store.Cursor
	if err := p.Store.View(func(tx *store.Tx) error {
		c, err := tx.Cursor(CursorClients)
		if err == nil {
			cur = c
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return cur, fmt.Errorf("cannot read ptd cursor: %w", err)
	}
	return cur, nil
}

// storeClients writes the listed clients that are new or changed (by ETag and updatedAt)
// with their children marks and the cursor (cur's Value, its Through moved to the newest
// client but never past sp's bound) in one transaction, and records the changed ids in
// changed. A written client stamped in the future of sp is counted and logged after the
// commit, once: its re-reads are unchanged. It returns the cursor stored.
func (p *Poller) storeClients(clients []ptdwire.Client, sp store.Signpost, cur store.Cursor, changed map[string]bool) (store.Cursor, error) {
	now := p.Now().UTC()
	var future []store.PTDClient
	next := cur
	err := p.Store.Update(func(tx *store.Tx) error {
		future = future[:0]
		var marks []string
		var newest time.Time
		for _, c := range clients {
			rec := p.Mapping.PTDRecord(c, now)
			if rec.UpdatedAt.After(newest) {
				newest = rec.UpdatedAt
			}
			old, err := tx.GetPTDClient(rec.ID)
			if err == nil && old.ETag == rec.ETag && old.UpdatedAt.Equal(rec.UpdatedAt) {
				continue
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.PutPTDClient(&rec); err != nil {
				return err
			}
			changed[rec.ID] = true
			marks = append(marks, rec.ID)
			if sp.Future(rec.UpdatedAt) {
				future = append(future, rec)
			}
		}
		if err := MarkChildren(tx, marks, nil); err != nil {
			return err
		}
		next = store.Cursor{Value: cur.Value, Covers: store.PTDClients, Through: sp.Through(cur.Through, newest)}
		return tx.SetCursor(CursorClients, next)
	})
	if err != nil {
		return cur, fmt.Errorf("cannot store ptd clients page: %w", err)
	}
	for _, rec := range future {
		p.Metrics.FutureTimestamp(metrics.UpstreamPTD)
		p.Logger.Warn("pt distinction client stamped in the future; applied, cursor held at the request time",
			"id", rec.ID, "updated_at", rec.UpdatedAt.Format(time.RFC3339Nano), "answered_at", sp.At.Format(time.RFC3339))
	}
	return next, nil
}

// markListed records, once, that a client listing has been stored to its last page
// (CursorListed). A crash before it is written only delays PTD creates to the next poll.
func (p *Poller) markListed() error {
	err := p.Store.Update(func(tx *store.Tx) error {
		if _, err := tx.Cursor(CursorListed); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.SetCursor(CursorListed, store.Cursor{Value: "complete", Covers: store.PTDClients})
	})
	if err != nil {
		return fmt.Errorf("cannot record the first complete ptd listing: %w", err)
	}
	return nil
}

// Listed reports whether a PTD client listing has ever been stored to its last page: until
// then PTD may hold a person on a page not read yet, so the planner creates no PTD client.
func Listed(tx *store.Tx) (bool, error) {
	_, err := tx.Cursor(CursorListed)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
