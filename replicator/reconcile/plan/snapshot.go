package plan

import (
	"errors"
	"sort"
	"strconv"

	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/store"
)

// snapshot is everything one reconcile reads, taken in one read transaction so the plan is
// computed from a consistent view without holding the transaction.
type snapshot struct {
	links    []*store.Link
	byGHL    map[string]*store.Link // kind/ghlID
	byPTD    map[string]*store.Link // kind/ptdID
	children map[string][]*store.Link
	bases    map[string]*store.Base
	ghlIDs   []string
	ghl      map[string]store.GHLContact
	ptdIDs   []string
	ptd      map[string]store.PTDClient
	// kids holds the children the kinds plan from, by kindSide (kind/side/parent id), in
	// mirror order.
	kids      map[string][]store.ChildRecord
	quar      map[string]store.QuarantineEntry // kind/side/id
	pending   map[string]bool                  // outbox record key kind/id
	conflicts map[string]store.Conflict        // linkID\x00field, open ones
	cycle     uint64
	// ptdListed: a PTD client listing has been stored to its last page (ptdpoll.CursorListed).
	ptdListed bool
}

func qk(kind, side, id string) string { return kind + "/" + side + "/" + id }

// loadKids reads the children the kinds plan from: the HighLevel side of every kind, and
// the PTD side of the BothWays kinds (a ToPTD kind never reads PTD back).
func (s *snapshot) loadKids(tx *store.Tx, ks []kinds.ChildKind) error {
	for _, k := range ks {
		sides := []string{store.SideGHL}
		if k.Direction == kinds.BothWays {
			sides = append(sides, store.SidePTD)
		}
		for _, side := range sides {
			if err := tx.ForEachChild(k.Name, side, func(r store.ChildRecord) error {
				key := kidsKey(k.Name, side, r.ParentID())
				s.kids[key] = append(s.kids[key], r)
				return nil
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func kidsKey(kind, side, parent string) string { return kind + "/" + side + "/" + parent }

// kidsOf returns the children of kind on side under parent.
func (s *snapshot) kidsOf(kind, side, parent string) []store.ChildRecord {
	return s.kids[kidsKey(kind, side, parent)]
}

// linkedPTD reports whether a link of kind, or of one of claimedBy, names PTD record id.
func (s *snapshot) linkedPTD(id, kind string, claimedBy []string) bool {
	if s.byPTD[kind+"/"+id] != nil {
		return true
	}
	for _, c := range claimedBy {
		if s.byPTD[c+"/"+id] != nil {
			return true
		}
	}
	return false
}

// loadSnapshot reads everything one plan needs in one read transaction.
func (p *Planner) loadSnapshot() (*snapshot, error) {
	s := &snapshot{byGHL: map[string]*store.Link{}, byPTD: map[string]*store.Link{}, children: map[string][]*store.Link{},
		bases: map[string]*store.Base{}, ghl: map[string]store.GHLContact{}, ptd: map[string]store.PTDClient{},
		kids: map[string][]store.ChildRecord{}, quar: map[string]store.QuarantineEntry{},
		pending: map[string]bool{}, conflicts: map[string]store.Conflict{}}
	err := p.Store.View(func(tx *store.Tx) error {
		if err := tx.ForEachLink(func(l *store.Link) error {
			s.links = append(s.links, l)
			if l.GHLID != "" {
				s.byGHL[l.Kind+"/"+l.GHLID] = l
			}
			if l.PTDID != "" {
				s.byPTD[l.Kind+"/"+l.PTDID] = l
			}
			if l.ParentLinkID != "" {
				s.children[l.ParentLinkID] = append(s.children[l.ParentLinkID], l)
			}
			b, err := tx.GetBase(l.ID)
			if err == nil {
				s.bases[l.ID] = &b
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
			s.ghl[c.ID] = *c
			s.ghlIDs = append(s.ghlIDs, c.ID)
			return nil
		}); err != nil {
			return err
		}
		if err := tx.ForEachPTDClient(func(c *store.PTDClient) error {
			s.ptd[c.ID] = *c
			s.ptdIDs = append(s.ptdIDs, c.ID)
			return nil
		}); err != nil {
			return err
		}
		if err := s.loadKids(tx, p.Kinds); err != nil {
			return err
		}
		qs, err := tx.Quarantined()
		if err != nil {
			return err
		}
		for _, q := range qs {
			s.quar[qk(q.Kind, q.Side, q.ID)] = q
		}
		if err := tx.ForEachOutbox(func(o *store.OutboxEntry) error {
			s.pending[o.RecordKind+"/"+o.RecordID] = true
			return nil
		}); err != nil {
			return err
		}
		cs, err := tx.Conflicts("", false)
		if err != nil {
			return err
		}
		for _, c := range cs {
			s.conflicts[c.LinkID+"\x00"+c.Field] = c
		}
		if c, err := tx.Cursor(CursorCycle); err == nil {
			s.cycle, _ = strconv.ParseUint(c.Value, 10, 64)
		}
		s.ptdListed, err = ptdpoll.Listed(tx)
		return err
	})
	sort.Strings(s.ghlIDs)
	sort.Strings(s.ptdIDs)
	return s, err
}
