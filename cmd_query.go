package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"ptsync/store"
	"ptsync/store/query"
)

// Offline commands (query, show, check, backup) open the mirror read-only with a short lock
// timeout. When the service holds the file (bbolt: one writer process, readers wait for its
// lock) they ask the service through its loopback admin endpoint, found in "<db>.admin".
const (
	mirrorLockTimeout = 300 * time.Millisecond
	adminTimeout      = 1500 * time.Millisecond
	defaultDBPath     = "ptsync.db"
)

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

// mirror is either a local read-only handle or the running service's admin endpoint.
type mirror struct {
	db     *store.DB
	remote *query.Client
	path   string
}

func (m mirror) Close() {
	if m.db != nil {
		_ = m.db.Close()
	}
}

// errLockedForeign: the file is locked and no ptsync service announced an admin endpoint.
var errLockedForeign = errors.New("locked by a process that is not a ptsync service")

// openMirror opens path read-only, or (readWrite) for migration; when the file is locked it
// returns a client for the service's admin endpoint, after checking that it answers.
func openMirror(ctx context.Context, path string, readWrite bool) (mirror, error) {
	m := mirror{path: path}
	if readWrite {
		if _, err := os.Stat(path); err != nil {
			return m, fmt.Errorf("cannot open mirror %s: %w", path, store.ErrNoMirror)
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

// exitFor maps an error to an exit code: request problems are usage errors.
func exitFor(err error) int {
	if errors.Is(err, query.ErrBadRequest) {
		return exitUsage
	}
	return exitFailure
}

// lockedHint explains an unreachable admin endpoint.
func remoteErr(m mirror, err error) error {
	if errors.Is(err, query.ErrUnreachable) {
		return fmt.Errorf("mirror %s is locked by another process and the ptsync admin endpoint named in %s did not answer: %w",
			m.path, store.AdminPath(m.path), err)
	}
	return err
}

// parseInterleaved lets positional arguments and flags mix ("query contacts --tag vip" and
// "query --tag vip contacts").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
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

func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var req query.Request
	db := fs.String("db", "", "mirror file (default $PTSYNC_DB or ./ptsync.db)")
	fs.StringVar(&req.Email, "email", "", "contacts/ptd-clients with this email (index)")
	fs.StringVar(&req.Phone, "phone", "", "contacts/ptd-clients with this phone (index; E.164 or with --region)")
	fs.StringVar(&req.Region, "region", "", "default region (e.g. US) for --phone without a country code")
	fs.StringVar(&req.Tag, "tag", "", "records carrying this tag (index)")
	fs.StringVar(&req.UpdatedSince, "updated-since", "", "updated at or after: RFC 3339, YYYY-MM-DD, or a duration ago (24h, 7d) (index)")
	fs.StringVar(&req.DueBefore, "due-before", "", "tasks due before: RFC 3339, YYYY-MM-DD, or a duration from now (48h, -1d) (index)")
	fs.StringVar(&req.Where, "where", "", "HCL expression over the record's fields, e.g. 'overdueTasks > 0 && !linked'")
	fields := fs.String("fields", "", "comma-separated columns (default: the kind's usual ones)")
	format := fs.String("format", "table", "output: table, json or csv")
	asJSON := fs.Bool("json", false, "same as --format json")
	fs.IntVar(&req.Limit, "limit", 1000, "at most this many rows (0: all)")
	nowFlag := fs.String("now", "", "evaluate now(), overdue and relative flags at this RFC 3339 instant (reproducible reports)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync query <kind> [--email E] [--phone P] [--tag T] [--updated-since T] [--due-before T]")
		fmt.Fprintln(stderr, "                    [--where EXPR] [--fields a,b] [--format table|json|csv] [--limit N] [--db PATH]")
		fmt.Fprintln(stderr, "\nkinds and their fields (times are Unix seconds in --where: now(), date(\"2025-03-01\"), duration(\"7d\"), timeadd(t, \"-24h\")):")
		fmt.Fprint(stderr, query.Describe())
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "ptsync query: want exactly one kind (%s), got %d arguments\n", strings.Join(query.Kinds(), ", "), len(pos))
		return exitUsage
	}
	req.Kind = pos[0]
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintf(stderr, "ptsync query: --now %q: want RFC 3339 such as 2025-03-10T12:00:00Z\n", *nowFlag)
			return exitUsage
		}
		req.Now = t
	}
	if *fields != "" {
		req.Fields = strings.Split(*fields, ",")
	}
	if *asJSON {
		*format = "json"
	}
	if *format != "table" && *format != "json" && *format != "csv" {
		fmt.Fprintf(stderr, "ptsync query: --format %q: want table, json or csv\n", *format)
		return exitUsage
	}
	m, err := openMirror(ctx, dbPath(*db), false)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync query: %v\n", err)
		return exitFailure
	}
	defer m.Close()
	var res query.Result
	if m.db != nil {
		err = m.db.View(func(tx *store.Tx) error {
			res, err = query.Run(tx, req, time.Now())
			return err
		})
	} else {
		res, err = m.remote.Query(ctx, req)
		err = remoteErr(m, err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ptsync query: %v\n", err)
		return exitFor(err)
	}
	if err := printResult(stdout, *format, res); err != nil {
		fmt.Fprintf(stderr, "ptsync query: cannot write output: %v\n", err)
		return exitFailure
	}
	via := "mirror"
	if m.remote != nil {
		via = "service admin endpoint"
	}
	more := ""
	if res.Truncated {
		more = fmt.Sprintf(" (stopped at --limit %d)", req.Limit)
	}
	fmt.Fprintf(stderr, "%d rows%s; plan %s, scanned %d records (via %s)\n", len(res.Rows), more, res.Plan, res.Scanned, via)
	return exitOK
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []string:
		return strings.Join(x, ",")
	case []any: // from JSON (admin endpoint)
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

func printResult(w io.Writer, format string, res query.Result) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(res.Fields); err != nil {
			return err
		}
		for _, r := range res.Rows {
			rec := make([]string, len(res.Fields))
			for i, f := range res.Fields {
				rec[i] = cell(r[f])
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(res.Fields, "\t")))
	for _, r := range res.Rows {
		vals := make([]string, len(res.Fields))
		for i, f := range res.Fields {
			vals[i] = strings.ReplaceAll(cell(r[f]), "\n", " ")
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}
