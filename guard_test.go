package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/replicator"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// The tests of the sweep guard and the delete policy run the production service
// (replicator.Service with its reconcile engine) against both simulators on loopback, opened
// but not scheduling: each test runs the jobs itself, in the order a schedule would, so it
// knows how many sweeps a fault answered.

// guardEnv is one such service with its simulators, registry and log.
type guardEnv struct {
	ghl *ghlsim.Server
	ptd *ptdsim.Sim
	svc *replicator.Service
	reg *prometheus.Registry
	log *logBuffer
	db  string
}

// logBuffer is the service's log output; jobs log from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines containing s.
func (l *logBuffer) lines(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ln := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(ln, s) {
			out = append(out, ln)
		}
	}
	return out
}

// newGuardEnv seeds contacts people in HighLevel and the same people in PTD, starts the
// service with deletes (the body of a deletes block) and syncs until both sides are linked.
func newGuardEnv(t *testing.T, contacts int, deletes string) *guardEnv {
	t.Helper()
	e := &guardEnv{reg: prometheus.NewRegistry(), log: &logBuffer{}}
	e.ghl = ghlsim.New(ghlsim.Options{Seed: 5, Limits: ghlsim.Limits{BurstMax: 100000, BurstInterval: time.Second,
		DailyMax: 10000000, DailyInterval: 24 * time.Hour}})
	gurl, err := e.ghl.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ghl.Close() })
	people := gen.NewAt(5, time.Now()).People(contacts)
	e.ghl.SeedPeople(people)
	e.ptd = ptdsim.New(ptdsim.Options{APIKey: "ptd-test", Seed: 5})
	if _, err := e.ptd.Seed(ptdsim.SeedOptions{People: people, Overlap: 1, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	psrv, err := e.ptd.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = psrv.Close(context.Background()) })
	t.Setenv("T_GHL_TOKEN", e.ghl.IssuePIT("contacts.readonly", "contacts.write"))
	t.Setenv("T_PTD_KEY", "ptd-test")
	dir := t.TempDir()
	e.db = filepath.Join(dir, "ptsync.db")
	src := fmt.Sprintf(`ghl {
  base_url      = %q
  location_id   = %q
  private_token = env("T_GHL_TOKEN")
  rate {
    burst    = 100000
    interval = "1s"
    daily    = 10000000
  }
}
ptd {
  driver = "rest"
  rest {
    base_url = %q
    api_key  = env("T_PTD_KEY")
  }
}
store { path = %q }
deletes {
%s
}
metrics { listen = "127.0.0.1:0" }
admin { listen = "127.0.0.1:0" }
`, gurl, e.ghl.LocationID(), psrv.URL, e.db, deletes)
	cfgPath := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: hclog.Info, Output: e.log, Color: hclog.ColorOff})
	e.svc, err = replicator.New(replicator.Options{Config: cfg, Registry: e.reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.svc.Close(context.Background()) })
	e.converge(t)
	var links int
	_ = e.svc.Store().View(func(tx *store.Tx) error {
		return tx.ForEachLink(func(l *store.Link) error {
			if l.Kind == store.KindContact && l.GHLID != "" && l.PTDID != "" {
				links++
			}
			return nil
		})
	})
	if links != contacts {
		t.Fatalf("after the first sync %d contacts are linked, want %d", links, contacts)
	}
	return e
}

// run runs the jobs once each, in order, and fails the test on a job error.
func (e *guardEnv) run(t *testing.T, jobs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, j := range jobs {
		if err := e.svc.RunJob(ctx, j); err != nil {
			t.Fatalf("job %s: %v", j, err)
		}
	}
}

// round is one of each job that reads, decides and writes, sweeps included.
func (e *guardEnv) round(t *testing.T) {
	t.Helper()
	e.run(t, config.JobSweep, config.JobPTDSweep, config.JobPTD, config.JobReconcile, config.JobPush, config.JobReconcile, config.JobPush)
}

// converge repeats rounds until the outbox is empty after one (at most 5).
func (e *guardEnv) converge(t *testing.T) {
	t.Helper()
	for range 5 {
		e.round(t)
		var n int
		_ = e.svc.Store().View(func(tx *store.Tx) error {
			st, err := tx.OutboxStats()
			n = st.Depth + st.Dead
			return err
		})
		if n == 0 {
			return
		}
	}
	t.Fatal("the outbox did not drain in 5 rounds")
}

// sides is what both simulators hold, per record: HighLevel contacts' tags and dateUpdated,
// PTD clients' access, tags and updatedAt.
func (e *guardEnv) sides() map[string]string {
	out := map[string]string{}
	for _, c := range e.ghl.Contacts() {
		tags := slices.Clone(c.Tags)
		slices.Sort(tags)
		out["ghl/"+c.ID] = strings.Join(tags, ",") + " " + c.DateUpdated
	}
	for _, c := range e.ptd.Clients() {
		tags := slices.Clone(c.Tags)
		slices.Sort(tags)
		out["ptd/"+c.ID] = c.Access + " " + strings.Join(tags, ",") + " " + c.UpdatedAt
	}
	return out
}

// changed lists the records whose state differs between two sides snapshots.
func changed(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
		if after[k] != v {
			out = append(out, fmt.Sprintf("%s: %q -> %q", k, v, after[k]))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			out = append(out, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	slices.Sort(out)
	return out
}

// metric sums the samples of family name whose labels include every k=v pair of labels.
func (e *guardEnv) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	fams, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// quarantine returns the quarantine entries and held sweeps of the mirror.
func (e *guardEnv) quarantine(t *testing.T) ([]store.QuarantineEntry, map[string]store.HeldSweep) {
	t.Helper()
	var qs []store.QuarantineEntry
	held := map[string]store.HeldSweep{}
	if err := e.svc.Store().View(func(tx *store.Tx) error {
		var err error
		if qs, err = tx.Quarantined(); err != nil {
			return err
		}
		hs, err := tx.HeldSweeps()
		for _, h := range hs {
			held[h.ID] = h
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return qs, held
}

// linkOfGHL returns the contact link of HighLevel contact id.
func (e *guardEnv) linkOfGHL(t *testing.T, id string) store.Link {
	t.Helper()
	var l store.Link
	if err := e.svc.Store().View(func(tx *store.Tx) error {
		var err error
		l, err = tx.LinkByGHL(store.KindContact, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// cli runs a ptsync command and returns its exit code and output.
func cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestEmptyListingsChangeNothing is #21's first acceptance point: one simulator, then the
// other, answers every listing with 200 and nothing for three rounds of sweeps; under
// print_only, tag and delete no record changes on either side, nothing is quarantined, and the
// suspect sweep shows once per sweep in the log, in the metric and in `ptsync status`. When
// the listing is honest again, the held sweep is dropped.
func TestEmptyListingsChangeNothing(t *testing.T) {
	for _, policy := range []string{config.DeletePrintOnly, config.DeleteTag, config.DeleteDelete} {
		t.Run(policy, func(t *testing.T) {
			e := newGuardEnv(t, 40, `policy = "`+policy+`"
confirmations = 2`)
			before := e.sides()
			phases := []struct {
				listing string
				fault   func(on bool)
			}{
				{"ghl/contact", func(on bool) {
					e.ghl.SetListingFault(map[bool]ghlsim.ListingFault{true: ghlsim.ListingEmpty}[on])
				}},
				{"ptd/contact", func(on bool) {
					e.ptd.SetListingFault(map[bool]ptdsim.ListingFault{true: ptdsim.ListingEmpty}[on])
				}},
			}
			const sweeps = 3
			for _, ph := range phases {
				ph.fault(true)
				for range sweeps {
					e.round(t)
				}
				if diff := changed(before, e.sides()); len(diff) > 0 {
					t.Errorf("%s empty: %d records changed, e.g. %v", ph.listing, len(diff), diff[:min(3, len(diff))])
				}
				qs, held := e.quarantine(t)
				if len(qs) > 0 {
					t.Errorf("%s empty: %d records quarantined, e.g. %+v", ph.listing, len(qs), qs[0])
				}
				h, ok := held[ph.listing]
				if !ok || h.Sweeps != sweeps || len(h.Misses) != 40 || !strings.Contains(h.Reason, "empty listing") {
					t.Errorf("held sweep %s: %+v (present %v), want %d sweeps missing 40 as an empty listing", ph.listing, h, ok, sweeps)
				}
				side, kind, _ := strings.Cut(ph.listing, "/")
				if n := e.metric(t, "ptsync_sweep_held_total", "side", side, "kind", kind); n != sweeps {
					t.Errorf("ptsync_sweep_held_total{side=%q,kind=%q} = %v, want %d", side, kind, n, sweeps)
				}
				if n := e.metric(t, "ptsync_sweep_held"); n != 1 {
					t.Errorf("ptsync_sweep_held = %v, want 1", n)
				}
				if lines := e.log.lines("listing=" + ph.listing + " "); len(lines) != sweeps || !strings.Contains(lines[0], "[ERROR]") {
					t.Errorf("%d log lines for held sweep %s, want one ERROR per sweep (%d):\n%s", len(lines), ph.listing, sweeps, strings.Join(lines, "\n"))
				}
				code, out, errOut := cli("status", "--db", e.db)
				if code != exitOK || !strings.Contains(out, "held      sweep "+ph.listing) || !strings.Contains(out, "empty listing while the mirror holds 40 records") {
					t.Errorf("status through the service: exit %d\n%s%s", code, out, errOut)
				}
				ph.fault(false)
				e.round(t)
				if qs, held := e.quarantine(t); len(qs) > 0 || len(held) > 0 {
					t.Errorf("%s honest again: %d quarantined, held %v; want nothing", ph.listing, len(qs), held)
				}
			}
			if n := len(e.log.lines("missing from sweep")); n > 0 {
				t.Errorf("%d per-record lines at info level, want none", n)
			}
			if diff := changed(before, e.sides()); len(diff) > 0 {
				t.Errorf("%d records changed, e.g. %v", len(diff), diff[:min(3, len(diff))])
			}
		})
	}
}

// ptdOf returns the PTD client linked to HighLevel contact id.
func (e *guardEnv) ptdOf(t *testing.T, id string) ptdwire.Client {
	t.Helper()
	c, ok := e.ptd.Client(e.linkOfGHL(t, id).PTDID)
	if !ok {
		t.Fatalf("the PTD client linked to %s is gone", id)
	}
	return c
}

// TestGenuineDeletionGetsPolicy is #21's second acceptance point, first half: 3 contacts
// deleted in HighLevel among 300 are believed; their clients get the policy once the second
// sweep confirmed the deletion, and nobody else's.
func TestGenuineDeletionGetsPolicy(t *testing.T) {
	e := newGuardEnv(t, 300, `policy = "print_only"
confirmations = 2`)
	before := e.sides()
	cs := e.ghl.Contacts()
	gone := []string{cs[10].ID, cs[150].ID, cs[290].ID}
	var clients []string
	for _, id := range gone {
		clients = append(clients, "ptd/"+e.linkOfGHL(t, id).PTDID)
		if err := e.ghl.DeleteContact(id); err != nil {
			t.Fatal(err)
		}
	}
	e.round(t)
	if diff := changed(before, e.sides()); len(diff) != 3 {
		t.Errorf("after one sweep %d records changed, want only the 3 deleted contacts: %v", len(diff), diff)
	}
	e.round(t)
	diff := changed(before, e.sides())
	var revoked []string
	for _, id := range clients {
		c, _ := e.ptd.Client(strings.TrimPrefix(id, "ptd/"))
		if c.Access == ptdwire.AccessPrintOnly {
			revoked = append(revoked, id)
		}
	}
	if len(revoked) != 3 || len(diff) != 6 {
		t.Errorf("after two sweeps: %d of the 3 clients print_only, %d records changed (want 3 deleted + 3 clients):\n%s",
			len(revoked), len(diff), strings.Join(diff, "\n"))
	}
	if _, held := e.quarantine(t); len(held) > 0 {
		t.Errorf("a genuine deletion of 3 in 300 was held: %v", held)
	}
}

// TestApproveHeldSweepThenUndo is #21's second acceptance point, second half, under
// print_only and tag: a truncated HighLevel listing (first page only, its meta.total honest)
// is held for two sweeps; `ptsync quarantine approve` through the running service gives the
// 200 misses their two confirmations and the policy applies to their clients; when the
// listing is whole again every one of them gets its previous state back, and history shows
// both steps with the deciding rule.
func TestApproveHeldSweepThenUndo(t *testing.T) {
	for _, policy := range []string{config.DeletePrintOnly, config.DeleteTag} {
		t.Run(policy, func(t *testing.T) {
			e := newGuardEnv(t, 300, `policy = "`+policy+`"
confirmations = 2`)
			before := e.sides()
			e.ghl.SetListingFault(ghlsim.ListingFirstPage)
			e.round(t)
			e.round(t)
			_, held := e.quarantine(t)
			h := held["ghl/contact"]
			if h.Sweeps != 2 || len(h.Misses) != 200 || !strings.Contains(h.Reason, "reports 300 records but returned 100") {
				t.Fatalf("held sweep after two truncated listings: %+v", h)
			}
			if diff := changed(before, e.sides()); len(diff) > 0 {
				t.Fatalf("%d records changed while held, e.g. %v", len(diff), diff[:min(3, len(diff))])
			}
			code, out, errOut := cli("quarantine", "--db", e.db)
			if code != exitOK || !strings.Contains(out, "ghl/contact") || !strings.Contains(errOut, "by the running service") {
				t.Fatalf("quarantine list: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = cli("quarantine", "approve", "ghl/contact", "--db", e.db)
			if code != exitOK || !strings.Contains(out, "approved ghl/contact: 200 records confirmed missing") {
				t.Fatalf("quarantine approve: exit %d\n%s%s", code, out, errOut)
			}
			e.run(t, config.JobReconcile, config.JobPush)
			victim := ""
			for id := range h.Misses {
				victim = id
				break
			}
			applied := 0
			for id := range h.Misses {
				c := e.ptdOf(t, id)
				if policy == config.DeletePrintOnly && c.Access == ptdwire.AccessPrintOnly || policy == config.DeleteTag && slices.Contains(c.Tags, "ptsync-deleted") {
					applied++
				}
			}
			if applied != 200 {
				t.Fatalf("after the approval the policy reached %d of the 200 clients", applied)
			}

			e.ghl.SetListingFault(ghlsim.ListingHonest)
			e.round(t) // the sweep sees them again; the reconcile plans the undo, the push does it
			e.round(t)
			if diff := changed(before, e.sides()); len(diff) > 0 {
				// Timestamps move with the two writes; the state must be what it was.
				var states []string
				for _, d := range diff {
					if !sameState(d) {
						states = append(states, d)
					}
				}
				if len(states) > 0 {
					t.Errorf("%d records did not get their previous state back, e.g. %v", len(states), states[:min(3, len(states))])
				}
			}
			if qs, held := e.quarantine(t); len(qs) > 0 || len(held) > 0 {
				t.Errorf("after the undo: %d quarantined (e.g. %+v), held %v", len(qs), qs, held)
			}
			code, out, errOut = cli("history", victim, "--db", e.db, "--json")
			if code != exitOK || !strings.Contains(out, `"rule": "delete-`+policy+`"`) || !strings.Contains(out, `"rule": "undo-delete-`+policy+`"`) {
				t.Errorf("history of %s: exit %d\n%s%s", victim, code, out, errOut)
			}
		})
	}
}

// sameState reports whether a changed() line differs only in its timestamp (the last word).
func sameState(line string) bool {
	_, rest, _ := strings.Cut(line, ": ")
	from, to, ok := strings.Cut(rest, " -> ")
	trim := func(s string) string {
		s = strings.Trim(s, `"`)
		if i := strings.LastIndex(s, " "); i >= 0 {
			return s[:i]
		}
		return s
	}
	return ok && trim(from) == trim(to)
}

// TestPTDDeletionThroughService is #23's point 2: a client a coach deletes in PT Distinction
// is quarantined by the scheduled ptd_sweep job; under delete its HighLevel survivor is
// deleted once, after the second confirmation; under ignore nothing changes; a client that
// comes back is released.
func TestPTDDeletionThroughService(t *testing.T) {
	for _, policy := range []string{config.DeleteDelete, config.DeleteIgnore} {
		t.Run(policy, func(t *testing.T) {
			e := newGuardEnv(t, 40, `policy = "`+policy+`"
confirmations = 2`)
			before := e.sides()
			survivor := e.ghl.Contacts()[7].ID
			client := e.linkOfGHL(t, survivor).PTDID
			if err := e.ptd.RemoveClient(client); err != nil {
				t.Fatal(err)
			}
			deletes := func() int64 { return e.ghl.Counters().Requests["DELETE /contacts/{contactId}"] }
			e.round(t)
			qs, _ := e.quarantine(t)
			if len(qs) != 1 || qs[0].Side != store.SidePTD || qs[0].ID != client || qs[0].Confirmations != 1 {
				t.Fatalf("after one ptd sweep the quarantine holds %+v, want client %s with 1 confirmation", qs, client)
			}
			if _, ok := e.ghl.Contact(survivor); !ok || deletes() != 0 {
				t.Fatalf("the survivor was deleted before the second confirmation")
			}
			e.round(t)
			e.round(t)
			_, exists := e.ghl.Contact(survivor)
			diff := changed(before, e.sides())
			switch policy {
			case config.DeleteDelete:
				if exists || deletes() != 1 || len(diff) != 2 {
					t.Errorf("under delete: survivor exists %v, %d DELETE calls (want 1), %d records changed (want the client and the survivor): %v",
						exists, deletes(), len(diff), diff)
				}
			case config.DeleteIgnore:
				if !exists || deletes() != 0 || len(diff) != 1 {
					t.Errorf("under ignore: survivor exists %v, %d DELETE calls, %d records changed (want the removed client only): %v",
						exists, deletes(), len(diff), diff)
				}
			}
			if _, err := e.ptd.RestoreClient(client); err != nil {
				t.Fatal(err)
			}
			e.round(t)
			e.round(t)
			if qs, held := e.quarantine(t); len(qs) > 0 || len(held) > 0 {
				t.Errorf("after the client came back: quarantine %+v, held %v; want it released", qs, held)
			}
			if policy == config.DeleteDelete {
				// The contact cannot come back; the returned client is unlinked and created again.
				var l store.Link
				if err := e.svc.Store().View(func(tx *store.Tx) error {
					var err error
					l, err = tx.LinkByPTD(store.KindContact, client)
					return err
				}); err != nil || l.GHLID == "" || l.GHLID == survivor {
					t.Errorf("returned client %s: link %+v, %v; want a new HighLevel contact", client, l, err)
				}
			}
		})
	}
}
