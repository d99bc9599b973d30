package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"ptsync/store"
	"ptsync/store/query"
)

func cmdShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("show", stderr, "usage: ptsync show contact <id|email> [--json] [--db PATH]")
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print the view as JSON")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 2 || pos[0] != "contact" {
		return usageExit(fs)
	}
	m, err := openMirror(ctx, dbPath(*db), false)
	if err != nil {
		return fail(stderr, "show", err, exitForMirror(err))
	}
	defer m.Close()
	v, err := withMirrorOrAdmin(m,
		inView(func(tx *store.Tx) (query.ContactView, error) { return query.ShowContact(tx, pos[1]) }),
		func() (query.ContactView, error) { return m.remote.Show(ctx, pos[1]) })
	if err != nil {
		return fail(stderr, "show", err, exitFor(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return exitFailure
		}
		return exitOK
	}
	printContactView(stdout, v)
	return exitOK
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func printContactView(w io.Writer, v query.ContactView) {
	c := v.Contact
	fmt.Fprintf(w, "contact %s  %s %s <%s> %s\n", c.ID, c.FirstName, c.LastName, c.Email, c.Phone)
	fmt.Fprintf(w, "  tags: %s\n  added %s, updated %s, fetched %s, children fetched %s, dirty %v\n",
		strings.Join(c.Tags, ", "), ts(c.DateAdded), ts(c.DateUpdated), ts(c.FetchedAt), ts(c.ChildrenFetchedAt), v.Dirty)
	if v.Link != nil {
		fmt.Fprintf(w, "link %s: ptd client %s (matched by %s, %s)\n", v.Link.ID, v.Link.PTDID, v.Link.MatchedBy, ts(v.Link.CreatedAt))
	} else {
		fmt.Fprintln(w, "link: none")
	}
	if v.Client != nil {
		fmt.Fprintf(w, "  ptd: %s %s <%s> access %s, tags %s, updated %s\n", v.Client.FirstName, v.Client.LastName,
			v.Client.Email, v.Client.Access, strings.Join(v.Client.Tags, ", "), ts(v.Client.UpdatedAt))
	}
	if v.Base != nil {
		fmt.Fprintf(w, "base agreed %s:\n", ts(v.Base.AgreedAt))
		for _, k := range sortedKeys(v.Base.Fields) {
			fmt.Fprintf(w, "  %s = %s\n", k, v.Base.Fields[k])
		}
	}
	for _, sec := range v.Children {
		fmt.Fprintf(w, "%s (%d):\n", sec.Heading, len(sec.Records))
		for _, line := range sec.Lines {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintf(w, "pending writes (%d):\n", len(v.Outbox))
	for _, e := range v.Outbox {
		dead := ""
		if e.Dead {
			dead = " DEAD"
		}
		fmt.Fprintf(w, "  #%d %s %s attempts %d%s %s\n", e.Seq, e.Target, e.Op, e.Attempts, dead, e.LastError)
	}
	fmt.Fprintf(w, "open conflicts (%d):\n", len(v.Conflicts))
	for _, c := range v.Conflicts {
		fmt.Fprintf(w, "  %s: base %s, ghl %q, ptd %q (since %s): %s\n", c.Field, conflictBase(c), c.GHL, c.PTD, ts(c.DetectedAt), conflictReason(c))
	}
	fmt.Fprintf(w, "history (%d):\n", len(v.History))
	for _, h := range v.History {
		fmt.Fprintf(w, "  %s  %s %s: %q -> %q (%s)\n", ts(h.At), h.Direction, h.Field, h.Old, h.New, h.Rule)
	}
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
