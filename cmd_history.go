package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"ptsync/diff"
	"ptsync/store"
)

// cmdHistory prints, for one record (a link id, a HighLevel contact id, a PTD client id or an
// email), every recorded field decision with the rule that made it, children included.
func cmdHistory(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "mirror file (default $PTSYNC_DB or ./ptsync.db)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync history <link id|highlevel id|ptd id|email> [--db PATH] [--json]")
		fs.PrintDefaults()
	}
	pos, code, ok := parseFlags(fs, args, stderr, 1)
	if !ok {
		return code
	}
	mdb, err := store.Open(dbPath(*db), store.Options{ReadOnly: true, Timeout: mirrorLockTimeout})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync history: %v\n", err)
		return exitFailure
	}
	defer mdb.Close()
	var link store.Link
	entries := []store.HistoryEntry{}
	err = mdb.View(func(tx *store.Tx) error {
		if link, err = findLink(tx, pos[0]); err != nil {
			return err
		}
		links := []store.Link{link}
		kids, err := tx.ChildLinks(link.ID)
		if err != nil {
			return err
		}
		links = append(links, kids...)
		for _, l := range links {
			hs, err := tx.History(l.ID)
			if err != nil {
				return err
			}
			entries = append(entries, hs...)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "ptsync history: no linked record matches %q (try a link id, a HighLevel or PTD id, or an email)\n", pos[0])
		return exitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "ptsync history: %v\n", err)
		return exitFailure
	}
	sortHistory(entries)
	if *asJSON {
		return writeJSON(stdout, stderr, map[string]any{"link": link, "history": entries})
	}
	fmt.Fprintf(stdout, "link %s: highlevel %s, ptd %s (matched by %s)\n", link.ID, dash(link.GHLID), dash(link.PTDID), link.MatchedBy)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tCYCLE\tRECORD\tFIELD\tRULE\tDIRECTION\tOLD\tNEW")
	for _, h := range entries {
		fmt.Fprintf(tw, "%s\t%d\t%s %s\t%s\t%s\t%s\t%q\t%q\n", ts(h.At), h.Cycle, h.RecordKind, h.RecordID, h.Field, h.Rule, h.Direction, h.Old, h.New)
	}
	_ = tw.Flush()
	return exitOK
}

func sortHistory(hs []store.HistoryEntry) {
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && hs[j].Seq < hs[j-1].Seq; j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
}

// findLink resolves a link id, a record id on either side, or an email to a contact link.
func findLink(tx *store.Tx, ref string) (store.Link, error) {
	if l, err := tx.GetLink(ref); err == nil {
		return l, nil
	}
	if l, err := tx.LinkByGHL(store.KindContact, ref); err == nil {
		return l, nil
	}
	if l, err := tx.LinkByPTD(store.KindContact, ref); err == nil {
		return l, nil
	}
	email, _ := diff.Email(ref)
	if email != "" {
		if gs, err := tx.GHLContactsByEmail(email); err == nil {
			for _, g := range gs {
				if l, err := tx.LinkByGHL(store.KindContact, g.ID); err == nil {
					return l, nil
				}
			}
		}
		if ps, err := tx.PTDClientsByEmail(email); err == nil {
			for _, p := range ps {
				if l, err := tx.LinkByPTD(store.KindContact, p.ID); err == nil {
					return l, nil
				}
			}
		}
	}
	return store.Link{}, fmt.Errorf("cannot find %q: %w", ref, store.ErrNotFound)
}
