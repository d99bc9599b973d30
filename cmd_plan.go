package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/replicator/reconcile"
	"ptsync/store"
	"ptsync/store/query"
)

// cmdPlan prints the writes the next reconcile would make, computed from the mirror alone
// (no network; run the service or `ptsync demo` to refresh the mirror first). It writes nothing.
// While the service holds the mirror, the service's own engine (and configuration) plans it.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default $PTSYNC_CONFIG or ./config.hcl)")
	db := fs.String("db", "", "mirror file (default: store.path of the configuration)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync plan [--config PATH] [--db PATH] [--json]")
		fs.PrintDefaults()
	}
	if _, code, ok := parseFlags(fs, args, stderr, 0); !ok {
		return code
	}
	cfg, path, code := reconcileConfig(*cfgPath, *db, stderr)
	if cfg == nil {
		return code
	}
	m, err := openReconcileMirror(ctx, path, false)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync plan: %v\n", err)
		return exitFailure
	}
	defer m.Close()
	var p reconcile.Plan
	if m.db != nil {
		eng, code := offlineEngine(cfg, m.db, stderr)
		if eng == nil {
			return code
		}
		p, err = eng.Plan(ctx)
	} else {
		p, err = m.admin.Plan(ctx)
		err = remoteErr(m.mirror, err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ptsync plan: %v\n", err)
		return exitFor(err)
	}
	m.via(stderr, "planned")
	if *asJSON {
		return writeJSON(stdout, stderr, p)
	}
	if p.IsEmpty() {
		fmt.Fprintf(stdout, "in sync: the next cycle writes nothing (%d records skipped)\n", len(p.Skipped))
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
	for _, s := range p.Skipped {
		fmt.Fprintf(tw, "skipped\t%s %s\t%s\t%s\n", s.Side, s.Kind, s.ID, s.Reason)
	}
	_ = tw.Flush()
	if p.ReadOnly {
		fmt.Fprintln(stdout, "read-only token: nothing is written to HighLevel")
	}
	fmt.Fprintf(stdout, "%d new links, %d writes, %d conflicts, %d skipped\n", len(p.Links), len(p.Writes), len(p.Conflicts), len(p.Skipped))
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseFlags parses fs (flags and positionals may mix) and checks the positional count (-1:
// any); ok is false when the caller must return code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, positionals int) ([]string, int, bool) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK, false
		}
		return nil, exitUsage, false
	}
	if positionals >= 0 && len(pos) != positionals {
		fmt.Fprintf(stderr, "ptsync %s: want %d argument(s), got %d\n", fs.Name(), positionals, len(pos))
		fs.Usage()
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// ptdwireAll declares everything the REST contract defines.
var ptdwireAll = ptdwire.Capabilities{Clients: true, Groups: true, Packages: true, Access: true, Tags: true,
	Tasks: true, Notes: true, Appointments: true, Reminders: true, UpdateEvents: true}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "ptsync: cannot write JSON: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// offlineCaps is what the configured PTD driver can do, without asking it: everything the
// REST contract defines, or the actions whose Zapier hooks are configured.
func offlineCaps(cfg *config.Config) ptd.Capabilities {
	if cfg.PTD.Driver == config.DriverZapier && cfg.PTD.Zapier != nil {
		z := cfg.PTD.Zapier
		var cs []ptd.Capability
		for _, h := range []struct {
			s config.Secret
			c ptd.Capability
		}{{z.AddClient, ptd.CapClientCreate}, {z.AddToGroup, ptd.CapGroups}, {z.AssignPackage, ptd.CapPackages},
			{z.PrintOnly, ptd.CapPrintOnly}, {z.Reminder, ptd.CapReminders}} {
			if !h.s.IsZero() {
				cs = append(cs, h.c)
			}
		}
		return ptd.NewCapabilities(cs...)
	}
	return ptd.FromWire(ptdwireAll)
}

// reconcileConfig loads the configuration and picks the mirror (--db, else store.path). It
// prints the problem and returns a nil config with exit code 2 when the file is bad.
func reconcileConfig(cfgFlag, dbFlag string, stderr io.Writer) (*config.Config, string, int) {
	cfg, err := config.Load(configPath(cfgFlag, os.Getenv))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, "", exitUsage
	}
	path := dbFlag
	if path == "" {
		path = cfg.Store.Path
	}
	return cfg, path, exitOK
}

// offlineEngine builds an engine over db that never touches the network. It prints the
// problem and returns nil with the exit code on failure.
func offlineEngine(cfg *config.Config, db *store.DB, stderr io.Writer) (*reconcile.Engine, int) {
	eng, err := reconcile.New(reconcile.Options{Store: db, Config: cfg, Offline: true, OfflineCaps: offlineCaps(cfg),
		Logger: hclog.New(&hclog.LoggerOptions{Output: stderr, Level: hclog.Warn})})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync: %v\n", err)
		return nil, exitUsage
	}
	return eng, exitOK
}

// reconcileAdminTimeout bounds one reconcile command's call to the running service: a plan
// or an outbox action waits for the engine's job in progress (a push) before it starts.
const reconcileAdminTimeout = 20 * time.Second

// reconcileMirror is the mirror for plan, conflicts, outbox and history: a local handle, or
// (admin set) the running service that holds the file, reached through its admin endpoint.
type reconcileMirror struct {
	mirror
	admin *reconcile.AdminClient
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

// via tells stderr (not stdout, which stays the same either way) that the service did it.
func (m reconcileMirror) via(stderr io.Writer, what string) {
	if m.admin != nil {
		fmt.Fprintf(stderr, "%s by the running service (via its admin endpoint)\n", what)
	}
}
