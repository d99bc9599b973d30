package push

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"ptsync/store"
)

// partition groups due entries by the contact link they belong to (a child link's parent, a
// contact link itself), keeping Seq order inside each group and ordering groups by their
// first entry. Entries without a link (or whose link is gone) are groups of their own.
func partition(tx *store.Tx, due []store.OutboxEntry) ([][]store.OutboxEntry, error) {
	idx := map[string]int{}
	var parts [][]store.OutboxEntry
	for _, o := range due {
		key := fmt.Sprintf("seq/%d", o.Seq)
		if o.LinkID != "" {
			l, err := tx.GetLink(o.LinkID)
			switch {
			case err == nil && l.ParentLinkID != "":
				key = "link/" + l.ParentLinkID
			case err == nil:
				key = "link/" + l.ID
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
		i, ok := idx[key]
		if !ok {
			i = len(parts)
			idx[key] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], o)
	}
	return parts, nil
}

// pushRound pushes the partitions and returns when every transaction it submitted has
// committed. progress reports whether any entry left the outbox.
//
// Scheduling: a partition is in at most one place at a time: a ready queue, a worker, or the
// committer. A worker takes a ready partition, pushes its next entry, submits the entry's
// transaction and moves on to another partition at once; when the transaction has committed,
// the committer puts the partition back on a ready queue for its next entry. So a partition's
// entries run strictly one after the other, each seeing its predecessor's commit (a child's
// create reads the link its parent's create stored; sibling creates see each other's links),
// while the workers never wait for an fsync and the committer groups whatever finished
// meanwhile into one transaction. Entries for HighLevel and for PTD have separate queues and
// workers: HighLevel calls wait on the client's rate limiter and must not starve PTD writes.
func (p *Pusher) pushRound(ctx context.Context, parts [][]store.OutboxEntry) (Stats, bool, error) {
	r := &round{pusher: p, ctx: ctx, gc: newGroupCommitter(p.Store, p.GroupCommit)}
	r.ready[0] = make(chan *partState, len(parts))
	r.ready[1] = make(chan *partState, len(parts))
	r.left.Add(len(parts))
	for _, part := range parts {
		r.enqueue(&partState{entries: part})
	}
	var wg sync.WaitGroup
	for q := range r.ready {
		for range p.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range r.ready[q] {
					r.step(p)
				}
			}()
		}
	}
	r.left.Wait() // every partition finished: nothing queued, running or committing
	close(r.ready[0])
	close(r.ready[1])
	wg.Wait()
	r.gc.close()
	if r.err == nil && ctx.Err() != nil {
		r.err = ctx.Err()
	}
	return r.st, r.progress, r.err
}

// round is one pushRound's shared state.
type round struct {
	pusher *Pusher
	ctx    context.Context
	gc     *groupCommitter
	ready  [2]chan *partState // 0: next entry for PTD, 1: for HighLevel
	left   sync.WaitGroup     // partitions not finished

	mu       sync.Mutex // guards st, progress, err
	st       Stats
	progress bool
	err      error
}

// partState is a partition and the index of its next entry.
type partState struct {
	entries []store.OutboxEntry
	next    int
}

// enqueue puts p on the queue of its next entry's target, or finishes it. The queues hold
// every partition at most once, so this never blocks.
func (r *round) enqueue(p *partState) {
	if p.next >= len(p.entries) || r.stopped() {
		r.left.Done()
		return
	}
	q := 0
	if p.entries[p.next].Target == store.SideGHL {
		q = 1
	}
	r.ready[q] <- p
}

func (r *round) stopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err != nil || r.ctx.Err() != nil
}

func (r *round) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// count records one settled outcome.
func (r *round) count(fn func(st *Stats)) {
	r.mu.Lock()
	fn(&r.st)
	r.mu.Unlock()
}

// step pushes p's next entry. Its transaction goes to the committer, whose callback counts
// the outcome and re-queues p; an entry without a transaction (deferred) re-queues p now.
func (r *round) step(p *partState) {
	pu, o := r.pusher, p.entries[p.next]
	p.next++
	if r.stopped() {
		r.left.Done()
		return
	}
	n, fn, err := pu.attemptOne(r.ctx, o)
	switch {
	case err == nil:
		r.gc.submit(fn, func(err error) {
			if err != nil {
				r.fail(fmt.Errorf("cannot record push of outbox entry %d: %w", o.Seq, err))
			} else {
				pu.holds.accepted(o.Target)
				r.count(func(st *Stats) { st.Pushed++; st.Coalesced += n })
				r.mu.Lock()
				r.progress = true
				r.mu.Unlock()
			}
			r.enqueue(p)
		})
	case errors.Is(err, errDefer):
		r.count(func(st *Stats) { st.Deferred++ })
		r.enqueue(p)
	case errors.Is(err, errSuperseded):
		r.gc.submit(fn, func(error) { // as before: a failed drop is re-planned next time
			r.count(func(st *Stats) { st.Dropped++ })
			r.mu.Lock()
			r.progress = true
			r.mu.Unlock()
			r.enqueue(p)
		})
	case r.ctx.Err() != nil:
		r.left.Done()
	default:
		dead, quiet, fn := pu.failure(o, err)
		r.gc.submit(fn, func(cerr error) {
			switch {
			case errors.Is(cerr, store.ErrNotFound): // dropped by an operator meanwhile
			case cerr != nil:
				r.fail(fmt.Errorf("cannot record outbox attempt %d: %w", o.Seq, cerr))
			default:
				if !quiet {
					pu.logFailure(o, err, dead)
				}
				r.count(func(st *Stats) {
					if dead {
						st.Dead++
					} else {
						st.Failed++
					}
				})
			}
			r.enqueue(p)
		})
	}
}

// groupCommitter runs submitted transactions in as few bbolt commits as possible: while one
// commit (and its fsync) runs, the transactions submitted meanwhile queue up and the next
// commit takes them all, up to max. If a shared commit fails, each of its transactions is
// re-run alone, so one bad transaction fails only itself. A transaction function may
// therefore run more than once and must only write through its tx (the push's are).
type groupCommitter struct {
	db   *store.DB
	max  int
	reqs chan commitReq
	done chan struct{}
}

type commitReq struct {
	fn   commitFn
	done func(error)
}

func newGroupCommitter(db *store.DB, max int) *groupCommitter {
	gc := &groupCommitter{db: db, max: max, reqs: make(chan commitReq, 4*max), done: make(chan struct{})}
	go gc.loop()
	return gc
}

// submit queues fn; done is called, on the committer's goroutine, with its commit's result
// (nil once fn's writes are durable). done must not block; it may call submit. submit must
// not be called after close.
func (gc *groupCommitter) submit(fn commitFn, done func(error)) {
	gc.reqs <- commitReq{fn: fn, done: done}
}

// close stops the committer after the queued transactions have run.
func (gc *groupCommitter) close() {
	close(gc.reqs)
	<-gc.done
}

func (gc *groupCommitter) loop() {
	defer close(gc.done)
	for r := range gc.reqs {
		batch := []commitReq{r}
	fill:
		for len(batch) < gc.max {
			select {
			case r2, ok := <-gc.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r2)
			default:
				break fill
			}
		}
		if len(batch) == 1 {
			r.done(gc.db.Update(r.fn))
			continue
		}
		err := gc.db.Update(func(tx *store.Tx) error {
			for _, b := range batch {
				if err := b.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, b := range batch {
				b.done(nil)
			}
			continue
		}
		for _, b := range batch { // rolled back entirely: isolate the failure
			b.done(gc.db.Update(b.fn))
		}
	}
}
