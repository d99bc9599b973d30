package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"ptsync/store"
)

// cmdOutbox lists pending writes and lets the operator retry or drop them:
//
//	ptsync outbox [--dead] [--json]
//	ptsync outbox retry <seq>|all-dead
//	ptsync outbox drop <seq>
func cmdOutbox(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "mirror file (default $PTSYNC_DB or ./ptsync.db)")
	dead := fs.Bool("dead", false, "list dead-lettered entries only")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync outbox [--dead] [--json] [--db PATH]\n       ptsync outbox retry <seq>|all-dead [--db PATH]\n       ptsync outbox drop <seq> [--db PATH]")
		fs.PrintDefaults()
	}
	pos, code, ok := parseFlags(fs, args, stderr, -1)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return outboxAction(pos, dbPath(*db), stdout, stderr, fs)
	}
	mdb, err := store.Open(dbPath(*db), store.Options{ReadOnly: true, Timeout: mirrorLockTimeout})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync outbox: %v\n", err)
		return exitFailure
	}
	defer mdb.Close()
	entries := []store.OutboxEntry{}
	err = mdb.View(func(tx *store.Tx) error {
		return tx.ForEachOutbox(func(o *store.OutboxEntry) error {
			if !*dead || o.Dead {
				entries = append(entries, *o)
			}
			return nil
		})
	})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync outbox: %v\n", err)
		return exitFailure
	}
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

func outboxAction(pos []string, path string, stdout, stderr io.Writer, fs *flag.FlagSet) int {
	if len(pos) != 2 || (pos[0] != "retry" && pos[0] != "drop") {
		fs.Usage()
		return exitUsage
	}
	var seq uint64
	if !(pos[0] == "retry" && pos[1] == "all-dead") {
		n, err := strconv.ParseUint(pos[1], 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "ptsync outbox %s: %q is not an entry number\n", pos[0], pos[1])
			return exitUsage
		}
		seq = n
	}
	mdb, err := store.Open(path, store.Options{Timeout: mirrorLockTimeout})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync outbox %s: %v (stop the service to change its outbox)\n", pos[0], err)
		return exitFailure
	}
	defer mdb.Close()
	n := 0
	err = mdb.Update(func(tx *store.Tx) error {
		switch {
		case pos[0] == "drop":
			o, err := tx.DropOutbox(seq)
			if err == nil {
				fmt.Fprintf(stdout, "dropped %d (%s %s on %s/%s); it will not be written\n", o.Seq, o.Target, o.Op, o.RecordKind, o.RecordID)
				n++
			}
			return err
		case seq != 0:
			_, err := tx.RetryOutbox(seq)
			n++
			return err
		default:
			var dead []uint64
			if err := tx.ForEachOutbox(func(o *store.OutboxEntry) error {
				if o.Dead {
					dead = append(dead, o.Seq)
				}
				return nil
			}); err != nil {
				return err
			}
			for _, s := range dead {
				if _, err := tx.RetryOutbox(s); err != nil {
					return err
				}
				n++
			}
			return nil
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync outbox %s: %v\n", pos[0], err)
		return exitFailure
	}
	if pos[0] == "retry" {
		fmt.Fprintf(stdout, "%d entries due now; the next push retries them\n", n)
	}
	return exitOK
}
