package store

import (
	"errors"
	"fmt"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// ErrWriteFailed matches (errors.Is) every *WriteError: a read-write transaction whose own
// work succeeded but whose commit did not reach the file (a full disk, an I/O error, a
// read-only remount). The transaction was rolled back entirely, so the mirror holds exactly
// what it held before; the caller's work is lost only in memory and may be retried as is.
var ErrWriteFailed = errors.New("cannot write the mirror")

// WriteError is a failed commit of a read-write transaction (see ErrWriteFailed). Err is the
// cause from below the store (an *os.PathError carrying syscall.ENOSPC, EIO, ...).
type WriteError struct {
	Path string
	Err  error
}

// Error names the mirror and the cause; Hint has the advice for the operator.
func (e *WriteError) Error() string {
	return fmt.Sprintf("cannot write mirror %s: %v", e.Path, e.Err)
}

// Unwrap exposes the cause, so errors.Is(err, syscall.ENOSPC) works through it.
func (e *WriteError) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrWriteFailed) match.
func (e *WriteError) Is(target error) bool { return target == ErrWriteFailed }

// Hint says what an operator can do about the failure, for messages that end a command.
func (e *WriteError) Hint() string {
	switch WriteCause(e) {
	case CauseNoSpace:
		return "free space on the filesystem that holds " + e.Path + ", or put the mirror elsewhere"
	case CauseIO:
		return "the filesystem that holds " + e.Path + " reports I/O errors or is read-only: check it (dmesg), then run 'ptsync check --db " + e.Path + "'"
	}
	return "check the filesystem that holds " + e.Path
}

// Causes of a failed mirror write, as WriteCause names them (the label values of
// ptsync_mirror_write_errors_total).
const (
	CauseNoSpace = "no_space" // ENOSPC, EDQUOT, EFBIG: the filesystem, a quota or a size limit is full
	CauseIO      = "io"       // EIO, EROFS: the device failed or the filesystem went read-only
	CauseOther   = "other"
)

// WriteCause classifies a failed mirror write by what lies below it.
func WriteCause(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return CauseNoSpace
	case errors.Is(err, syscall.EIO), errors.Is(err, syscall.EROFS):
		return CauseIO
	}
	return CauseOther
}

// commit runs fn in a read-write transaction through write (bbolt's Update or Batch) and
// tells the two ways it can fail apart: fn's own error comes back unchanged; a failure after
// fn returned nil is the commit's, returned as *WriteError and reported to OnCommit (as is
// every successful commit, with nil).
func (db *DB) commit(write func(func(*bolt.Tx) error) error, fn func(*Tx) error) error {
	var fnErr error
	ran := false
	err := write(func(btx *bolt.Tx) error {
		ran = true
		fnErr = fn(db.newTx(btx))
		if fnErr != nil {
			return fnErr
		}
		if db.failCommit != nil {
			// Injected below the store: as if the commit that follows had failed.
			return db.failCommit()
		}
		return nil
	})
	if fnErr != nil || !ran {
		return err // fn's own error, or no transaction began (read-only, closed)
	}
	if err != nil {
		err = &WriteError{Path: db.path, Err: err}
	}
	if db.onCommit != nil {
		db.onCommit(err)
	}
	return err
}

// HumanBytes renders n as B, KiB, MiB, GiB or TiB with one decimal, for operator messages.
func HumanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
