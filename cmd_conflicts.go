package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/plan"
	"ptsync/store"
)

// cmdConflicts lists the field conflicts waiting for the operator (rule manual, or a value
// HighLevel refused as a duplicate) and resolves them:
//
//	ptsync conflicts [--all] [--json]
//	ptsync conflicts resolve <link> <field> --take ghl|ptd|value [--value V]
//
// Resolving queues the chosen value for the side(s) that lack it; the next push writes it.
// While the service holds the mirror, both go through its admin endpoint and the service
// resolves in its own transaction.
func cmdConflicts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "resolve" {
		return conflictsResolve(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("conflicts", stderr, "usage: ptsync conflicts [--db PATH] [--all] [--json]\n       ptsync conflicts resolve <link> <field> --take ghl|ptd|value [--value V] [--config PATH] [--db PATH]")
	db := dbFlag(fs)
	all := fs.Bool("all", false, "include resolved conflicts")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parseFlags(fs, args, stderr, 0); !ok {
		return code
	}
	m, code, ok := openReconcile(ctx, stderr, "conflicts", dbPath(*db), false, nil)
	if !ok {
		return code
	}
	defer m.Close()
	cs, err := withMirrorOrAdmin(m.mirror,
		inView(func(tx *store.Tx) ([]store.Conflict, error) { return reconcile.ListConflicts(tx, *all) }),
		func() ([]store.Conflict, error) { return m.admin.Conflicts(ctx, *all) })
	if err != nil {
		return fail(stderr, "conflicts", err, exitFor(err))
	}
	m.via(stderr, "listed")
	if *asJSON {
		if cs == nil {
			cs = []store.Conflict{}
		}
		return writeJSON(stdout, stderr, cs)
	}
	if len(cs) == 0 {
		fmt.Fprintln(stdout, "no open conflicts")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tFIELD\tBASE\tGHL\tPTD\tDETECTED\tRESOLVED\tWHY")
	for _, c := range cs {
		res := "-"
		if c.Resolved {
			res = c.Resolution
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%q\t%q\t%s\t%s\t%s\n", c.LinkID, c.Field, conflictBase(c), c.GHL, c.PTD, ts(c.DetectedAt), res, conflictReason(c))
	}
	_ = tw.Flush()
	fmt.Fprintln(stdout, "resolve with: ptsync conflicts resolve <link> <field> --take ghl|ptd|value [--value V]")
	return exitOK
}

func conflictsResolve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("conflicts resolve", stderr, "usage: ptsync conflicts resolve <link> <field> --take ghl|ptd|value [--value V] [--config PATH] [--db PATH]")
	cfg := configFlag(fs)
	db := storeDBFlag(fs)
	take := fs.String("take", "", "which value wins: ghl, ptd or value")
	value := fs.String("value", "", "the value to write with --take value (sets: a JSON array)")
	pos, code, ok := parseFlags(fs, args, stderr, 2)
	if !ok {
		return code
	}
	switch *take {
	case "ghl", "ptd":
	case "value":
		if *value == "" {
			fmt.Fprintln(stderr, "ptsync conflicts resolve: --take value needs --value")
			return exitUsage
		}
	default:
		fmt.Fprintf(stderr, "ptsync conflicts resolve: --take %q: want ghl, ptd or value\n", *take)
		return exitUsage
	}
	conf, path, code := reconcileConfig(*cfg, *db, stderr)
	if conf == nil {
		return code
	}
	m, code, ok := openReconcile(ctx, stderr, "conflicts resolve", path, true, conf)
	if !ok {
		return code
	}
	defer m.Close()
	c, err := withMirrorOrAdmin(m.mirror,
		func(*store.DB) (store.Conflict, error) {
			return m.eng.ResolveConflict(ctx, pos[0], pos[1], plan.Resolution{Take: *take, Value: *value})
		},
		func() (store.Conflict, error) {
			return m.admin.ResolveConflict(ctx, reconcile.ResolveRequest{Link: pos[0], Field: pos[1], Take: *take, Value: *value})
		})
	if err != nil {
		return fail(stderr, "conflicts resolve", err, exitFor(err))
	}
	m.via(stderr, "resolved")
	fmt.Fprintf(stdout, "resolved %s %s = %q; the next push writes it\n", c.LinkID, c.Field, c.Resolution)
	return exitOK
}

// conflictBase renders the value both sides last agreed on, quoted, or "-" when they never
// agreed on one (a value is always quoted, so "-" cannot be mistaken for a value).
func conflictBase(c store.Conflict) string {
	if c.NoBase {
		return "-"
	}
	return fmt.Sprintf("%q", c.Base)
}

// conflictReason says why the field is held; conflicts recorded before reasons were stored
// are all of the manual rule.
func conflictReason(c store.Conflict) string {
	if c.Reason == "" {
		return plan.ReasonBothChanged
	}
	return c.Reason
}
