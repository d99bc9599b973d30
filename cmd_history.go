package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"ptsync/replicator/reconcile"
	"ptsync/store"
)

// cmdHistory prints, for one record (a link id, a HighLevel contact id, a PTD client id or an
// email), every recorded field decision with the rule that made it, children included. While
// the service holds the mirror it asks the service (admin endpoint).
func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("history", stderr, "usage: ptsync history <link id|highlevel id|ptd id|email> [--db PATH] [--json]")
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parseFlags(fs, args, stderr, 1)
	if !ok {
		return code
	}
	m, code, ok := openReconcile(ctx, stderr, "history", dbPath(*db), false, nil)
	if !ok {
		return code
	}
	defer m.Close()
	v, err := withMirrorOrAdmin(m.mirror,
		inView(func(tx *store.Tx) (reconcile.HistoryView, error) { return reconcile.LinkHistory(tx, pos[0]) }),
		func() (reconcile.HistoryView, error) { return m.admin.History(ctx, pos[0]) })
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "ptsync history: no linked record matches %q (try a link id, a HighLevel or PTD id, or an email)\n", pos[0])
		return exitFailure
	}
	if err != nil {
		return fail(stderr, "history", err, exitFor(err))
	}
	m.via(stderr, "read")
	if *asJSON {
		return writeJSON(stdout, stderr, v)
	}
	link, entries := v.Link, v.History
	fmt.Fprintf(stdout, "link %s: highlevel %s, ptd %s (matched by %s)\n", link.ID, dash(link.GHLID), dash(link.PTDID), link.MatchedBy)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tCYCLE\tRECORD\tFIELD\tRULE\tDIRECTION\tOLD\tNEW")
	for _, h := range entries {
		fmt.Fprintf(tw, "%s\t%d\t%s %s\t%s\t%s\t%s\t%q\t%q\n", ts(h.At), h.Cycle, h.RecordKind, h.RecordID, h.Field, h.Rule, h.Direction, h.Old, h.New)
	}
	_ = tw.Flush()
	return exitOK
}
