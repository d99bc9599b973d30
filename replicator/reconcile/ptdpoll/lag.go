package ptdpoll

import (
	"errors"
	"fmt"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/store"
)

// ChildrenLag is how late a coach's new task or note on a PT Distinction client that did
// not otherwise change can reach the mirror (and, one reconcile and push later, HighLevel).
// PT Distinction reports no task or note changes, so only the children rotation finds them
// (refreshChildren): it re-reads every client at least once per Period, each poll taking
// its share. The rotation keeps a clock (CursorChildren's Through) that advances with the
// share it took; Behind is how far that clock trails now: about one poll interval on
// schedule, growing while the ptd job fails or ChildrenPerPoll cuts polls short. MaxAge,
// Period plus Behind, bounds the age of the stalest client's tasks and notes in the mirror.
//
// It is a bound, not a measurement of one client: a client re-read since because it changed
// (or was new) is younger. A rotation that fell more than a Period behind restarts from
// now - Period, so after a long outage the bound holds again only once a full lap ran.
type ChildrenLag struct {
	PeriodSeconds float64 `json:"periodSeconds"`
	BehindSeconds float64 `json:"behindSeconds"`
	MaxAgeSeconds float64 `json:"maxAgeSeconds"`
	// RotatedAt is when the rotation last moved (its cursor's UpdatedAt).
	RotatedAt time.Time `json:"rotatedAt"`
}

// Period is the rotation's period: every client is re-read at least this often on schedule.
func (l ChildrenLag) Period() time.Duration { return seconds(l.PeriodSeconds) }

// Behind is how far the rotation's clock trails now (about one poll interval on schedule).
func (l ChildrenLag) Behind() time.Duration { return seconds(l.BehindSeconds) }

// MaxAge, Period plus Behind, bounds the age of the stalest client's tasks and notes.
func (l ChildrenLag) MaxAge() time.Duration { return seconds(l.MaxAgeSeconds) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ChildrenLag reads the rotation's position from the mirror and returns the lag as of now.
// ok is false when there is no rotation: the driver reads neither tasks nor notes (zapier),
// or PT Distinction was never polled. Safe to call while the other methods run: it only
// takes a read transaction.
func (p *Poller) ChildrenLag() (lag ChildrenLag, ok bool, err error) {
	if p.Remote.PTD == nil {
		return lag, false, nil
	}
	if caps := p.Remote.PTD.Capabilities(); !caps.Has(ptd.CapTasks) && !caps.Has(ptd.CapNotes) {
		return lag, false, nil
	}
	var rot store.Cursor
	err = p.Store.View(func(tx *store.Tx) error {
		var err error
		rot, err = tx.Cursor(CursorChildren)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return lag, false, nil
	}
	if err != nil {
		return lag, false, fmt.Errorf("cannot read the ptd children rotation: %w", err)
	}
	period := p.ChildrenPeriod
	behind := max(p.Now().Sub(rot.Through), 0)
	return ChildrenLag{PeriodSeconds: period.Seconds(), BehindSeconds: behind.Seconds(),
		MaxAgeSeconds: (period + behind).Seconds(), RotatedAt: rot.UpdatedAt}, true, nil
}
