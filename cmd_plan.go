package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/plan"
	"ptsync/store"
)

// cmdPlan prints the writes the next reconcile would make, computed from the mirror alone
// (no network; run the service or `ptsync demo` to refresh the mirror first). It writes nothing.
// While the service holds the mirror, the service's own engine (and configuration) plans it,
// and stderr says so.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", stderr, "usage: ptsync plan [--config PATH] [--db PATH] [--skipped] [--json]")
	cfgPath := configFlag(fs)
	db := storeDBFlag(fs)
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	eachSkip := fs.Bool("skipped", false, "list every skipped record (default: one line per reason, with a count)")
	if _, code, ok := parseFlags(fs, args, stderr, 0); !ok {
		return code
	}
	cfg, path, code := reconcileConfig(*cfgPath, *db, stderr)
	if cfg == nil {
		return code
	}
	m, code, ok := openReconcile(ctx, stderr, "plan", path, false, cfg)
	if !ok {
		return code
	}
	defer m.Close()
	p, err := withMirrorOrAdmin(m.mirror,
		func(*store.DB) (plan.Plan, error) { return m.eng.Plan(ctx) },
		func() (plan.Plan, error) { return m.admin.Plan(ctx) })
	if err != nil {
		return fail(stderr, "plan", err, exitFor(err))
	}
	m.via(stderr, "planned")
	if m.admin != nil {
		// The service merges with the mapping it was started (or last reloaded) with.
		fmt.Fprintln(stderr, "with the configuration the service runs; to preview a changed --config, reload the service (SIGHUP) or stop it first")
	}
	if *asJSON {
		return writeJSON(stdout, stderr, p)
	}
	groups := groupSkips(p.Skipped)
	switch {
	case p.IsEmpty() && len(p.Skipped) == 0:
		fmt.Fprintln(stdout, "in sync: the next cycle writes nothing")
	case p.IsEmpty():
		// Skipped records are not in sync: each waits for something the operator can give.
		var why []string
		for _, g := range groups {
			why = append(why, fmt.Sprintf("%d %s", g.count, g.reason))
		}
		fmt.Fprintf(stdout, "nothing to write; %d records skipped (%s)\n", len(p.Skipped), strings.Join(why, "; "))
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	if len(p.Links) > 0 {
		fmt.Fprintf(tw, "NEW LINK\tKIND\tGHL\tPTD\tBY\n")
		for _, l := range p.Links {
			fmt.Fprintf(tw, "+\t%s\t%s\t%s\t%s\n", l.Kind, dash(l.GHLID), dash(l.PTDID), l.MatchedBy)
		}
		fmt.Fprintln(tw)
	}
	if len(p.Writes) > 0 {
		fmt.Fprintf(tw, "TARGET\tOP\tKIND\tGHL\tPTD\tWHAT\n")
		for _, w := range p.Writes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.Target, w.Op, w.RecordKind, dash(w.GHLID), dash(w.PTDID), w.Summary)
		}
		fmt.Fprintln(tw)
	}
	for _, c := range p.Conflicts {
		fmt.Fprintf(tw, "conflict\t%s\t%s\tghl %q\tptd %q\n", dash(c.LinkID), c.Field, c.GHL, c.PTD)
	}
	if *eachSkip {
		for _, s := range p.Skipped {
			fmt.Fprintf(tw, "skipped\t%s %s\t%s\t%s\n", s.Side, s.Kind, s.ID, s.Reason)
		}
	} else if len(groups) > 0 {
		fmt.Fprintf(tw, "SKIPPED\tSIDE\tKIND\tWHY\n")
		for _, g := range groups {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", g.count, g.side, g.kind, g.reason)
		}
	}
	_ = tw.Flush()
	if len(groups) > 0 && !*eachSkip {
		fmt.Fprintln(stdout, "list the skipped records with: ptsync plan --skipped")
	}
	if p.ReadOnly {
		fmt.Fprintln(stdout, "read-only token: nothing is written to HighLevel")
	}
	fmt.Fprintf(stdout, "%d new links, %d writes, %d conflicts, %d skipped\n", len(p.Links), len(p.Writes), len(p.Conflicts), len(p.Skipped))
	return exitOK
}

// skipGroup is the skipped records of one side and kind that share a reason.
type skipGroup struct {
	side, kind, reason string
	count              int
}

// groupSkips counts skips by (side, kind, reason), the largest group first, ties in reason
// order, so the same plan always prints the same lines.
func groupSkips(skips []plan.Skip) []skipGroup {
	at := map[[3]string]int{}
	var out []skipGroup
	for _, s := range skips {
		k := [3]string{s.Side, s.Kind, s.Reason}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, skipGroup{side: s.Side, kind: s.Kind, reason: s.Reason})
		}
		out[i].count++
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count > out[j].count
		}
		return out[i].side+out[i].kind+out[i].reason < out[j].side+out[j].kind+out[j].reason
	})
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// offlineEngine builds an engine over db that never touches the network. It prints the
// problem and returns nil with the exit code on failure.
func offlineEngine(cfg *config.Config, db *store.DB, stderr io.Writer) (*reconcile.Engine, int) {
	eng, err := reconcile.New(reconcile.Options{Store: db, Config: cfg, Offline: true, OfflineCaps: ptd.DeclaredCapabilities(cfg.PTD),
		Logger: hclog.New(&hclog.LoggerOptions{Output: stderr, Level: hclog.Warn})})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync: %v\n", err)
		return nil, exitUsage
	}
	return eng, exitOK
}
