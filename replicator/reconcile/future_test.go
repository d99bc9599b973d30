package reconcile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// TestFutureDateUpdatedDoesNotStopTheSync is issue #22's first acceptance, through the real
// HighLevel client, the ingest poller and the engine. HighLevel's search answers give their
// first contact dateUpdated 2030-01-01 (the simulator's future-timestamp fault: the proxy of
// the issue, which rewrites the answer, not the contact) for three cycles: the first restamps
// the newest contact A, the second a contact B edited meanwhile, the third B again. B's edit
// reaches PT Distinction within two cycles, and so does an edit of A made after the fault,
// although the mirror then holds A stamped 2030 and the edit is stamped earlier. Each
// restamped contact is counted and logged once (B's second restamp is a re-read, not a new
// version), the cursor never passes the clock, and the mirror ends with real stamps only.
func TestFutureDateUpdatedDoesNotStopTheSync(t *testing.T) {
	logs := &syncBuf{}
	h := newHarness(t, hopts{logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn})})
	ids, _ := h.seed(6, 0, 0, 0, false)
	h.converge(4)
	h.gsim.SetFaults(ghlsim.Faults{FutureTimestampRate: 1})
	h.cycle()
	future := h.mirroredInTheFuture()
	if len(future) != 1 {
		t.Fatalf("after the first restamped answer the mirror holds %v stamped in the future, want one contact", future)
	}
	a, b := future[0], ids[0]
	if b == a {
		b = ids[1]
	}
	h.editReaches(store.SideGHL, b, "DuringTheFault")
	h.cycle() // B, listed first again and restamped again: the same version, not logged again
	h.gsim.SetFaults(ghlsim.Faults{})
	h.editReaches(store.SideGHL, a, "AfterTheFault")

	restamped := h.gsim.Counters().Faults[ghlsim.FaultFutureTimestamp]
	lines := linesWith(logs, "contact stamped in the future")
	t.Logf("%d search answers restamped; warnings:\n%s", restamped, strings.Join(lines, "\n"))
	if restamped != 3 {
		t.Errorf("the fault restamped %d answers, want 3 (one per cycle while on)", restamped)
	}
	if len(lines) != 2 {
		t.Errorf("%d warnings, want 2 (A and B once each)", len(lines))
	}
	assertOncePerRecord(t, lines, "date_updated=2030-01-01T00:00:00Z")
	if got := futureCount(t, h, "ghl"); got != 2 {
		t.Errorf("ptsync_future_timestamps_total{side=ghl} = %v, want 2", got)
	}
	if c, now := h.cursor(ingest.CursorSearch), time.Now(); c.Through.After(now) {
		t.Errorf("search cursor through %s, after now %s", c.Through, now)
	}
	if future := h.mirroredInTheFuture(); len(future) > 0 {
		t.Errorf("the mirror still holds %v stamped in the future", future)
	}
	h.check()
}

// mirroredInTheFuture lists the mirrored HighLevel contacts stamped after now.
func (h *harness) mirroredInTheFuture() []string {
	h.t.Helper()
	var ids []string
	now := time.Now()
	if err := h.db.View(func(tx *store.Tx) error {
		return tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if c.DateUpdated.After(now) {
				ids = append(ids, c.ID)
			}
			return nil
		})
	}); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// TestFutureUpdatedAtInPTDDoesNotStopThePoll is the PT Distinction half: two clients stamped
// 2030 by a bad import (the server's clock does not move, so later edits are stamped earlier
// and sort before them), listed one per page so that a page boundary falls between them. A
// client edited afterwards reaches HighLevel within two cycles, each future client is counted
// and logged once although re-read every poll, and the cursor's Through stays at the clock.
func TestFutureUpdatedAtInPTDDoesNotStopThePoll(t *testing.T) {
	logs := &syncBuf{}
	h := newHarness(t, hopts{logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn}),
		tweak: func(o *reconcile.Options) { o.PTDPageSize = 1 }})
	ids, _ := h.seed(6, 0, 0, 0, false)
	h.converge(4)
	for i, gid := range ids[:2] {
		if err := h.psim.StampFuture(h.linkOf(gid).PTDID, ptdsim.FutureStamp.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	h.cycle()
	pages := h.psim.Stats().Requests["GET /v1/clients"]
	h.cycle()
	if n := h.psim.Stats().Requests["GET /v1/clients"] - pages; n != 2 {
		t.Errorf("an idle poll after the import listed %d pages, want 2 (one per future client, re-read until time catches up)", n)
	}
	h.editReaches(store.SidePTD, ids[3], "EditedAfterTheImport")

	lines := linesWith(logs, "pt distinction client stamped in the future")
	t.Logf("warnings:\n%s", strings.Join(lines, "\n"))
	if len(lines) != 2 {
		t.Errorf("%d warnings about future clients, want 2 (one per client, not per poll)", len(lines))
	}
	assertOncePerRecord(t, lines, "updated_at=2030-01-01T00:00:00")
	if got := futureCount(t, h, "ptd"); got != 2 {
		t.Errorf("ptsync_future_timestamps_total{side=ptd} = %v, want 2", got)
	}
	if c, now := h.cursor(ptdpoll.CursorClients), time.Now(); c.Through.After(now) || c.Through.IsZero() {
		t.Errorf("ptd cursor through %s, want set and not after now %s", c.Through, now)
	}
	h.check()
}

// editReaches sets the first name of pair gid on side from (store.SideGHL or store.SidePTD)
// and fails unless the other side holds it within two cycles.
func (h *harness) editReaches(from, gid, name string) {
	h.t.Helper()
	pid := h.linkOf(gid).PTDID
	var err error
	if from == store.SideGHL {
		_, err = h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: &name})
	} else {
		_, err = h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: &name})
	}
	if err != nil {
		h.t.Fatal(err)
	}
	other := func() string {
		if from == store.SideGHL {
			c, _ := h.psim.Client(pid)
			return c.FirstName
		}
		c, _ := h.gsim.Contact(gid)
		return c.FirstName
	}
	for i := 1; i <= 2; i++ {
		h.cycle()
		if other() == name {
			h.t.Logf("%s edit %q reached the other side in cycle %d", from, name, i)
			return
		}
	}
	h.t.Fatalf("%s edit %q not on the other side after two cycles (it has %q; search cursor %+v, ptd cursor %+v)",
		from, name, other(), h.cursor(ingest.CursorSearch), h.cursor(ptdpoll.CursorClients))
}

func (h *harness) cursor(name string) store.Cursor {
	h.t.Helper()
	var c store.Cursor
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		c, err = tx.Cursor(name)
		return err
	}); err != nil {
		h.t.Fatalf("cursor %s: %v", name, err)
	}
	return c
}

// idOf is the id= value of a log line.
func idOf(line string) string {
	_, rest, _ := strings.Cut(line, " id=")
	id, _, _ := strings.Cut(rest, " ")
	return id
}

// assertOncePerRecord fails unless lines is not empty, each names a different id and each
// carries want (the timestamp).
func assertOncePerRecord(t *testing.T, lines []string, want string) {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("no warning names the record stamped in the future")
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if id := idOf(l); id == "" || seen[id] {
			t.Errorf("warning without an id or repeated for %q: %s", id, l)
		} else {
			seen[id] = true
		}
		if !strings.Contains(l, want) {
			t.Errorf("warning lacks %s: %s", want, l)
		}
	}
}

// futureCount reads ptsync_future_timestamps_total{side} from the harness registry (0 when
// the series does not exist).
func futureCount(t *testing.T, h *harness, side string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ptsync_future_timestamps_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "side" && l.GetValue() == side {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// linesWith returns the lines of logs that contain sub.
func linesWith(logs *syncBuf, sub string) []string {
	var out []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}
