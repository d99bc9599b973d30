// Package reconcile is the two-way half of ptsync: it polls PT Distinction into the mirror,
// links HighLevel contacts with PTD clients (stored link, else email, else phone, else a create
// on the other side), merges every linked pair field by field with diff.Merge against the
// stored base, writes the resulting plan to the outbox together with its history in one
// transaction, and drains the outbox to both systems. Tasks, notes and appointments,
// new-contact routing, task reminders and the delete policy ride on the same plan → outbox →
// push path.
//
// The Engine ties the stages together; each is a package of its own, in the order the data
// flows: ptdpoll (PT Distinction into the mirror), plan (mirror → outbox), push (outbox → both
// systems), over the shared kinds, mapping, outbox and remote. An Engine serializes its own
// jobs (PollPTD, SweepPTD, Reconcile, Plan, Push, Reminders, ResolveConflict, Cycle) with one
// mutex, so the scheduler may call them from different goroutines. Every step is
// restartable: cursors commit with the data they cover, an outbox entry leaves the outbox
// only in the transaction that records its success (base, link and mirror updated there too),
// and a create whose outcome is unknown is retried only after looking the record up on the
// target. The admin routes (admin.go) serve the operator's commands against a running service.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/plan"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/replicator/reconcile/push"
	"ptsync/replicator/reconcile/remote"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// Options build an Engine. Store and Config are required; GHL and PTD may be nil for an
// offline engine that only plans (ptsync plan) or resolves conflicts.
type Options struct {
	Store *store.DB
	GHL   remote.GHL
	PTD   ptd.Adapter
	// Config supplies mapping, routes, reminders, deletes and pusher settings. It must come
	// from config.Parse (validated, defaults applied).
	Config *config.Config
	// Metrics may be nil. Job runs and durations are the scheduler's to record; the engine
	// reports pushes, decisions, reminders, missing capabilities and the outbox gauges.
	Metrics *metrics.Metrics
	// Logger is used as given (name it at the call site).
	Logger hclog.Logger
	Now    func() time.Time
	// ReadOnly forces one-way sync (HighLevel → PTD). It is also switched on when
	// Config.GHL.ReadOnly() or GHL.ReadOnly reports a contacts.readonly token.
	ReadOnly bool
	// NoCreateInPTD and NoCreateInGHL disable creating unmatched records on that side.
	NoCreateInPTD, NoCreateInGHL bool
	// PTDPageSize is the client listing page size (default 200, at most 500).
	PTDPageSize int
	// PTDChildrenPerPoll bounds how many clients get their tasks and notes re-read per
	// PollPTD (default 5000; clients marked as changed go first, then the rotation; marks
	// over the bound wait for the next poll); negative means every client on every poll.
	PTDChildrenPerPoll int
	// PTDChildrenPeriod: every PTD client's tasks and notes are re-read at least this often
	// by the rotation (default: the configuration's ptd.children_period, which Parse sets to
	// an hour unless the file says otherwise; else its ghl.children_period, else 24 h).
	// PTD reports no child changes, so this is also how late a coach's task or note edit on
	// a client that did not otherwise change can reach HighLevel.
	PTDChildrenPeriod time.Duration
	// PushBatch bounds the outbox entries one Push round takes (default 1000).
	PushBatch int
	// PushWorkers is how many entries are pushed at once (default 8; 1 pushes one at a
	// time). Entries are partitioned by contact (a child record goes with its parent), so
	// each record's entries, and a parent's create before its children's, stay in order.
	// HighLevel calls still go through the client's rate limiter: workers only keep it busy.
	PushWorkers int
	// PushGroupCommit bounds how many pushed entries share one transaction (one fsync) when
	// several finish together (default 64; 1 commits each alone).
	PushGroupCommit int
	// Seed seeds the backoff jitter (0: random).
	Seed uint64
	// Offline builds an engine that only plans and resolves conflicts from the mirror (the
	// CLI): GHL and PTD must be nil, PTD is assumed to have OfflineCaps, and Push, PollPTD and
	// SweepPTD refuse to run. Nothing is ever sent anywhere.
	Offline     bool
	OfflineCaps ptd.Capabilities
	// ChildKinds are the child kinds planned, pushed and polled; nil means
	// DefaultChildKinds. Each must be registered in Store (store.ChildKind) on the sides it
	// reads.
	ChildKinds []kinds.ChildKind
}

// ErrOffline: a job that needs the network was asked of an offline engine.
var ErrOffline = errors.New("engine is offline (plan only)")

// Engine reconciles one HighLevel location with one PTD account: it owns one stage of each
// kind (plan.Planner, push.Pusher, ptdpoll.Poller) over the same mirror, clients and mapping,
// and runs them as jobs under one lock. Create it with New.
type Engine struct {
	db     *store.DB
	remote *remote.Systems
	cfg    *config.Config
	m      *metrics.Metrics
	log    hclog.Logger
	now    func() time.Time
	opts   Options

	planner *plan.Planner
	push    *push.Pusher
	poll    *ptdpoll.Poller
	mu      sync.Mutex // serializes jobs
}

// ErrConfig wraps every problem New finds in Options.
var ErrConfig = errors.New("invalid reconcile options")

// New checks opts and returns an Engine. It performs no I/O.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, fmt.Errorf("cannot create reconcile engine: %w: store and config are required", ErrConfig)
	}
	mp, err := mapping.New(opts.Config.Mapping)
	if err != nil {
		return nil, fmt.Errorf("cannot create reconcile engine: %w: %w", ErrConfig, err)
	}
	opts = withDefaults(opts)
	readOnly := opts.ReadOnly || opts.Config.GHL.ReadOnly()
	sys := remote.New(opts.GHL, opts.PTD, readOnly, opts.Logger, opts.Metrics)
	if opts.Offline {
		if opts.GHL != nil || opts.PTD != nil {
			return nil, fmt.Errorf("cannot create reconcile engine: %w: an offline engine takes no clients", ErrConfig)
		}
		sys = remote.Offline(opts.OfflineCaps, readOnly, opts.Logger, opts.Metrics)
	}
	e := &Engine{db: opts.Store, remote: sys, cfg: opts.Config, m: opts.Metrics, log: opts.Logger, now: opts.Now, opts: opts}
	e.planner = plan.New(plan.Options{Store: opts.Store, Remote: sys, Mapping: mp, Kinds: opts.ChildKinds, Config: opts.Config,
		Logger: opts.Logger, Now: opts.Now, NoCreateInPTD: opts.NoCreateInPTD, NoCreateInGHL: opts.NoCreateInGHL})
	e.push = push.New(push.Options{Store: opts.Store, Remote: sys, Mapping: mp, Kinds: opts.ChildKinds, Config: opts.Config.Pusher,
		Metrics: opts.Metrics, Logger: opts.Logger, Now: opts.Now,
		Batch: opts.PushBatch, Workers: opts.PushWorkers, GroupCommit: opts.PushGroupCommit, Seed: opts.Seed})
	e.poll = ptdpoll.New(ptdpoll.Options{Store: opts.Store, Remote: sys, Mapping: mp, Kinds: opts.ChildKinds,
		Guard: sweepguard.BoundsFrom(opts.Config.Deletes), Metrics: opts.Metrics, Logger: opts.Logger, Now: opts.Now,
		PageSize: opts.PTDPageSize, ChildrenPerPoll: opts.PTDChildrenPerPoll, ChildrenPeriod: opts.PTDChildrenPeriod})
	return e, nil
}

// withDefaults fills the options Options documents as defaulted (a random Seed for 0).
func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PTDPageSize <= 0 || opts.PTDPageSize > 500 {
		opts.PTDPageSize = 200
	}
	if opts.PTDChildrenPerPoll == 0 {
		opts.PTDChildrenPerPoll = 5000
	}
	for _, p := range []time.Duration{opts.Config.PTD.ChildrenPeriod, opts.Config.GHL.ChildrenPeriod, 24 * time.Hour} {
		if opts.PTDChildrenPeriod <= 0 {
			opts.PTDChildrenPeriod = p
		}
	}
	if opts.PushBatch <= 0 {
		opts.PushBatch = 1000
	}
	if opts.PushWorkers <= 0 {
		opts.PushWorkers = 8
	}
	if opts.PushGroupCommit <= 0 {
		opts.PushGroupCommit = 64
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	if opts.ChildKinds == nil {
		opts.ChildKinds = kinds.DefaultChildKinds()
	}
	return opts
}

// ReadOnly reports whether the engine runs one-way (HighLevel → PTD): forced by Options or
// the configured scopes, or the token turned out to be contacts.readonly (asked without I/O,
// said once). Once true it stays true for the engine's life. Safe for concurrent use.
func (e *Engine) ReadOnly(ctx context.Context) bool { return e.remote.ReadOnly(ctx) }

// CycleStats reports one Cycle: what each job did (Push sums both pushes when reminders run).
// When Cycle fails, the jobs that ran are filled in and the rest are zero.
type CycleStats struct {
	Poll ptdpoll.PollStats
	Plan plan.Plan
	Push push.Stats
}

// Cycle runs PollPTD, Reconcile, Push and, when reminders are enabled, Reminders followed by
// another Push, in that order: one full round for scenario tests and `ptsync demo --once`.
// HighLevel ingestion is not part of it (package replicator/ingest does that). The first error
// stops the cycle.
func (e *Engine) Cycle(ctx context.Context) (CycleStats, error) {
	var st CycleStats
	if e.opts.Offline {
		return st, ErrOffline
	}
	var err error
	if st.Poll, err = e.PollPTD(ctx); err != nil {
		return st, err
	}
	if st.Plan, err = e.Reconcile(ctx); err != nil {
		return st, err
	}
	if st.Push, err = e.Push(ctx); err != nil {
		return st, err
	}
	if e.cfg.Reminders.Enabled {
		if _, err = e.Reminders(ctx); err != nil {
			return st, err
		}
		more, err := e.Push(ctx)
		st.Push.Add(more)
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// publish refreshes the outbox, conflict, quarantine and PTD children lag gauges from the store.
func (e *Engine) publish() {
	if e.m == nil {
		return
	}
	type agg struct {
		depth, dead int
		oldest      time.Time
	}
	per := map[string]*agg{store.SideGHL: {}, store.SidePTD: {}}
	var conflicts, quarantined int
	_ = e.db.View(func(tx *store.Tx) error {
		_ = tx.ForEachOutbox(func(o *store.OutboxEntry) error {
			a := per[o.Target]
			if a == nil {
				return nil
			}
			if o.Dead {
				a.dead++
				return nil
			}
			if a.depth == 0 || o.CreatedAt.Before(a.oldest) {
				a.oldest = o.CreatedAt
			}
			a.depth++
			return nil
		})
		cs, _ := tx.Conflicts("", false)
		conflicts = len(cs)
		qs, _ := tx.Quarantined()
		quarantined = len(qs)
		_ = sweepguard.PublishHeld(tx, e.m)
		return nil
	})
	now := e.now()
	for t, a := range per {
		var age time.Duration
		if a.depth > 0 {
			age = now.Sub(a.oldest)
		}
		e.m.SetOutbox(t, a.depth, age)
		e.m.SetDeadLetters(t, a.dead)
	}
	e.m.SetConflictsPending(conflicts)
	e.m.SetQuarantine(quarantined)
	e.PublishPTDChildrenLag()
}
