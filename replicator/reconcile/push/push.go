// Package push is the last stage of reconciling: it drains the outbox that the planner wrote
// to HighLevel and PT Distinction, and records each success in the transaction that removes
// the entry, with the link's new ids, the new base and the mirror's copy of what was written
// (so the next poll of the target reads back what the mirror holds: echo suppression). It
// only reads the plan from the outbox (package outbox is the contract), never the planner.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/diff"
	"ptsync/metrics"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/replicator/reconcile/remote"
	"ptsync/store"
)

// Options build a Pusher. Store, Remote, Mapping and Logger are required; Now defaults to
// time.Now.
type Options struct {
	Store   *store.DB
	Remote  *remote.Systems
	Mapping *mapping.Mapping
	// Kinds are the child kinds whose entries are pushed (an entry of another kind is
	// dead-lettered as invalid).
	Kinds []kinds.ChildKind
	// Config is the pusher block: max_attempts (0: 8), backoff_base (0: 1 s) and
	// backoff_max (0: 5 min).
	Config  config.Pusher
	Metrics *metrics.Metrics // may be nil
	Logger  hclog.Logger
	Now     func() time.Time
	// Batch bounds the entries one round takes, Workers how many are pushed at once per
	// target, GroupCommit how many pushed entries share one transaction; all > 0.
	Batch, Workers, GroupCommit int
	// Seed seeds the backoff jitter.
	Seed uint64
}

// Pusher applies outbox entries. Options are read-only after New. Push is not safe to call
// concurrently with itself; its own workers share the Pusher safely.
type Pusher struct {
	Options

	rngMu sync.Mutex // guards rng (workers back off concurrently)
	rng   *rand.Rand
	holds holdoff // targets refusing every write

	catMu    sync.Mutex        // guards groups and packages (workers share them)
	groups   map[string]string // lower-case group name or id -> id (REST catalogue cache)
	packages map[string]string
}

// New returns a Pusher over o. It performs no I/O.
func New(o Options) *Pusher {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Pusher{Options: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x7e57))}
}

// childEnv is the environment of the kinds' calls.
func (p *Pusher) childEnv() kinds.ChildEnv {
	return kinds.NewEnv(p.Remote, p.Mapping.Options.Locale.Location, p.Now)
}

// Stats reports one Push, counting outcomes once their transaction committed; on error, the
// outcomes settled before it.
type Stats struct {
	Pushed    int // entries applied and removed
	Coalesced int // entries folded into an earlier one of the same record
	Failed    int // attempts that failed and will be retried
	Dead      int // entries dead-lettered
	Deferred  int // entries waiting for their parent record to be created
	Dropped   int // entries superseded (re-planned from fresh data)
}

// Add adds o to s (the two pushes of a Cycle).
func (s *Stats) Add(o Stats) {
	s.Pushed += o.Pushed
	s.Coalesced += o.Coalesced
	s.Failed += o.Failed
	s.Dead += o.Dead
	s.Deferred += o.Deferred
	s.Dropped += o.Dropped
}

// errDefer: the entry cannot run yet (its parent has no id on the target); not an attempt.
var errDefer = errors.New("waiting for the parent record")

// errSuperseded: the target changed under the entry; it is dropped and the next reconcile
// re-plans from the fresh copy.
var errSuperseded = errors.New("superseded by a newer copy of the record")

// Push drains the outbox in rounds: entries due now, per record in order (the store holds
// back later entries of a record until the earlier one is done), consecutive updates of one
// record folded into one call (see pushRound for the workers). Success removes the entry in
// the transaction that stores the new base, the link and the mirror's copy of what was
// written (echo suppression). A failure is retried with full-jitter exponential backoff and
// dead-lettered after pusher.max_attempts; a refusal that cannot change (validation,
// read-only token, missing capability) is dead-lettered at once, and a target that refuses
// every write (a rejected credential, an open breaker, the daily budget spent) is held off
// without spending attempts. Creates always look the record up on the target first, so a
// create whose outcome was unknown (timeout, crash between the call and the commit) never
// makes a duplicate. A round reads the outbox again only once all its transactions have
// committed, so no entry is pushed twice by one Push. Push must not run twice at once on one
// mirror (the Engine's job lock serializes it).
func (p *Pusher) Push(ctx context.Context) (Stats, error) {
	var st Stats
	for round := 0; round < 1000; round++ {
		var parts [][]store.OutboxEntry
		if err := p.Store.View(func(tx *store.Tx) error {
			due, err := tx.OutboxDue(p.Now(), p.Batch)
			if err != nil {
				return err
			}
			parts, err = partition(tx, due)
			return err
		}); err != nil {
			return st, fmt.Errorf("cannot read outbox: %w", err)
		}
		if len(parts) == 0 {
			break
		}
		rs, progress, err := p.pushRound(ctx, parts)
		st.Add(rs)
		if err != nil {
			return st, err
		}
		if !progress {
			break
		}
	}
	return st, nil
}

// job is one entry being pushed with what it needs from the mirror.
type job struct {
	o       store.OutboxEntry
	pl      outbox.Payload
	link    store.Link
	parent  store.Link
	folded  []uint64 // coalesced entries removed with o
	mirrorG *store.GHLContact
	mirrorP *store.PTDClient
}

// attemptOne applies one entry (and the consecutive updates folded into it) on its target and
// returns the transaction that records the outcome, without committing it: on success (err
// nil) it removes the entries and stores the new base, link and mirror copy; when the entry
// was superseded (errSuperseded) it stores the fresh copy and drops the entry; errDefer and
// any other error come with a nil transaction (the caller records a failed attempt). n is
// the number of entries folded into this one.
func (p *Pusher) attemptOne(ctx context.Context, o store.OutboxEntry) (n int, fn commitFn, err error) {
	j, gone, err := p.loadJob(o)
	if err != nil {
		return 0, nil, err
	}
	if gone { // the link was removed (e.g. by a delete): nothing to apply
		return 0, func(tx *store.Tx) error { return ignoreMissing(tx.RemoveOutbox(o.Seq)) }, nil
	}
	if err := p.writable(ctx, o); err != nil {
		return 0, nil, err
	}
	commit, err := p.apply(ctx, j)
	p.Metrics.PushDone(o.Target, o.Op, nilUnlessReal(err))
	if err != nil {
		if errors.Is(err, errSuperseded) {
			return 0, func(tx *store.Tx) error {
				if commit != nil {
					if err := commit(tx); err != nil {
						return err
					}
				}
				return ignoreMissing(tx.RemoveOutbox(o.Seq))
			}, err
		}
		return 0, nil, err
	}
	return len(j.folded), func(tx *store.Tx) error {
		if err := tx.RemoveOutbox(o.Seq); err != nil {
			return err
		}
		for _, s := range j.folded {
			if err := ignoreMissing(tx.RemoveOutbox(s)); err != nil {
				return err
			}
		}
		if commit != nil {
			return commit(tx)
		}
		return nil
	}, nil
}

// loadJob decodes o and reads, in one read transaction, its link, the link's parent and the
// mirror's copies of the contact on both sides, and folds the live updates queued behind an
// update (coalesce). gone reports that the link no longer exists (nothing to apply). A
// payload that does not decode is ptd.ErrInvalidInput: no retry can apply it.
func (p *Pusher) loadJob(o store.OutboxEntry) (j *job, gone bool, err error) {
	j = &job{o: o}
	if err := json.Unmarshal(o.Payload, &j.pl); err != nil {
		return nil, false, fmt.Errorf("cannot decode outbox entry %d: %w: %w", o.Seq, ptd.ErrInvalidInput, err)
	}
	if err := p.Store.View(func(tx *store.Tx) error {
		l, err := tx.GetLink(o.LinkID)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		j.link = l
		if l.ParentLinkID != "" {
			if j.parent, err = tx.GetLink(l.ParentLinkID); err != nil {
				return err
			}
		}
		contact := l
		if l.Kind != store.KindContact {
			contact = j.parent
		}
		if contact.GHLID != "" {
			if g, err := tx.GetGHLContact(contact.GHLID); err == nil {
				j.mirrorG = &g
			}
		}
		if contact.PTDID != "" {
			if c, err := tx.GetPTDClient(contact.PTDID); err == nil {
				j.mirrorP = &c
			}
		}
		if strings.HasSuffix(o.Op, ".update") {
			return p.coalesce(tx, j)
		}
		return nil
	}); err != nil {
		return nil, false, fmt.Errorf("cannot read outbox context: %w", err)
	}
	return j, gone, nil
}

// writable refuses an entry whose target cannot be written: HighLevel with a read-only
// token (ghl.ErrReadOnly: dead-lettered) or without a client, PTD without an adapter.
func (p *Pusher) writable(ctx context.Context, o store.OutboxEntry) error {
	if o.Target == store.SideGHL {
		if p.Remote.ReadOnly(ctx) {
			return fmt.Errorf("cannot push %s: %w", o.Op, ghl.ErrReadOnly)
		}
		if p.Remote.GHL == nil {
			return fmt.Errorf("cannot push %s: no highlevel client", o.Op)
		}
	} else if p.Remote.PTD == nil {
		return fmt.Errorf("cannot push %s: no ptd adapter", o.Op)
	}
	return nil
}

func nilUnlessReal(err error) error {
	if errors.Is(err, errDefer) {
		return nil
	}
	return err
}

func ignoreMissing(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// apply performs j on its target and returns what to commit on success.
func (p *Pusher) apply(ctx context.Context, j *job) (commitFn, error) {
	k, isChild := kinds.Find(p.Kinds, j.o.RecordKind)
	switch {
	case j.o.Op == outbox.OpClientCreate:
		return p.createClient(ctx, j)
	case j.o.Op == outbox.OpContactCreate:
		return p.createContact(ctx, j)
	case j.o.Op == outbox.OpClientUpdate:
		return p.updateClient(ctx, j)
	case j.o.Op == outbox.OpContactUpdate:
		return p.updateContact(ctx, j)
	case j.o.Op == outbox.OpClientRoute:
		return p.routeClient(ctx, j)
	case isChild:
		return p.pushChild(ctx, j, k)
	case j.o.Op == outbox.OpReminder:
		return p.sendReminder(ctx, j)
	case j.o.Op == outbox.OpDeletePolicy:
		return p.deletePolicy(ctx, j)
	case j.o.Op == outbox.OpDeleteUndo:
		return p.undoDeletePolicy(ctx, j)
	}
	return nil, fmt.Errorf("cannot push outbox entry %d: %w: unknown op %q", j.o.Seq, ptd.ErrInvalidInput, j.o.Op)
}

// commitFn runs in the success transaction.
type commitFn func(tx *store.Tx) error

// baseCommit merges the payload's field bases into the link's base.
func baseCommit(tx *store.Tx, linkID string, fields map[string]outbox.FieldWrite, at time.Time) error {
	b, err := tx.GetBase(linkID)
	if errors.Is(err, store.ErrNotFound) {
		b = store.Base{LinkID: linkID, Fields: map[string]string{}}
	} else if err != nil {
		return err
	}
	if b.Fields == nil {
		b.Fields = map[string]string{}
	}
	changed := false
	for f, w := range fields {
		if w.Base != nil {
			b.Fields[f] = *w.Base
			changed = true
		}
	}
	if !changed {
		return nil
	}
	b.AgreedAt = at.UTC()
	return tx.PutBase(b)
}

// byWire returns the payload's values keyed by the target's field names.
func byWire(fields map[string]outbox.FieldWrite) map[string]diff.Value {
	out := map[string]diff.Value{}
	for _, w := range fields {
		if w.Wire != "" {
			out[w.Wire] = w.Value
		}
	}
	return out
}

// coalesce folds the consecutive live updates of the same record, target and op that follow
// j.o into j.pl (later values win; set deltas are combined).
func (p *Pusher) coalesce(tx *store.Tx, j *job) error {
	es, err := tx.OutboxForRecord(j.o.RecordKind, j.o.RecordID)
	if err != nil {
		return err
	}
	after := false
	for _, n := range es {
		if n.Seq == j.o.Seq {
			after = true
			continue
		}
		if !after {
			continue
		}
		if n.Dead || n.Target != j.o.Target || n.Op != j.o.Op {
			break
		}
		var pl outbox.Payload
		if json.Unmarshal(n.Payload, &pl) != nil {
			break
		}
		if j.pl.Fields == nil {
			j.pl.Fields = map[string]outbox.FieldWrite{}
		}
		for f, w := range pl.Fields {
			if prev, ok := j.pl.Fields[f]; ok {
				w = prev.Then(w)
			}
			j.pl.Fields[f] = w
		}
		j.folded = append(j.folded, n.Seq)
	}
	return nil
}
