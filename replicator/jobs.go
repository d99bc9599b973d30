package replicator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"sync"
	"time"

	"ptsync/config"
)

// job is one named unit of work. At most one run of a job is in flight: a trigger that
// arrives while it runs is remembered and causes exactly one more run afterwards (so a webhook
// nudge that lands mid-run is not lost), whereas a cron tick that finds it running is skipped
// by cron's SkipIfStillRunning wrapper.
type job struct {
	name string
	fn   func(ctx context.Context) error

	mu          sync.Mutex
	running     bool
	again       bool
	consecutive int // consecutive failures, for log rate-limiting
	lastRun     time.Time
	lastOK      time.Time
	lastErr     string
}

// status is the job's last outcome, for Service.Status.
func (j *job) status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return JobStatus{Name: j.name, LastRun: j.lastRun, LastOK: j.lastOK, LastError: j.lastErr, Consecutive: j.consecutive}
}

// buildJobs maps every schedulable job name to its function.
func (s *Service) buildJobs() map[string]*job {
	p := s.poller
	fns := map[string]func(context.Context) error{
		config.JobContacts: func(ctx context.Context) error {
			st, err := p.Incremental(ctx)
			if err == nil && (st.Changed > 0 || st.SweptInstead) {
				s.log.Info("contacts synced", "job", config.JobContacts, "pages", st.Pages, "changed", st.Changed,
					"re_read", st.Unchanged, "swept_instead", st.SweptInstead)
			}
			if err == nil && st.Changed > 0 {
				s.Trigger(config.JobChildren)
			}
			return err
		},
		config.JobSweep: func(ctx context.Context) error {
			st, err := p.Sweep(ctx)
			if err == nil && !st.Held { // a held sweep has said so in its own ERROR line
				s.log.Info("sweep complete", "job", config.JobSweep, "pages", st.Pages, "contacts", st.Seen,
					"changed", st.Changed, "quarantined", st.Quarantined, "released", st.Released)
			}
			return err
		},
		config.JobChildren: func(ctx context.Context) error {
			st, err := p.Children(ctx)
			if st.Contacts > 0 {
				s.log.Info("children refreshed", "job", config.JobChildren, "dirty", st.Dirty, "swept", st.Swept,
					"quota", st.Quota, "deferred", st.Deferred, "gone", st.Gone)
			}
			return err
		},
	}
	maps.Copy(fns, s.twoWayJobs())
	if s.readOnly && s.engine != nil {
		// The pusher refuses HighLevel writes itself (ErrReadOnly); PTD writes still flow.
		s.log.Info("read-only: pushes to HighLevel are disabled; PT Distinction still receives changes")
	}
	out := map[string]*job{}
	for name, fn := range fns {
		out[name] = &job{name: name, fn: fn}
	}
	return out
}

// Trigger runs job now in the background unless the service is closing; if it is running, one
// more run follows it. Unknown or unwired jobs are ignored. Safe for concurrent use.
func (s *Service) Trigger(name string) {
	j := s.jobs[name]
	if j == nil || j.fn == nil {
		return
	}
	if !s.enter() {
		return
	}
	go func() {
		defer s.wg.Done()
		s.runJob(j)
	}()
}

// RunJob runs job once synchronously with ctx (tests, the demo's --once), waiting for a run
// already in flight to finish first. The run is measured like a scheduled one.
func (s *Service) RunJob(ctx context.Context, name string) error {
	j := s.jobs[name]
	if j == nil || j.fn == nil {
		return fmt.Errorf("cannot run job %q: not wired in this build", name)
	}
	for {
		j.mu.Lock()
		if !j.running {
			j.running = true
			j.mu.Unlock()
			break
		}
		j.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	err := s.execute(ctx, j)
	j.mu.Lock()
	j.running = false
	j.mu.Unlock()
	return err
}

// runJob is the scheduled/triggered path: coalescing as described on job.
func (s *Service) runJob(j *job) {
	ctx := s.runCtx
	if ctx == nil || ctx.Err() != nil {
		return
	}
	j.mu.Lock()
	if j.running {
		j.again = true
		j.mu.Unlock()
		return
	}
	j.running = true
	j.mu.Unlock()
	if !s.enter() {
		j.mu.Lock()
		j.running = false
		j.mu.Unlock()
		return
	}
	defer s.wg.Done()
	for {
		_ = s.execute(ctx, j)
		j.mu.Lock()
		if j.again && ctx.Err() == nil {
			j.again = false
			j.mu.Unlock()
			continue
		}
		j.again, j.running = false, false
		j.mu.Unlock()
		return
	}
}

// execute runs j.fn once with panic recovery, metrics and rate-limited error logs.
func (s *Service) execute(ctx context.Context, j *job) (err error) {
	start := s.now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job %s panicked: %v", j.name, r)
			s.log.Error("job panicked", "job", j.name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
		d := s.now().Sub(start)
		s.m.SyncFinished(j.name, err, d)
		s.credentialOutcome(j.name, err)
		j.mu.Lock()
		defer j.mu.Unlock()
		j.lastRun = start
		switch {
		case err == nil:
			j.lastOK, j.lastErr = start, ""
			if j.consecutive > 0 {
				s.log.Info("job recovered", "job", j.name, "after_errors", j.consecutive)
			}
			j.consecutive = 0
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			// shutting down
		default:
			j.consecutive++
			j.lastErr = err.Error()
			// Log the first failure and then every tenth, so a long outage does not flood.
			if j.consecutive == 1 || j.consecutive%10 == 0 {
				s.log.Error("job failed", "job", j.name, "error", err, "consecutive_errors", j.consecutive, "duration", d)
			}
		}
	}()
	return j.fn(ctx)
}

// enter registers one goroutine of work with the WaitGroup Close waits on, unless the service
// is closing; the caller must call s.wg.Done when it returns true.
func (s *Service) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.runCtx == nil || s.runCtx.Err() != nil {
		return false
	}
	s.wg.Add(1)
	return true
}
