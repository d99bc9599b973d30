package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"ptsync/store"
)

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", stderr, "usage: ptsync backup [--db PATH] FILE",
		"writes a consistent copy of the mirror to FILE atomically, also while the service runs")
	db := dbFlag(fs)
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageExit(fs)
	}
	src, dst := dbPath(*db), pos[0]
	if same(src, dst) {
		fmt.Fprintf(stderr, "ptsync backup: %s is the mirror itself; give another file\n", dst)
		return exitUsage
	}
	m, err := openMirror(ctx, src, false)
	if err != nil {
		return fail(stderr, "backup", err, exitForMirror(err))
	}
	defer m.Close()
	if m.db != nil {
		err = m.db.BackupFile(dst)
	} else {
		err = store.WriteFileAtomic(dst, 0o600, func(w io.Writer) error { return m.remote.Backup(ctx, w) })
		err = remoteErr(m, err)
	}
	if err != nil {
		return fail(stderr, "backup", err, exitForMirror(err))
	}
	// Prove the copy is usable before reporting success.
	bk, err := store.Open(dst, store.Options{ReadOnly: true, Timeout: mirrorLockTimeout})
	if err == nil {
		err = bk.Check()
		_ = bk.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "ptsync backup: the copy at %s does not verify: %v\n", dst, err)
		return exitFailure
	}
	st, _ := os.Stat(dst)
	fmt.Fprintf(stdout, "backup %s: %d bytes from %s (via %s), check ok\n", dst, st.Size(), src, m.source())
	return exitOK
}

func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
