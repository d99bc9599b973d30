package main

import (
	"context"
	"errors"
	"flag"
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
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "mirror file (default $PTSYNC_DB or ./ptsync.db)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync history <link id|highlevel id|ptd id|email> [--db PATH] [--json]")
		fs.PrintDefaults()
	}
	pos, code, ok := parseFlags(fs, args, stderr, 1)
	if !ok {
		return code
	}
	m, err := openReconcileMirror(ctx, dbPath(*db), false)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync history: %v\n", err)
		return exitFailure
	}
	defer m.Close()
	var v reconcile.HistoryView
	if m.db != nil {
		err = m.db.View(func(tx *store.Tx) error { v, err = reconcile.LinkHistory(tx, pos[0]); return err })
	} else {
		v, err = m.admin.History(ctx, pos[0])
		err = remoteErr(m.mirror, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "ptsync history: no linked record matches %q (try a link id, a HighLevel or PTD id, or an email)\n", pos[0])
		return exitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "ptsync history: %v\n", err)
		return exitFor(err)
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
