package reconcile

import (
	"errors"
	"fmt"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/store"
)

// PTDChildrenLag is how late a coach's new task or note on a PT Distinction client that did
// not otherwise change can reach the mirror (and, one reconcile and push later, HighLevel).
// PT Distinction reports no task or note changes, so only the children rotation finds them
// (refreshPTDChildren): it re-reads every client at least once per Period, each poll taking
// its share. The rotation keeps a clock (CursorPTDChildren's Through) that advances with the
// share it took; Behind is how far that clock trails now: about one poll interval on
// schedule, growing while the ptd job fails or PTDChildrenPerPoll cuts polls short. MaxAge,
// Period plus Behind, bounds the age of the stalest client's tasks and notes in the mirror.
//
// It is a bound, not a measurement of one client: a client re-read since because it changed
// (or was new) is younger. A rotation that fell more than a Period behind restarts from
// now - Period, so after a long outage the bound holds again only once a full lap ran.
type PTDChildrenLag struct {
	PeriodSeconds float64 `json:"periodSeconds"`
	BehindSeconds float64 `json:"behindSeconds"`
	MaxAgeSeconds float64 `json:"maxAgeSeconds"`
	// RotatedAt is when the rotation last moved (its cursor's UpdatedAt).
	RotatedAt time.Time `json:"rotatedAt"`
}

// Period, Behind and MaxAge are the figures as durations.
func (l PTDChildrenLag) Period() time.Duration { return seconds(l.PeriodSeconds) }

// Behind: see PTDChildrenLag.
func (l PTDChildrenLag) Behind() time.Duration { return seconds(l.BehindSeconds) }

// MaxAge: see PTDChildrenLag.
func (l PTDChildrenLag) MaxAge() time.Duration { return seconds(l.MaxAgeSeconds) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// PTDChildrenLag reads the rotation's position from the mirror and returns the lag as of
// now. ok is false when there is no rotation: the driver reads neither tasks nor notes
// (zapier), or PT Distinction was never polled. Safe to call while jobs run: it takes no
// engine lock, only a read transaction.
func (e *Engine) PTDChildrenLag() (lag PTDChildrenLag, ok bool, err error) {
	if e.remote.PTD == nil || e.opts.Offline {
		return lag, false, nil
	}
	if caps := e.remote.PTD.Capabilities(); !caps.Has(ptd.CapTasks) && !caps.Has(ptd.CapNotes) {
		return lag, false, nil
	}
	var rot store.Cursor
	err = e.db.View(func(tx *store.Tx) error {
		var err error
		rot, err = tx.Cursor(CursorPTDChildren)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return lag, false, nil
	}
	if err != nil {
		return lag, false, fmt.Errorf("cannot read the ptd children rotation: %w", err)
	}
	period := e.opts.PTDChildrenPeriod
	behind := max(e.now().Sub(rot.Through), 0)
	return PTDChildrenLag{PeriodSeconds: period.Seconds(), BehindSeconds: behind.Seconds(),
		MaxAgeSeconds: (period + behind).Seconds(), RotatedAt: rot.UpdatedAt}, true, nil
}

// PublishPTDChildrenLag sets ptsync_ptd_children_lag_seconds from PTDChildrenLag; without a
// rotation it leaves the metric alone (no series until the first poll). Read errors are
// left for the jobs to report.
func (e *Engine) PublishPTDChildrenLag() {
	if lag, ok, err := e.PTDChildrenLag(); ok && err == nil {
		e.m.SetPTDChildrenLag(lag.MaxAge())
	}
}
