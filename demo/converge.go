package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ptsync/config"
	"ptsync/replicator/ingest"
	"ptsync/store"
)

// WaitConverged waits for the first full convergence: the backfill (PTD is polled
// meanwhile: its calls do not spend HighLevel's budget), then cycles of PTD poll, reconcile
// and push until a reconcile plans no write. The pushes are shown as a progress bar.
func (d *Demo) WaitConverged(ctx context.Context) error {
	ready := make(chan error, 1)
	go func() { ready <- d.Service.WaitReady(ctx) }()
	twoWay := !d.opts.IngestOnly
	ptdDone := make(chan error, 1)
	if twoWay {
		go func() { ptdDone <- d.Service.RunJob(ctx, config.JobPTD) }()
	} else {
		ptdDone <- nil
	}
	select {
	case <-d.runDone:
		if d.runErr != nil {
			return d.runErr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("service stopped before the first sync finished")
	case err := <-ready:
		if err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.readyAt, d.backfillCalls = d.opts.Now(), d.GHL.Counters().Total
	d.mu.Unlock()
	if err := <-ptdDone; err != nil {
		return fmt.Errorf("cannot converge: %w", err)
	}
	if !twoWay {
		d.markConverged()
		return nil
	}
	// A cycle is PTD poll, reconcile, push. The first full convergence is a cycle whose
	// reconcile plans nothing: contacts created in HighLevel during the previous push get
	// their children fetched first (the children job), so the PTD clients' tasks and notes
	// they bring are planned too.
	for cycle := range 10 {
		if cycle > 0 {
			if err := d.Service.RunJob(ctx, config.JobChildren); err != nil {
				return fmt.Errorf("cannot converge: %w", err)
			}
			if err := d.Service.RunJob(ctx, config.JobPTD); err != nil {
				return fmt.Errorf("cannot converge: %w", err)
			}
		}
		d.bar.phase(fmt.Sprintf("reconciling (cycle %d)", cycle+1))
		if err := d.Service.RunJob(ctx, config.JobReconcile); err != nil {
			return fmt.Errorf("cannot converge: %w", err)
		}
		depth, err := d.outboxDepth()
		if err != nil {
			return err
		}
		if depth == 0 && cycle > 0 {
			d.bar.finish("in sync: the last cycle planned no writes")
			d.markConverged()
			return nil
		}
		stop := d.watchPush(depth)
		err = d.Service.RunJob(ctx, config.JobPush)
		stop()
		if err != nil {
			return fmt.Errorf("cannot converge: %w", err)
		}
	}
	return errors.New("cannot converge: reconciliation still plans writes after 10 cycles")
}

func (d *Demo) markConverged() {
	d.mu.Lock()
	d.convergedAt = d.opts.Now()
	d.mu.Unlock()
}

func (d *Demo) outboxDepth() (int, error) {
	var depth int
	err := d.Service.Store().View(func(tx *store.Tx) error {
		st, err := tx.OutboxStats()
		depth = st.Depth
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read outbox: %w", err)
	}
	return depth, nil
}

// watchPush reports the outbox draining to the progress bar until the returned func is called.
func (d *Demo) watchPush(total int) func() {
	if total == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			depth, err := d.outboxDepth()
			if err == nil {
				d.bar.update(ingest.Progress{Phase: phasePush, Done: max(0, total-depth), Total: total})
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if depth, err := d.outboxDepth(); err == nil {
			d.bar.update(ingest.Progress{Phase: phasePush, Done: max(0, total-depth), Total: total})
		}
	}
}
