package main

import (
	"context"
	"fmt"
	"io"

	"ptsync/store"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", stderr, "usage: ptsync check [--db PATH]",
		"verifies the mirror (bbolt structure, indexes, cursors, outbox, links); migrates an older schema")
	db := dbFlag(fs)
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return usageExit(fs)
	}
	path := dbPath(*db)
	// Read-write so that an older schema is migrated; never creates a file (openMirror checks).
	m, err := openMirror(ctx, path, true)
	if err != nil {
		return fail(stderr, "check", err, exitForMirror(err))
	}
	defer m.Close()
	if m.remote != nil {
		r, err := m.remote.Check(ctx)
		if err = remoteErr(m, err); err != nil {
			return fail(stderr, "check", err, exitFailure)
		}
		if !r.OK {
			fmt.Fprintf(stderr, "ptsync check: %s\n", r.Error)
			return exitFailure
		}
		fmt.Fprintf(stdout, "mirror %s: ok (checked by the running service)\n", path)
		printDisk(stdout, path)
		return exitOK
	}
	if err := m.db.Check(); err != nil {
		return fail(stderr, "check", err, exitFailure)
	}
	var stats map[string]int
	_ = m.db.View(func(tx *store.Tx) error { stats, err = tx.Stats(); return err })
	schema, _ := m.db.SchemaOf()
	fmt.Fprintf(stdout, "mirror %s: ok (schema %d)\n", path, schema)
	for _, k := range sortedKeys(stats) {
		fmt.Fprintf(stdout, "  %-18s %d\n", k, stats[k])
	}
	printDisk(stdout, path)
	return exitOK
}

// printDisk adds the free space beside the mirror: a full disk stops every write to it.
func printDisk(w io.Writer, path string) {
	if d := diskBeside(path); d != nil {
		fmt.Fprintf(w, "  %-18s %s\n", "disk", d)
	}
}
