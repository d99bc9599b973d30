package cluster

import (
	"sync"
	"time"
)

// Fence says whether this replica may write. It is open only while the replica's lease is
// known to be alive with a margin: a renewal sent at t proves the lease lives until at least
// t + TTL (etcd extends it when it handles the request, which is after t), so the fence
// stays open until t + TTL/2 and closes by itself when no later renewal succeeded. Another
// replica can take a location only after the lease expired, so no two replicas write for
// one location at overlapping times as long as the clocks' rates differ by less than half
// the TTL over one TTL.
//
// A Fence is safe for concurrent use. Allow is cheap (a mutex) and meant to be called before
// every write.
type Fence struct {
	mu       sync.Mutex
	now      func() time.Time
	margin   time.Duration
	deadline time.Time
	open     bool
	closed   chan struct{} // closed when the fence closes; a new one per opening
	timer    *time.Timer
	onChange func(open bool)
}

// NewFence returns a closed fence whose renewals keep it open for margin each (TTL/2).
// onChange, if not nil, is called (outside the lock) on every opening and closing.
func NewFence(margin time.Duration, now func() time.Time, onChange func(open bool)) *Fence {
	if now == nil {
		now = time.Now
	}
	c := make(chan struct{})
	close(c)
	return &Fence{now: now, margin: margin, closed: c, onChange: onChange}
}

// Allow returns nil while writes may proceed, ErrFenced otherwise. It checks the deadline
// itself, so a late timer never lets a write through.
func (f *Fence) Allow() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open || !f.now().Before(f.deadline) {
		return ErrFenced
	}
	return nil
}

// Closed returns a channel closed when the fence closes (at once if it is closed now). Take
// it after Renew opened the fence; a later reopening makes a new channel.
func (f *Fence) Closed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Proven returns the send time of the latest successful renewal: the lease lives at least
// until Proven() + TTL. Zero before the first renewal.
func (f *Fence) Proven() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deadline.IsZero() {
		return time.Time{}
	}
	return f.deadline.Add(-f.margin)
}

// Renew records a successful renewal sent at sentAt, opening the fence if it was closed. A
// renewal older than the current deadline's does not shorten it.
func (f *Fence) Renew(sentAt time.Time) {
	f.mu.Lock()
	deadline := sentAt.Add(f.margin)
	if f.open && !deadline.After(f.deadline) {
		f.mu.Unlock()
		return
	}
	opened := !f.open
	if opened {
		f.open = true
		f.closed = make(chan struct{})
	}
	f.deadline = deadline
	if f.timer != nil {
		f.timer.Stop()
	}
	f.timer = time.AfterFunc(deadline.Sub(f.now()), f.expire)
	f.mu.Unlock()
	if opened && f.onChange != nil {
		f.onChange(true)
	}
}

// Close closes the fence now (the lease is known lost, or the replica leaves). Idempotent.
func (f *Fence) Close() {
	f.mu.Lock()
	if !f.open {
		f.mu.Unlock()
		return
	}
	f.open = false
	if f.timer != nil {
		f.timer.Stop()
	}
	close(f.closed)
	f.mu.Unlock()
	if f.onChange != nil {
		f.onChange(false)
	}
}

// expire closes the fence if its deadline passed; a renewal may have moved it meanwhile.
func (f *Fence) expire() {
	f.mu.Lock()
	if f.open && f.now().Before(f.deadline) {
		f.timer = time.AfterFunc(f.deadline.Sub(f.now()), f.expire)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.Close()
}
