package store

import (
	"fmt"
	"sort"
	"time"
)

// MaxRemoteClockLead is how far ahead of our clock a remote answer's Date may be and still be
// taken as the remote's clock. Beyond it the Date is as suspect as the records (a proxy that
// rewrites timestamps may rewrite the header too) and our own clock is used instead.
const MaxRemoteClockLead = 5 * time.Minute

// FutureCursorTolerance is how far past our clock a stored cursor's Through may lie before
// RepairFutureCursors pulls it back: room for a remote clock a little ahead of ours.
const FutureCursorTolerance = 5 * time.Minute

// Signpost bounds what one poll request lets a cursor claim, the "signpost" of incremental
// extractors (the Singer SDK never stores a bookmark later than the time its sync started).
// A record stamped after the request was answered cannot be trusted to order the changes
// that come after it: a cursor moved to it would skip every later edit until the clock
// catches up, years for a record stamped 2030. So whatever the records say, a cursor written
// from an answer never moves past Bound.
type Signpost struct {
	// At is when the request was answered, by the remote's clock (its Date header) when the
	// answer carried one, else by ours when the request was sent.
	At time.Time
	// Bound is At less the poller's overlap window: the latest Through a cursor may store.
	Bound time.Time
}

// NewSignpost is the signpost of one request: answered is the answer's Date header (zero
// when absent or unreadable), sent our clock when the request left, overlap the poller's
// re-read window (zero for a listing that needs none). A Date more than MaxRemoteClockLead
// ahead of sent is ignored. Both pollers (HighLevel search, PT Distinction listing) use it.
func NewSignpost(answered, sent time.Time, overlap time.Duration) Signpost {
	at := answered
	if at.IsZero() || at.After(sent.Add(MaxRemoteClockLead)) {
		at = sent
	}
	at = at.UTC()
	return Signpost{At: at, Bound: at.Add(-overlap)}
}

// Future reports whether a record stamped t was stamped after the request was answered: a
// timestamp from the future. A second of slack covers the Date header's whole-second
// resolution; a record between Bound and At is an ordinary recent edit, not a future one.
func (s Signpost) Future(t time.Time) bool { return t.After(s.At.Add(time.Second)) }

// CopyStands reports whether a stored copy stamped have stands against a row stamped got
// that this answer returned: got is the same version or an older one (a lagging listing),
// unless the copy itself is stamped in the future of this answer — a wrong stamp must not
// shadow the record's real edits for years. Every writer that replaces mirrored copies from
// a listing, the first sync's bulk load included, decides with this one rule.
func (s Signpost) CopyStands(have, got time.Time) bool {
	return got.Equal(have) || got.Before(have) && !s.Future(have)
}

// Through is the cursor's Through after an answer whose newest record is stamped newest,
// when it stood at prev: the later of the two, but never past Bound. A prev beyond Bound
// (written before the bound existed) is pulled back to it.
func (s Signpost) Through(prev, newest time.Time) time.Time {
	t := prev
	if newest.After(t) {
		t = newest
	}
	if t.After(s.Bound) {
		t = s.Bound
	}
	return t
}

// CursorRepair is one cursor RepairFutureCursors pulled back.
type CursorRepair struct {
	Name string
	// Was is the Through found, To the Through stored instead.
	Was, To time.Time
}

// RepairFutureCursors pulls back every cursor over a record collection whose Through lies
// more than FutureCursorTolerance after now: a mirror written before cursors were bounded
// may hold one that a record stamped in the future moved years ahead, and every change made
// since would be skipped. The new Through is the newest record of the collection not stamped
// after now, so the next poll re-reads from where the cursor really stood (less its own
// overlap); with no such record, now less overlap. The cursor's Value is cleared too: an
// opaque position (PT Distinction's listing cursor) may point past the bad record as well,
// and an empty one restarts the walk, whose rows the pollers de-duplicate. Every writer's
// Through is at least the position its Value encodes, so Through alone tells a cursor ahead.
// It returns the repairs made, sorted by name, in one transaction: all or none.
func (db *DB) RepairFutureCursors(now time.Time, overlap time.Duration) ([]CursorRepair, error) {
	var out []CursorRepair
	err := db.Update(func(tx *Tx) error {
		out = out[:0]
		curs, err := tx.Cursors()
		if err != nil {
			return err
		}
		for name, c := range curs {
			if c.Covers == "" || !c.Through.After(now.Add(FutureCursorTolerance)) {
				continue
			}
			to, err := tx.newestStampNotAfter(c.Covers, now)
			if err != nil {
				return err
			}
			if to.IsZero() {
				to = now.Add(-overlap)
			}
			out = append(out, CursorRepair{Name: name, Was: c.Through, To: to.UTC()})
			if err := tx.SetCursor(name, Cursor{Covers: c.Covers, Through: to.UTC()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot repair future cursors: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// newestStampNotAfter returns the newest record timestamp of c (its "updated" index) that is
// not after t; zero when there is none.
func (tx *Tx) newestStampNotAfter(c Collection, t time.Time) (time.Time, error) {
	// Index keys are TimeKey(updated) NUL id: every key of a stamp <= t sorts before
	// TimeKey(t) followed by \x01.
	k, err := tx.lastIndexKey(c, "updated", TimeKey(t)+"\x01")
	if err != nil {
		return time.Time{}, err
	}
	if k == nil {
		return time.Time{}, nil
	}
	val, _, ok := splitIndexKey(k)
	if !ok {
		return time.Time{}, fmt.Errorf("cannot read %s index key %q: %w", c, k, ErrCorrupt)
	}
	ts, err := time.Parse(time.RFC3339Nano, val)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read %s index key %q: %w: %v", c, k, ErrCorrupt, err)
	}
	return ts, nil
}
