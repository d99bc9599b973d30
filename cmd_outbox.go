package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"ptsync/replicator/reconcile"
	"ptsync/store"
)

// cmdOutbox lists pending writes and lets the operator retry or drop them:
//
//	ptsync outbox [--dead] [--json]
//	ptsync outbox retry <seq>|all-dead
//	ptsync outbox drop <seq>
//
// While the service holds the mirror, all three go through its admin endpoint; retry and drop
// are then applied by the service in its own transaction.
func cmdOutbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("outbox", stderr, "usage: ptsync outbox [--dead] [--json] [--db PATH]\n       ptsync outbox retry <seq>|all-dead [--db PATH]\n       ptsync outbox drop <seq> [--db PATH]")
	db := dbFlag(fs)
	dead := fs.Bool("dead", false, "list dead-lettered entries only")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parseFlags(fs, args, stderr, -1)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return outboxAction(ctx, pos, dbPath(*db), stdout, stderr, fs)
	}
	m, code, ok := openReconcile(ctx, stderr, "outbox", dbPath(*db), false, nil)
	if !ok {
		return code
	}
	defer m.Close()
	entries, err := withMirrorOrAdmin(m.mirror,
		inView(func(tx *store.Tx) ([]store.OutboxEntry, error) { return reconcile.ListOutbox(tx, *dead) }),
		func() ([]store.OutboxEntry, error) { return m.admin.Outbox(ctx, *dead) })
	if err != nil {
		return fail(stderr, "outbox", err, exitFor(err))
	}
	m.via(stderr, "listed")
	if *asJSON {
		return writeJSON(stdout, stderr, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(stdout, "outbox is empty")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTARGET\tOP\tRECORD\tATTEMPTS\tNEXT\tSTATE\tLAST ERROR")
	for _, o := range entries {
		state := "pending"
		if o.Dead {
			state = "dead"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s/%s\t%d\t%s\t%s\t%s\n", o.Seq, o.Target, o.Op, o.RecordKind, o.RecordID, o.Attempts, ts(o.NextAttemptAt), state, o.LastError)
	}
	_ = tw.Flush()
	return exitOK
}

func outboxAction(ctx context.Context, pos []string, path string, stdout, stderr io.Writer, fs *flag.FlagSet) int {
	if len(pos) != 2 || (pos[0] != "retry" && pos[0] != "drop") {
		return usageExit(fs)
	}
	var req reconcile.OutboxRequest
	if pos[0] == "retry" && pos[1] == "all-dead" {
		req.AllDead = true
	} else {
		n, err := strconv.ParseUint(pos[1], 10, 64)
		if err != nil || n == 0 {
			fmt.Fprintf(stderr, "ptsync outbox %s: %q is not an entry number\n", pos[0], pos[1])
			return exitUsage
		}
		req.Seq = n
	}
	cmd := "outbox " + pos[0]
	m, code, ok := openReconcile(ctx, stderr, cmd, path, true, nil)
	if !ok {
		return code
	}
	defer m.Close()
	local, remote := reconcile.RetryOutbox, m.admin.RetryOutbox
	if pos[0] == "drop" {
		local, remote = reconcile.DropOutbox, m.admin.DropOutbox
	}
	res, err := withMirrorOrAdmin(m.mirror,
		inUpdate(func(tx *store.Tx) (reconcile.OutboxResult, error) { return local(tx, req) }),
		func() (reconcile.OutboxResult, error) { return remote(ctx, req) })
	if err != nil {
		return fail(stderr, cmd, err, exitFor(err))
	}
	m.via(stderr, "applied")
	if o := res.Dropped; o != nil {
		fmt.Fprintf(stdout, "dropped %d (%s %s on %s/%s); it will not be written\n", o.Seq, o.Target, o.Op, o.RecordKind, o.RecordID)
	}
	if pos[0] == "retry" {
		fmt.Fprintf(stdout, "%d entries due now; the next push retries them\n", res.Retried)
	}
	return exitOK
}
