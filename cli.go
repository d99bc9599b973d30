package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"ptsync/config"
	"ptsync/replicator/reconcile"
	"ptsync/store"
	"ptsync/store/query"
)

// The helpers in this file are what the commands share: the flag set and its parsing, the
// --db and --config defaults, loading the configuration, and reaching the mirror either through
// the file or, while the service holds it, through the service's admin endpoint. Each helper
// prints in the calling command's words ("ptsync <name>: ..."), so a command reads as its own
// logic and its messages and exit codes stay its own.

// Offline commands (query, show, check, backup) open the mirror read-only with a short lock
// timeout. When the service holds the file (bbolt: one writer process, readers wait for its
// lock) they ask the service through its loopback admin endpoint, found in "<db>.admin".
const (
	mirrorLockTimeout = 300 * time.Millisecond
	adminTimeout      = 1500 * time.Millisecond
	defaultDBPath     = "ptsync.db"
)

// defaultConfigPath is used when neither --config nor $PTSYNC_CONFIG names a file.
const defaultConfigPath = "config.hcl"

// newFlagSet returns the flag set of `ptsync <name>`: errors go to stderr, parsing returns them
// (the caller picks the exit code), and -h prints usage's lines followed by the flag defaults;
// a bad flag prints the problem and the synopsis only (terseOnError, applied when parsing).
func newFlagSet(name string, stderr io.Writer, usage ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, l := range usage {
			fmt.Fprintln(fs.Output(), l)
		}
		fs.PrintDefaults()
	}
	return fs
}

// terseOnError makes fs answer a bad flag with the flag package's one-line complaint, the
// command's synopsis (the first line of its usage and the lines continuing it) and how to get
// the rest, instead of every flag's defaults; -h still prints them all. It relies on the
// flag package writing its complaint before it calls Usage, whereas -h calls Usage straight
// away. Call it after fs.Usage is final; calling it again does nothing.
func terseOnError(fs *flag.FlagSet) {
	if _, done := fs.Output().(*complaintWatch); done {
		return
	}
	out := &complaintWatch{w: fs.Output()}
	fs.SetOutput(out)
	full := fs.Usage
	if full == nil {
		full = fs.PrintDefaults
	}
	fs.Usage = func() {
		if !out.complained {
			full()
			out.complained = false
			return
		}
		var b strings.Builder
		fs.SetOutput(&b)
		full()
		fs.SetOutput(out)
		lines := strings.Split(b.String(), "\n")
		synopsis := lines[:1]
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "       ") || strings.HasPrefix(strings.TrimSpace(l), "-") {
				break
			}
			synopsis = append(synopsis, l)
		}
		fmt.Fprintf(out.w, "%s\n(run 'ptsync %s -h' for every flag)\n", strings.Join(synopsis, "\n"), fs.Name())
		out.complained = false
	}
}

// complaintWatch passes a flag set's output through and notes that something was written.
type complaintWatch struct {
	w          io.Writer
	complained bool
}

func (c *complaintWatch) Write(p []byte) (int, error) {
	c.complained = true
	return c.w.Write(p)
}

// dbFlag registers --db for a mirror that defaults to $PTSYNC_DB or ./ptsync.db (see dbPath).
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", "mirror file (default $PTSYNC_DB or ./ptsync.db)")
}

// storeDBFlag registers --db for commands that read the configuration: the mirror defaults to
// the configuration's store.path (see loadReconcileConfig).
func storeDBFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", "mirror file (default: store.path of the configuration)")
}

// configFlag registers --config (see configPath for the default).
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default $PTSYNC_CONFIG or ./config.hcl)")
}

// dbPath returns the mirror to use: the --db flag, else $PTSYNC_DB, else ./ptsync.db.
func dbPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := os.Getenv("PTSYNC_DB"); p != "" {
		return p
	}
	return defaultDBPath
}

// configPath returns the configuration file to use: the flag, else $PTSYNC_CONFIG, else ./config.hcl.
func configPath(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := getenv("PTSYNC_CONFIG"); p != "" {
		return p
	}
	return defaultConfigPath
}

// parseInterleaved lets positional arguments and flags mix ("query contacts --tag vip" and
// "query --tag vip contacts").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	terseOnError(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseExit is the exit code of a failed parse: 0 after -h (the usage was asked for), else 2
// (the flag package has already printed the problem and the usage).
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// parseArgs parses fs with flags and positionals mixed and returns the positionals; ok is
// false when the caller must return code.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, parseExit(err), false
	}
	return pos, exitOK, true
}

// parseFlags parses fs (flags and positionals may mix) and checks the positional count (-1:
// any), saying what it wanted; ok is false when the caller must return code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, positionals int) ([]string, int, bool) {
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return nil, code, false
	}
	if positionals >= 0 && len(pos) != positionals {
		fmt.Fprintf(stderr, "ptsync %s: want %d argument(s), got %d\n", fs.Name(), positionals, len(pos))
		fs.Usage()
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// parseNoArgs parses fs the standard library's way (flags end at the first positional) and
// refuses any positional argument, naming it, and (showUsage) printing the usage after it; ok is
// false when the caller must return code.
func parseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer, showUsage bool) (int, bool) {
	terseOnError(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err), false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		if showUsage {
			fs.Usage()
		}
		return exitUsage, false
	}
	return exitOK, true
}

// usageExit prints fs's usage and returns the usage exit code, for a wrong set of positionals.
func usageExit(fs *flag.FlagSet) int {
	fs.Usage()
	return exitUsage
}

// fail prints err as `ptsync <cmd>: <err>` on stderr and returns code.
func fail(stderr io.Writer, cmd string, err error, code int) int {
	fmt.Fprintf(stderr, "ptsync %s: %v\n", cmd, err)
	return code
}

// exitFor maps an error to an exit code: request problems are usage errors.
func exitFor(err error) int {
	if errors.Is(err, query.ErrBadRequest) {
		return exitUsage
	}
	return exitFailure
}

// writeJSON writes v indented to stdout; a failed write is reported on stderr (exit 1).
func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "ptsync: cannot write JSON: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// loadConfig loads the configuration named by the --config value (configPath) and returns it
// with its file name. A bad file's diagnostics are printed and ok is false (exit 2).
func loadConfig(flagValue string, getenv func(string) string, stderr io.Writer) (*config.Config, string, bool) {
	file := configPath(flagValue, getenv)
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, file, false
	}
	return cfg, file, true
}

// mirror is either a local handle on the file or the running service's admin endpoint.
type mirror struct {
	db     *store.DB
	remote *query.Client
	path   string
}

// Close closes the local handle, if any; it is safe on a mirror reached through the service.
func (m mirror) Close() {
	if m.db != nil {
		_ = m.db.Close()
	}
}

// exitForMirror is the exit code of a mirror that cannot be opened: a path that is not a
// mirror (a text file, an empty file, a directory) is a wrong argument or setting, exit 2;
// anything else (missing, locked, corrupt, unreadable) is a runtime failure, exit 1.
func exitForMirror(err error) int {
	if errors.Is(err, store.ErrNotMirror) {
		return exitUsage
	}
	return exitFailure
}

// errLockedForeign: the file is locked and no ptsync service announced an admin endpoint.
var errLockedForeign = errors.New("locked by a process that is not a ptsync service")

// openMirror opens path read-only, or (readWrite) for migration; when the file is locked it
// returns a client for the service's admin endpoint, after checking that it answers.
func openMirror(ctx context.Context, path string, readWrite bool) (mirror, error) {
	m := mirror{path: path}
	if readWrite {
		// Never create or initialise a file here: only the service makes a new mirror.
		st, err := os.Stat(path)
		if err != nil {
			return m, fmt.Errorf("cannot open mirror %s: %w (the service creates it on first run)", path, store.ErrNoMirror)
		}
		if st.Mode().IsRegular() && st.Size() == 0 {
			return m, fmt.Errorf("cannot open mirror %s: %w: the file is empty", path, store.ErrNotMirror)
		}
	}
	db, err := store.Open(path, store.Options{ReadOnly: !readWrite, Timeout: mirrorLockTimeout, AppVersion: buildVersion()})
	if err == nil {
		m.db = db
		return m, nil
	}
	if !errors.Is(err, store.ErrLocked) {
		return m, err
	}
	info, aerr := store.ReadAdminAddr(path)
	if errors.Is(aerr, store.ErrNoAdmin) {
		return m, fmt.Errorf("mirror %s is %w: no %s file announces an admin endpoint, so it cannot be queried while that process holds it (find it with: fuser %s)",
			path, errLockedForeign, store.AdminPath(path), path)
	}
	if aerr != nil {
		return m, fmt.Errorf("mirror %s is locked by another process and its admin file is unusable: %w", path, aerr)
	}
	m.remote = query.NewClient(info, adminTimeout)
	return m, nil
}

// remoteErr explains an unreachable admin endpoint; other errors pass unchanged.
func remoteErr(m mirror, err error) error {
	if errors.Is(err, query.ErrUnreachable) {
		return fmt.Errorf("mirror %s is locked by another process and the ptsync admin endpoint named in %s did not answer: %w",
			m.path, store.AdminPath(m.path), err)
	}
	return err
}

// source names where m's answers come from, for the commands' summaries.
func (m mirror) source() string {
	if m.db != nil {
		return "mirror"
	}
	return "service admin endpoint"
}

// withMirrorOrAdmin returns local's result when m holds the file, else remote's (the running
// service's answer), whose unreachable-endpoint error is explained (remoteErr). It adds no
// transaction of its own: wrap local with inView or inUpdate for one.
func withMirrorOrAdmin[T any](m mirror, local func(db *store.DB) (T, error), remote func() (T, error)) (T, error) {
	if m.db != nil {
		return local(m.db)
	}
	v, err := remote()
	return v, remoteErr(m, err)
}

// inView runs read in one read transaction of the mirror.
func inView[T any](read func(tx *store.Tx) (T, error)) func(db *store.DB) (T, error) {
	return func(db *store.DB) (v T, err error) {
		err = db.View(func(tx *store.Tx) error { v, err = read(tx); return err })
		return v, err
	}
}

// inUpdate runs write in one read-write transaction of the mirror; an error rolls it back.
func inUpdate[T any](write func(tx *store.Tx) (T, error)) func(db *store.DB) (T, error) {
	return func(db *store.DB) (v T, err error) {
		err = db.Update(func(tx *store.Tx) error { v, err = write(tx); return err })
		return v, err
	}
}

// reconcileAdminTimeout bounds one reconcile command's call to the running service: a plan
// or an outbox action waits for the engine's job in progress (a push) before it starts.
const reconcileAdminTimeout = 20 * time.Second

// reconcileConfig loads the configuration and picks the mirror (--db, else store.path). It
// prints the problem and returns a nil config with exit code 2 when the file is bad.
func reconcileConfig(cfgFlag, dbFlag string, stderr io.Writer) (*config.Config, string, int) {
	cfg, _, ok := loadConfig(cfgFlag, os.Getenv, stderr)
	if !ok {
		return nil, "", exitUsage
	}
	path := dbFlag
	if path == "" {
		path = cfg.Store.Path
	}
	return cfg, path, exitOK
}

// reconcileMirror is the mirror for plan, conflicts, outbox and history: a local handle (with
// an offline engine over it when opened with a configuration), or (admin set) the running
// service that holds the file, reached through its admin endpoint.
type reconcileMirror struct {
	mirror
	admin *reconcile.AdminClient
	eng   *reconcile.Engine
}

// openReconcileMirror opens path read-only, or read-write for operator actions, with the short
// lock timeout (openMirror). When a ptsync service holds the file it returns the service's
// reconcile admin client instead; when neither works the error says why (exit 1).
func openReconcileMirror(ctx context.Context, path string, write bool) (reconcileMirror, error) {
	m, err := openMirror(ctx, path, write)
	if err != nil {
		return reconcileMirror{}, err
	}
	r := reconcileMirror{mirror: m}
	if m.remote != nil {
		info, err := store.ReadAdminAddr(path)
		if err != nil {
			return reconcileMirror{}, fmt.Errorf("mirror %s is locked by another process and its admin file is unusable: %w", path, err)
		}
		r.admin = reconcile.NewAdminClient(query.NewClient(info, reconcileAdminTimeout))
	}
	return r, nil
}

// openReconcile is openReconcileMirror in cmd's words and, given cfg and a local file, with the
// offline engine (offlineEngine) built over it. On failure it has printed why and ok is false:
// code is 1 when the mirror cannot be reached, 2 when cfg does not make an engine.
func openReconcile(ctx context.Context, stderr io.Writer, cmd, path string, write bool, cfg *config.Config) (reconcileMirror, int, bool) {
	m, err := openReconcileMirror(ctx, path, write)
	if err != nil {
		return m, fail(stderr, cmd, err, exitForMirror(err)), false
	}
	if cfg != nil && m.db != nil {
		eng, code := offlineEngine(cfg, m.db, stderr)
		if eng == nil {
			m.Close()
			return reconcileMirror{}, code, false
		}
		m.eng = eng
	}
	return m, exitOK, true
}

// via tells stderr (not stdout, which stays the same either way) that the service did it.
func (m reconcileMirror) via(stderr io.Writer, what string) {
	if m.admin != nil {
		fmt.Fprintf(stderr, "%s by the running service (via its admin endpoint)\n", what)
	}
}
