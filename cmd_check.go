package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"

	"ptsync/store"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "mirror file (default $PTSYNC_DB or ./ptsync.db)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync check [--db PATH]")
		fmt.Fprintln(stderr, "verifies the mirror (bbolt structure, indexes, cursors, outbox, links); migrates an older schema")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(pos) != 0 {
		fs.Usage()
		return exitUsage
	}
	path := dbPath(*db)
	// Read-write so that an older schema is migrated; never creates a file (openMirror checks).
	m, err := openMirror(ctx, path, true)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync check: %v\n", err)
		return exitFailure
	}
	defer m.Close()
	if m.remote != nil {
		r, err := m.remote.Check(ctx)
		if err = remoteErr(m, err); err != nil {
			fmt.Fprintf(stderr, "ptsync check: %v\n", err)
			return exitFailure
		}
		if !r.OK {
			fmt.Fprintf(stderr, "ptsync check: %s\n", r.Error)
			return exitFailure
		}
		fmt.Fprintf(stdout, "mirror %s: ok (checked by the running service)\n", path)
		return exitOK
	}
	if err := m.db.Check(); err != nil {
		fmt.Fprintf(stderr, "ptsync check: %v\n", err)
		return exitFailure
	}
	var stats map[string]int
	_ = m.db.View(func(tx *store.Tx) error { stats, err = tx.Stats(); return err })
	schema, _ := m.db.SchemaOf()
	fmt.Fprintf(stdout, "mirror %s: ok (schema %d)\n", path, schema)
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %-18s %d\n", k, stats[k])
	}
	return exitOK
}
