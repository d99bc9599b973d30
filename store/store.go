// Package store is ptsync's local mirror: one bbolt file holding the HighLevel and PT
// Distinction records, the links between them, the last agreed state, cursors, the outbox of
// pending writes, history, conflicts, the delete quarantine, webhook de-duplication, the
// child-refresh queue, reminders and OAuth tokens.
//
// Transactions are the unit of atomicity. A page of records and the cursor that covers it are
// written in one Update; an outbox entry is removed in the same Update that records its
// success. bbolt commits are fsynced, so whatever Update returned nil for survives a crash,
// and whatever it did not is entirely absent.
//
// Callers must not do network or other slow I/O inside View or Update: a read transaction
// pins pages (the file grows while it is open) and a write transaction blocks every other
// writer. Read what you need, return, call the network, then Update.
//
// Normalization is the caller's job: email (lower-case, trimmed) and phone (E.164) are
// indexed exactly as given in the records, so the caller passes them already normalized
// with the same functions it uses to look them up (package diff).
//
// The bucket layout is documented in docs/store.md.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this build writes. Open migrates older files forward
// and refuses newer ones with ErrSchemaTooNew.
const SchemaVersion = 5

// DefaultTimeout is how long Open waits for the file lock before giving up with ErrLocked.
const DefaultTimeout = time.Second

// Errors callers test with errors.Is.
var (
	// ErrLocked: another process holds the file (bbolt allows one writer process, and
	// readers wait for it). Usually the ptsync service; ask it over its admin endpoint.
	ErrLocked = errors.New("mirror is locked by another process")
	// ErrNotMirror: the file is not a bbolt file, or a bbolt file that is not a ptsync mirror.
	ErrNotMirror = errors.New("not a ptsync mirror")
	// ErrCorrupt: the file is a bbolt file whose structure or ptsync invariants are broken.
	ErrCorrupt = errors.New("mirror is corrupt")
	// ErrSchemaTooNew: the file was written by a newer ptsync (see *SchemaError).
	ErrSchemaTooNew = errors.New("mirror schema is newer than this ptsync supports")
	// ErrNeedsMigration: a read-only open found an older schema; open it read-write once.
	ErrNeedsMigration = errors.New("mirror schema needs migration")
	// ErrNoMirror: a read-only open of a path where no file exists.
	ErrNoMirror = errors.New("no mirror file")
	// ErrNotFound: the record, entry or key asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a record or argument is unusable (empty id, NUL byte in a key, ...).
	ErrInvalid = errors.New("invalid record")
)

// SchemaError is returned by Open for a file whose schema this build cannot use.
// It matches ErrSchemaTooNew or ErrNeedsMigration with errors.Is.
type SchemaError struct {
	Path      string
	Found     int    // schema version in the file
	Supported int    // SchemaVersion of this build
	WrittenBy string // ptsync version that last wrote the file, if recorded
	kind      error
}

// Error tells the operator what to run: the migrating open for an older file, a newer ptsync
// (named when the file records its writer) for a newer one.
func (e *SchemaError) Error() string {
	if e.kind == ErrNeedsMigration {
		return fmt.Sprintf("mirror %s has schema version %d, this ptsync uses %d: open it read-write once "+
			"(run 'ptsync check --db %s' or start the service) to migrate it", e.Path, e.Found, e.Supported, e.Path)
	}
	by := "a newer ptsync"
	if e.WrittenBy != "" {
		by = "ptsync " + e.WrittenBy
	}
	return fmt.Sprintf("mirror %s has schema version %d (written by %s) but this ptsync supports schema %d at most: "+
		"run %s or later against this file", e.Path, e.Found, by, e.Supported, by)
}

// Unwrap lets errors.Is match ErrSchemaTooNew or ErrNeedsMigration.
func (e *SchemaError) Unwrap() error { return e.kind }

// Options configure Open. The zero value opens read-write with DefaultTimeout.
type Options struct {
	// ReadOnly opens with a shared lock; Update fails. Several read-only openers may coexist,
	// but none while a read-write opener (the service) holds the file.
	ReadOnly bool
	// Timeout bounds the wait for the file lock; 0 means DefaultTimeout. Open never hangs.
	Timeout time.Duration
	// Logger receives open/migration events; nil discards.
	Logger hclog.Logger
	// Now is the clock used for CreatedAt/FetchedAt defaults; nil means time.Now.
	Now func() time.Time
	// AppVersion is recorded in the file as the last writer's version, so a refusal by an
	// older build can say which ptsync is needed.
	AppVersion string
	// OnCommit, when set, is told the outcome of every read-write transaction (Update and
	// Batch) whose own work succeeded: nil once it is durable, the *WriteError when the
	// commit failed (the service's readiness and ptsync_mirror_write_errors_total). It runs
	// on the writer's goroutine after the transaction ended and must not block or write.
	OnCommit func(err error)
	// FailCommit is fault injection for tests: when set, every read-write transaction whose
	// work succeeded calls it, and an error it returns rolls the transaction back and is
	// returned as a failed commit's would be (a *WriteError wrapping it), exactly what a full
	// disk does below bbolt. Never set in production.
	FailCommit func() error
	// BulkTxBytes bounds what one transaction of a bulk load writes (CompleteBulkLoad's
	// merge and index build) and the index entries it sorts in memory at a time; 0 means
	// 4 MiB. Smaller is slower and holds less memory; tests use a few KiB so that a small
	// load runs through many transactions.
	BulkTxBytes int
	// ChildKinds are the child kinds the mirror holds; nil means DefaultChildKinds (every
	// caller but tests that register a kind of their own). A registered kind's buckets must
	// exist in the file, as Open creates them in a new file or by migration.
	ChildKinds []ChildKind
}

// DB is an open mirror. It is safe for concurrent use: any number of View calls run in
// parallel with at most one Update at a time (bbolt's model).
type DB struct {
	bolt     *bolt.DB
	path     string
	readOnly bool
	log      hclog.Logger
	now      func() time.Time

	onCommit   func(error)
	failCommit func() error
	kinds      *childRegistry
	writes     collectionWrites // ordinary record writes per collection (the index build's check)
	bulkTx     int              // Options.BulkTxBytes or bulkTxBytes
}

// Open opens (creating if needed, unless ReadOnly) the mirror at path, migrates an older
// schema forward (read-write only) and checks that it is a ptsync mirror.
//
// Open never modifies a file it does not recognise: a non-bbolt file gives ErrNotMirror, a
// bbolt file whose meta pages are both broken gives ErrCorrupt, a bbolt file without
// ptsync's meta bucket gives ErrNotMirror; all name the path and leave the bytes untouched.
// A file held by another process gives ErrLocked after Timeout.
//
// Crash safety: commits are fsynced (NoSync is never set). NoFreelistSync is set: the
// freelist is not written on every commit (less I/O for page-sized batches) and is rebuilt
// from the page tree when the file is opened read-write, so a crash cannot leave a stale
// freelist behind.
func Open(path string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	kinds, err := newChildRegistry(opts.ChildKinds)
	if err != nil {
		return nil, fmt.Errorf("cannot open mirror %s: %w", path, err)
	}
	if err := probe(path, opts.ReadOnly, log); err != nil {
		return nil, err
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly:       opts.ReadOnly,
		Timeout:        timeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("cannot open mirror %s: %w (waited %s for the file lock; is the ptsync service running?)", path, ErrLocked, timeout)
		case errors.Is(err, berrors.ErrInvalid):
			return nil, fmt.Errorf("cannot open mirror %s: %w: not a bbolt file", path, ErrNotMirror)
		case errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("cannot open mirror %s: %w: %v", path, ErrCorrupt, err)
		}
		return nil, fmt.Errorf("cannot open mirror %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path, readOnly: opts.ReadOnly, log: log, now: now, onCommit: opts.OnCommit, failCommit: opts.FailCommit,
		kinds: kinds, writes: newCollectionWrites(kinds), bulkTx: bulkTxBytes}
	if opts.BulkTxBytes > 0 {
		db.bulkTx = opts.BulkTxBytes
	}
	if err := db.initSchema(opts.AppVersion); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return db, nil
}

// probe validates an existing file's bbolt meta pages with plain reads before bbolt sees it,
// so a foreign or broken file is reported, never initialised or rewritten.
func probe(path string, readOnly bool, log hclog.Logger) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if readOnly {
			return fmt.Errorf("cannot open mirror %s: %w (the service creates it on first run)", path, ErrNoMirror)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot open mirror %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot stat mirror %s: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("cannot open mirror %s: %w: it is a directory", path, ErrNotMirror)
	}
	if st.Size() == 0 {
		if readOnly {
			return fmt.Errorf("cannot open mirror %s: %w: the file is empty", path, ErrNotMirror)
		}
		return nil // bbolt initialises an empty file; nothing to lose
	}
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	m0 := parseMeta(buf[:n])
	if m0.magicOK && m0.pageSize >= 1024 && m0.pageSize <= 1<<16 && !m0.sumOK {
		log.Warn("first meta page is damaged, using the second", "path", path)
	}
	if !m0.magicOK {
		return fmt.Errorf("cannot open mirror %s: %w: not a bbolt file (no bbolt magic in the header)", path, ErrNotMirror)
	}
	if m0.sumOK {
		if st.Size() < int64(m0.pageSize)*2 {
			return fmt.Errorf("cannot open mirror %s: %w: file is %d bytes, shorter than its two meta pages", path, ErrCorrupt, st.Size())
		}
		return nil
	}
	// Page 0 is damaged: bbolt would fall back to page 1; accept only if page 1 is sound.
	for _, ps := range []int64{4096, 8192, 16384, 32768, 65536, 1024, 2048} {
		b := make([]byte, 128)
		if n, _ := f.ReadAt(b, ps); n == len(b) {
			if m1 := parseMeta(b); m1.magicOK && m1.sumOK && int64(m1.pageSize) == ps {
				return nil
			}
		}
	}
	return fmt.Errorf("cannot open mirror %s: %w: both bbolt meta pages fail their checksum", path, ErrCorrupt)
}

type metaProbe struct {
	magicOK, sumOK bool
	pageSize       uint32
}

// parseMeta reads a bbolt meta page: a 16-byte page header, then magic, version, page size,
// flags, root bucket (16), freelist, pgid, txid and an FNV-64a checksum of the preceding 56 bytes.
func parseMeta(p []byte) metaProbe {
	const off = 16
	if len(p) < off+64 {
		return metaProbe{}
	}
	m := p[off:]
	le := binary.LittleEndian
	if le.Uint32(m[0:4]) != 0xED0CDAED || le.Uint32(m[4:8]) != 2 {
		return metaProbe{}
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	return metaProbe{magicOK: true, sumOK: h.Sum64() == le.Uint64(m[56:64]), pageSize: le.Uint32(m[8:12])}
}

// Path returns the file the mirror lives in.
func (db *DB) Path() string { return db.path }

// ReadOnly reports whether the mirror was opened read-only.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Close releases the file and its lock. Safe to call on a nil *DB.
func (db *DB) Close() error {
	if db == nil || db.bolt == nil {
		return nil
	}
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("cannot close mirror %s: %w", db.path, err)
	}
	return nil
}

// Now returns the mirror's clock (Options.Now).
func (db *DB) Now() time.Time { return db.now() }

// View runs fn in a read-only transaction: a consistent snapshot, concurrent with writers.
// The Tx must not escape fn. A panic from a damaged page is returned as ErrCorrupt.
func (db *DB) View(fn func(*Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot read mirror %s: %w: %v", db.path, ErrCorrupt, r)
		}
	}()
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(db.newTx(btx)) })
}

// Update runs fn in a read-write transaction committed (and fsynced) if fn returns nil and
// rolled back entirely otherwise. Only one Update runs at a time. fn's error is returned as
// is; a commit that fails (a full disk) returns a *WriteError (errors.Is ErrWriteFailed) and
// leaves the file as it was before the transaction.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.commit(db.bolt.Update, fn)
}

// Batch is Update for many concurrent small writers (webhook intake): calls arriving within
// a few milliseconds share one commit. fn may run more than once and must be idempotent; its
// effects are durable only once Batch returns nil. Errors are as Update's.
func (db *DB) Batch(fn func(*Tx) error) error {
	return db.commit(db.bolt.Batch, fn)
}

// Tx is one transaction. It is valid only inside the View/Update/Batch callback that
// received it and must not be shared between goroutines.
type Tx struct {
	btx *bolt.Tx
	now func() time.Time
	st  *txState
}

func (db *DB) newTx(btx *bolt.Tx) *Tx {
	return &Tx{btx: btx, now: db.now, st: &txState{kinds: db.kinds, writes: db.writes}}
}

// txState is per-transaction state shared by a Tx and the views derived from it.
type txState struct {
	kinds   *childRegistry          // the mirror's child kinds (immutable, shared)
	writes  collectionWrites        // the DB's write counters (shared)
	buckets map[string]*bolt.Bucket // handles already looked up in this transaction
	skipRaw bool                    // reads leave Raw nil (see WithoutRaw)
	reuse   bool                    // iterators reuse one value (see ReuseValues)
}

// WithoutRaw returns a view of tx whose reads of mirrored records leave Raw nil and do not
// copy the raw HighLevel/PTD JSON at all: for scans that only look at the normalized fields
// (offline queries), which is most of a record's bytes. Everything else, writes included,
// behaves as on tx. Like tx it is valid only inside the callback that received tx.
func (tx *Tx) WithoutRaw() *Tx {
	st := *tx.st
	st.skipRaw = true
	return &Tx{btx: tx.btx, now: tx.now, st: &st}
}

// ReuseValues returns a view of tx whose iterating methods (ForEach*, *ByTag,
// *UpdatedSince, *DueBefore) decode every record into one value reused from call to call,
// instead of a fresh one each time: a scan of many records then allocates little. The
// callback must not keep the pointer, nor slices of the value (Tags, Raw), after it
// returns; strings are safe to keep. Methods returning slices are unaffected. Like tx it is
// valid only inside the callback that received tx.
func (tx *Tx) ReuseValues() *Tx {
	st := *tx.st
	st.reuse = true
	return &Tx{btx: tx.btx, now: tx.now, st: &st}
}

// Writable reports whether the transaction may write.
func (tx *Tx) Writable() bool { return tx.btx.Writable() }

// Now returns the mirror's clock.
func (tx *Tx) Now() time.Time { return tx.now() }

// Backup writes a consistent copy of the whole mirror to w from a read transaction, so
// writers continue meanwhile. The copy is a complete bbolt file openable by Open.
func (db *DB) Backup(w io.Writer) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		if _, err := btx.WriteTo(w); err != nil {
			return fmt.Errorf("cannot write backup of %s: %w", db.path, err)
		}
		return nil
	})
}

// BackupFile writes a consistent copy to path atomically: a temporary file in the same
// directory, fsynced, then renamed over path, then the directory fsynced. On failure path is
// unchanged and the temporary file removed.
func (db *DB) BackupFile(path string) error {
	return WriteFileAtomic(path, 0o600, db.Backup)
}
