package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"ptsync/replicator/reconcile"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// cmdQuarantine shows what the delete quarantine holds and releases held sweeps:
//
//	ptsync quarantine [--json]                  the held sweeps, then every quarantine entry
//	ptsync quarantine approve <id>|all          give a held sweep's misses their confirmations
//
// A sweep is held when its listing was not believed (docs/reconciliation.md, "The sweep
// guard"); approve it only when the deletions are real. While the service holds the mirror
// both go through its admin endpoint, and the service approves in its own transaction.
func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("quarantine", stderr, "usage: ptsync quarantine [--json] [--db PATH]\n       ptsync quarantine approve <id>|all [--db PATH]")
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parseFlags(fs, args, stderr, -1)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		if len(pos) != 2 || pos[0] != "approve" {
			return usageExit(fs)
		}
		return approveHeld(ctx, pos[1], dbPath(*db), *asJSON, stdout, stderr)
	}
	m, code, ok := openReconcile(ctx, stderr, "quarantine", dbPath(*db), false, nil)
	if !ok {
		return code
	}
	defer m.Close()
	v, err := withMirrorOrAdmin(m.mirror, inView(reconcile.ListQuarantine),
		func() (reconcile.QuarantineView, error) { return m.admin.Quarantine(ctx) })
	if err != nil {
		return fail(stderr, "quarantine", err, exitFor(err))
	}
	m.via(stderr, "listed")
	if *asJSON {
		return writeJSON(stdout, stderr, v)
	}
	printQuarantine(stdout, v)
	return exitOK
}

func approveHeld(ctx context.Context, id, path string, asJSON bool, stdout, stderr io.Writer) int {
	m, code, ok := openReconcile(ctx, stderr, "quarantine approve", path, true, nil)
	if !ok {
		return code
	}
	defer m.Close()
	req := reconcile.ApproveRequest{ID: id}
	out, err := withMirrorOrAdmin(m.mirror,
		inUpdate(func(tx *store.Tx) ([]sweepguard.Approval, error) { return reconcile.ApproveHeld(tx, req) }),
		func() ([]sweepguard.Approval, error) { return m.admin.ApproveHeld(ctx, req) })
	if err != nil {
		return fail(stderr, "quarantine approve", err, exitFor(err))
	}
	m.via(stderr, "approved")
	if asJSON {
		return writeJSON(stdout, stderr, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(stdout, "no sweep is held")
	}
	for _, a := range out {
		fmt.Fprintf(stdout, "approved %s: %d records confirmed missing (%d no longer mirrored); the next reconcile applies the delete policy to those with enough confirmations\n",
			a.ID, a.Confirmed, a.Gone)
	}
	return exitOK
}

// printQuarantine writes the held sweeps (with how to release them), then the entries.
func printQuarantine(w io.Writer, v reconcile.QuarantineView) {
	if len(v.Held) == 0 {
		fmt.Fprintln(w, "no sweep is held")
	} else {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HELD SWEEP\tSINCE\tSWEEPS\tMIRRORED\tLISTED\tMISSING\tREASON")
		for _, h := range v.Held {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", h.ID, ts(h.FirstAt), h.Sweeps, h.Mirrored, h.Listed, len(h.Misses), h.Reason)
		}
		_ = tw.Flush()
		fmt.Fprintln(w, "release one with: ptsync quarantine approve <held sweep>|all (only if the deletions are real)")
	}
	fmt.Fprintln(w)
	if len(v.Entries) == 0 {
		fmt.Fprintln(w, "quarantine is empty")
		return
	}
	sort.Slice(v.Entries, func(i, j int) bool { return v.Entries[i].DetectedAt.Before(v.Entries[j].DetectedAt) })
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSIDE\tID\tDETECTED\tCONFIRMATIONS\tPOLICY APPLIED\tSTATE")
	for _, q := range v.Entries {
		applied, state := "-", "missing"
		if q.Applied != nil {
			applied = q.Applied.Rule
		}
		if !q.Returned.IsZero() {
			state = "returned; undo pending"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", q.Kind, q.Side, q.ID, ts(q.DetectedAt), q.Confirmations, applied, state)
	}
	_ = tw.Flush()
}
