package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"ptsync/replicator/ingest"
)

// Progress phases beyond ingest's.
const phasePush = "push"

// progressBar renders the demo's progress: redrawn in place on a terminal (at most ten
// times a second) with a bar, the rate and an ETA; elsewhere a plain line every few seconds
// and at each phase change.
type progressBar struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	calls func() int64 // HighLevel requests so far, for the request rate

	mu         sync.Mutex
	cur        string // phase shown
	phaseStart time.Time
	callsStart int64
	last       time.Time
	open       bool // a TTY line is drawn and not yet ended
	shownFinal bool // the phase's 100% line is out
}

func newProgressBar(w io.Writer, tty bool, now func() time.Time, calls func() int64) *progressBar {
	return &progressBar{w: w, tty: tty, now: now, calls: calls}
}

func phaseLabels() map[string]string {
	return map[string]string{ingest.PhaseContacts: "contacts", ingest.PhaseChildren: "children", phasePush: "pushing"}
}

// update is the ingest.Progress callback (and the push watcher's).
func (b *progressBar) update(p ingest.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if p.Phase == ingest.PhaseDone {
		b.endLine()
		fmt.Fprintf(b.w, "backfill complete: %s contacts with their tasks, notes and appointments\n", thousands(int64(p.Done)))
		b.cur = p.Phase
		return
	}
	if p.Phase != b.cur {
		b.endLine()
		b.cur, b.phaseStart, b.last, b.shownFinal = p.Phase, now, time.Time{}, false
		if b.calls != nil {
			b.callsStart = b.calls()
		}
	}
	final := p.Total > 0 && p.Done >= p.Total
	if b.shownFinal {
		return // the phase's 100% line is out; later updates (a job adding work) are noise
	}
	b.shownFinal = final
	if b.tty {
		if !final && now.Sub(b.last) < 100*time.Millisecond {
			return
		}
	} else if !final && !b.last.IsZero() && now.Sub(b.last) < 5*time.Second {
		return
	}
	b.last = now
	label := phaseLabels()[p.Phase]
	if label == "" {
		label = p.Phase
	}
	unit := "contacts"
	if p.Phase == phasePush {
		unit = "writes"
	}
	el := now.Sub(b.phaseStart).Seconds()
	rate, eta := "", ""
	if el > 0.5 && p.Done > 0 {
		r := float64(p.Done) / el
		rate = fmt.Sprintf("  %.0f %s/s", r, unit)
		if p.Total > p.Done {
			// Seconds as a float, then to a Duration: converting the float first would drop
			// the fraction (0.9 s -> 0) before multiplying.
			eta = fmt.Sprintf("  ETA %s", time.Duration(float64(p.Total-p.Done)/r*float64(time.Second)).Round(time.Second))
		}
		if b.calls != nil && p.Phase != phasePush {
			rate += fmt.Sprintf("  HighLevel %.0f req/s", float64(b.calls()-b.callsStart)/el)
		}
	}
	if b.tty {
		const width = 30
		fill := 0
		if p.Total > 0 {
			fill = min(width, p.Done*width/p.Total)
		}
		fmt.Fprintf(b.w, "\r\033[K%-9s [%s%s] %s/%s%s%s", label, strings.Repeat("#", fill), strings.Repeat(".", width-fill),
			thousands(int64(p.Done)), thousands(int64(p.Total)), rate, eta)
		b.open = true
		if final {
			b.endLine()
		}
		return
	}
	pct := 0
	if p.Total > 0 {
		pct = p.Done * 100 / p.Total
	}
	fmt.Fprintf(b.w, "%s: %s/%s %s (%d%%)%s%s\n", label, thousands(int64(p.Done)), thousands(int64(p.Total)), unit, pct, rate, eta)
}

// phase announces a step without a count (e.g. planning).
func (b *progressBar) phase(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endLine()
	b.cur = text
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s ...", text)
		b.open = true
		return
	}
	fmt.Fprintf(b.w, "%s ...\n", text)
}

// finish ends the progress display with a line.
func (b *progressBar) finish(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endLine()
	fmt.Fprintln(b.w, text)
	b.cur = ""
}

// abort ends an open line without a message, so an error printed next starts on its own line.
func (b *progressBar) abort() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endLine()
}

func (b *progressBar) endLine() {
	if b.tty && b.open {
		fmt.Fprintln(b.w)
	}
	b.open = false
}
