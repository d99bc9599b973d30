package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"ptsync/store"
	"ptsync/store/query"
)

func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runQuery(ctx, args, stdout, stderr, time.Now)
}

// runQuery is `ptsync query` on the clock now: what now(), overdue and the relative flags
// mean, unless --now names the instant.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := newFlagSet("query", stderr)
	var req query.Request
	db := dbFlag(fs)
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
		fmt.Fprintln(fs.Output(), "usage: ptsync query <kind> [--email E] [--phone P] [--tag T] [--updated-since T] [--due-before T]")
		fmt.Fprintln(fs.Output(), "                    [--where EXPR] [--fields a,b] [--format table|json|csv] [--limit N] [--db PATH]")
		fmt.Fprintln(fs.Output(), "\nkinds and their fields (times are Unix seconds in --where: now(), date(\"2025-03-01\"), duration(\"7d\"), timeadd(t, \"-24h\")):")
		fmt.Fprint(fs.Output(), query.Describe())
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
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
		return fail(stderr, "query", err, exitForMirror(err))
	}
	defer m.Close()
	res, err := withMirrorOrAdmin(m,
		inView(func(tx *store.Tx) (query.Result, error) { return query.Run(tx, req, now()) }),
		func() (query.Result, error) { return m.remote.Query(ctx, req) })
	if err != nil {
		return fail(stderr, "query", err, exitFor(err))
	}
	if err := printResult(stdout, *format, res); err != nil {
		fmt.Fprintf(stderr, "ptsync query: cannot write output: %v\n", err)
		return exitFailure
	}
	more := ""
	if res.Truncated {
		more = fmt.Sprintf(" (stopped at --limit %d)", req.Limit)
	}
	fmt.Fprintf(stderr, "%d rows%s; plan %s, scanned %d records (via %s)\n", len(res.Rows), more, res.Plan, res.Scanned, m.source())
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
