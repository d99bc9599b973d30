package reconcile_test

import (
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/store"
)

// A coach's new task on a PT Distinction client that did not otherwise change is found only
// by the children rotation. The engine reports how late that can be (PTDChildrenLag and
// ptsync_ptd_children_lag_seconds): the period plus how far the rotation is behind. A task
// added on the client the rotation has just passed, the worst case, reaches the mirror within
// the bound reported when it was added; polls that stop make the bound grow by the time they
// stopped, and the next poll brings it back.
func TestPTDChildrenLagBoundsACoachsNewTask(t *testing.T) {
	const period, every = time.Hour, 30 * time.Second
	clock := &fakeClock{t: time.Now().UTC().Add(time.Hour)}
	h := newHarness(t, hopts{tweak: func(o *reconcile.Options) {
		o.PTDChildrenPerPoll = 0 // the default bound: the rotation takes its share per poll
		o.PTDChildrenPeriod = period
		o.NoCreateInGHL = true
		o.Now = clock.now
	}})
	_, _ = h.seed(20, 0.5, 0, 10, false)
	h.converge(4)
	poll := func() {
		t.Helper()
		clock.add(every)
		if _, err := h.eng.PollPTD(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		poll()
	}
	lag := h.lag()
	if lag.Period() != period || lag.Behind() > every+period/30 || lag.MaxAge() != lag.Period()+lag.Behind() {
		t.Fatalf("on schedule: %+v, want the period %v plus at most a poll interval and one client's share", lag, period)
	}
	h.eng.PublishPTDChildrenLag() // as the service's gauge refresh does every 5 s
	if got := h.lagMetric(); got != lag.MaxAgeSeconds {
		t.Errorf("ptsync_ptd_children_lag_seconds = %v, want %v", got, lag.MaxAgeSeconds)
	}

	var rot store.Cursor
	_ = h.db.View(func(tx *store.Tx) error { rot, _ = tx.Cursor(ptdpoll.CursorChildren); return nil })
	if rot.Value == "" {
		t.Fatal("the rotation has not moved")
	}
	due := clock.now().Add(72 * time.Hour).Format(time.RFC3339)
	if _, err := h.psim.CreateTask(rot.Value, ptdwire.TaskInput{Title: strp("coach's new task"), DueAt: &due}); err != nil {
		t.Fatal(err)
	}
	added, bound := clock.now(), h.lag().MaxAge()
	for !slices.Contains(h.mirrorPTDTasks(rot.Value), "coach's new task") {
		if clock.now().Sub(added) > 3*period {
			t.Fatalf("the task was not found in %v", 3*period)
		}
		poll()
	}
	took := clock.now().Sub(added)
	t.Logf("a task added on the client the rotation had just re-read reached the mirror after %v; the bound said %v", took, bound)
	if took > bound+every {
		t.Errorf("found after %v, later than the reported bound %v (+ one poll interval)", took, bound)
	}
	if took < period/2 {
		t.Errorf("found after %v: the task was not on the worst-case client, the test proves little", took)
	}

	clock.add(3 * time.Hour) // the ptd job stops
	h.eng.PublishPTDChildrenLag()
	stalled := h.lag()
	if stalled.Behind() < 3*time.Hour || stalled.MaxAge() != period+stalled.Behind() || h.lagMetric() != stalled.MaxAgeSeconds {
		t.Errorf("3 h without a poll: %+v (metric %v), want the rotation 3 h behind", stalled, h.lagMetric())
	}
	poll()
	if again := h.lag(); again.Behind() > every+period/30 {
		t.Errorf("after a poll the rotation is still %v behind", again.Behind())
	}
}

func (h *harness) lag() ptdpoll.ChildrenLag {
	h.t.Helper()
	lag, ok, err := h.eng.PTDChildrenLag()
	if err != nil || !ok {
		h.t.Fatalf("no ptd children lag: ok %v, %v", ok, err)
	}
	return lag
}

func (h *harness) lagMetric() float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	i := slices.IndexFunc(mfs, func(mf *dto.MetricFamily) bool { return mf.GetName() == "ptsync_ptd_children_lag_seconds" })
	if i < 0 || len(mfs[i].GetMetric()) != 1 {
		h.t.Fatal("ptsync_ptd_children_lag_seconds is not exported")
	}
	return mfs[i].GetMetric()[0].GetGauge().GetValue()
}
