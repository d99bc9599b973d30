package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ptsync/apiclient/ghlwire"
)

// DiskFullOptions shape the full-disk scenario.
type DiskFullOptions struct {
	Options
	// Size of the tmpfs that holds the mirror (default 64 MiB).
	Size int64
	// Creates is how many contacts are created in HighLevel while the disk is full (default
	// 300); Full is how long it stays full at least (default 20 s).
	Creates int
	Full    time.Duration
}

// DiskFull runs the full-disk scenario: the mirror lives on a tmpfs of its own (mounted here:
// it needs root, as CI has), the service backfills and settles, then the filesystem is filled
// to the last byte while both sides churn and Creates new contacts appear in HighLevel. The
// service must keep running, answer /readyz 503 naming the mirror, and when the filler is
// removed, recover without a restart (/readyz 200 again) and converge: nothing lost,
// duplicated or diverged, and every contact created meanwhile a PTD client exactly once.
func DiskFull(ctx context.Context, o DiskFullOptions) (Result, error) {
	if o.Size <= 0 {
		o.Size = 64 << 20
	}
	if o.Creates <= 0 {
		o.Creates = 300
	}
	if o.Full <= 0 {
		o.Full = 20 * time.Second
	}
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	mnt := filepath.Join(o.Dir, "full-disk-fs")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return Result{}, fmt.Errorf("cannot create mount point: %w", err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", o.Size)); err != nil {
		return Result{}, fmt.Errorf("cannot mount a tmpfs for the mirror (needs root): %w", err)
	}
	defer func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) }()
	o.MirrorDir = mnt
	e, err := setup(ctx, o.Options, "full disk", []string{"--token-ttl", "1h"})
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	e.logf("backfill: %d contacts, mirror on a %d MiB tmpfs", e.o.Contacts, o.Size>>20)
	if err := e.startAndSettle(ctx); err != nil {
		return Result{}, err
	}
	pairs, err := e.pairs(ctx)
	if err != nil {
		return Result{}, err
	}
	l := NewLedger(pairs)
	stop, wait := e.churn(ctx, l)
	emails, err := e.whileDiskFull(ctx, o, filepath.Join(mnt, "filler"))
	stop()
	if err != nil {
		return Result{}, err
	}
	if err := wait(); err != nil {
		return Result{}, err
	}
	e.logf("disk freed; churn stopped after %d edits; converging", len(l.Edits()))
	if err := e.finish(ctx, l); err != nil {
		return Result{}, err
	}
	if err := e.countCreatedWhileFull(ctx, emails); err != nil {
		return Result{}, err
	}
	return *e.res, nil
}

// whileDiskFull is the scenario's middle, run while the churn goes on: it fills the
// filesystem with filler, creates o.Creates contacts in HighLevel, keeps the disk full for
// o.Full (longer, up to a minute more, until /readyz has answered 503 naming the mirror),
// then frees it and waits for /readyz 200. It returns the created contacts' emails. A
// service that exits meanwhile is an error; a /readyz that never turns (either way) is
// counted as unexpected and noted.
func (e *env) whileDiskFull(ctx context.Context, o DiskFullOptions, filler string) (map[string]bool, error) {
	n, err := fill(filler)
	if err != nil {
		return nil, err
	}
	e.logf("filesystem full: %d MiB of filler; creating %d contacts in HighLevel", n>>20, o.Creates)
	emails := map[string]bool{}
	for i := range o.Creates {
		email := fmt.Sprintf("full-disk-%d-%d@example.com", o.Seed, i)
		first, last := fmt.Sprintf("Full%d", i), "Disk"
		if _, err := e.g.CreateContact(ctx, ghlwire.ContactInput{FirstName: &first, LastName: &last, Email: &email}); err != nil {
			return nil, fmt.Errorf("cannot create contact %d: %w", i, err)
		}
		emails[email] = true
	}
	notReady, err := e.holdFull(ctx, filler, o.Full)
	if err != nil {
		return nil, err
	}
	if exited, code := e.svc.Exited(); exited {
		return nil, fmt.Errorf("the service exited (%d) while the disk was full", code)
	}
	if notReady == "" {
		e.res.Unexpected++
		e.notes = append(e.notes, "/readyz never answered 503 naming the mirror while the disk was full")
	} else {
		e.notes = append(e.notes, "while full: /readyz "+firstLine(notReady))
	}
	if m, err := Scrape(ctx, e.metrics); err == nil {
		e.notes = append(e.notes, fmt.Sprintf("mirror write errors counted while full: %.0f (no_space %.0f)",
			SumMetric(m, "ptsync_mirror_write_errors_total", ""), SumMetric(m, "ptsync_mirror_write_errors_total", `cause="no_space"`)))
	}
	if err := os.Remove(filler); err != nil {
		return nil, fmt.Errorf("cannot free the disk: %w", err)
	}
	return emails, e.awaitReadyAfterFree(ctx)
}

// holdFull keeps the filesystem full (a rolled-back commit's pages may have been freed, so
// it refills every 500 ms) for at least full, and then until /readyz answers 503 naming the
// mirror, for at most a minute more. It returns that answer's body, or "" if none came.
func (e *env) holdFull(ctx context.Context, filler string, full time.Duration) (string, error) {
	start := time.Now()
	notReady := ""
	for time.Since(start) < full || notReady == "" && time.Since(start) < full+60*time.Second {
		if err := e.sleep(ctx, 500*time.Millisecond); err != nil {
			return "", err
		}
		_, _ = fill(filler)
		if code, body, err := readyz(ctx, e.metrics); err == nil && code == http.StatusServiceUnavailable && strings.Contains(body, "mirror") {
			notReady = strings.TrimSpace(body)
		}
	}
	return notReady, nil
}

// awaitReadyAfterFree polls /readyz until it answers 200, and notes how long that took; a
// service not ready again within 60 s of the disk being freed is counted as unexpected. It
// fails only when ctx ends.
func (e *env) awaitReadyAfterFree(ctx context.Context) error {
	freed := time.Now()
	for {
		code, _, err := readyz(ctx, e.metrics)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Since(freed) > 60*time.Second {
			e.res.Unexpected++
			e.notes = append(e.notes, "/readyz did not come back to 200 within 60 s of freeing the disk")
			break
		}
		if err := e.sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	e.notes = append(e.notes, fmt.Sprintf("ready again %s after the disk was freed, without a restart", time.Since(freed).Round(100*time.Millisecond)))
	return nil
}

// countCreatedWhileFull checks, after convergence, that each contact created while the disk
// was full became exactly one PT Distinction client (by email): a missing one counts as
// lost, an extra one as duplicated, and the figures go into the details.
func (e *env) countCreatedWhileFull(ctx context.Context, emails map[string]bool) error {
	ps, err := e.p.Snapshot(ctx)
	if err != nil {
		return err
	}
	clients, distinct := 0, map[string]bool{}
	for _, c := range ps.Clients() {
		if emails[strings.ToLower(c.Email)] {
			clients++
			distinct[strings.ToLower(c.Email)] = true
		}
	}
	e.res.Details = append(e.res.Details, fmt.Sprintf("created while full: %d contacts in HighLevel -> %d PT Distinction clients, %d distinct emails",
		len(emails), clients, len(distinct)))
	e.res.Lost += len(emails) - len(distinct)
	e.res.Duplicated += clients - len(distinct)
	return nil
}

// fill writes to path until the filesystem is full and returns the bytes written.
func fill(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return 0, nil
		}
		return 0, fmt.Errorf("cannot fill the disk: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("cannot fill the disk: %w", err)
		}
		if w < len(buf) {
			buf = buf[:max(1, len(buf)/2)]
		}
	}
}

// readyz asks the service's /readyz.
func readyz(ctx context.Context, addr string) (int, string, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := probeClient().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<14))
	return resp.StatusCode, string(b), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
