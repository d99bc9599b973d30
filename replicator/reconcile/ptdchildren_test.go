package reconcile_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile"
	"ptsync/store"
)

// countingPTD counts child listings per client and can fail them (a poll cut short between
// the page commit and the children refresh, as a kill would).
type countingPTD struct {
	ptd.Adapter
	mu    sync.Mutex
	reads map[string]int
	fail  bool
}

func (c *countingPTD) ListTasks(ctx context.Context, clientID string) ([]ptdwire.Task, error) {
	c.mu.Lock()
	c.reads[clientID]++
	fail := c.fail
	c.mu.Unlock()
	if fail {
		return nil, errors.New("simulated failure: poll interrupted")
	}
	return c.Adapter.ListTasks(ctx, clientID)
}

func (c *countingPTD) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.reads {
		out[k] = v
	}
	c.reads = map[string]int{}
	return out
}

// fakeClock is a settable clock for the engine.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// The PTD children refresh behaves like the HighLevel side: a changed client is re-read first
// (and its mark survives an interrupted poll), every client, linked or not, is covered by the
// rotation within the configured period, and an idle poll reads only its share of the period.
func TestPTDChildrenRefresh(t *testing.T) {
	const period = time.Hour
	newEnv := func(t *testing.T) (*harness, *countingPTD, *fakeClock, []string) {
		// Ahead of the mirror's own (real) clock, so entries it stamps are due at once.
		clock := &fakeClock{t: time.Now().UTC().Add(time.Hour)}
		var cp *countingPTD
		h := newHarness(t, hopts{tweak: func(o *reconcile.Options) {
			if cp == nil {
				cp = &countingPTD{Adapter: o.PTD, reads: map[string]int{}}
			}
			o.PTD = cp
			o.PTDChildrenPerPoll = 0 // the default bound, not "every client"
			o.PTDChildrenPeriod = period
			o.NoCreateInGHL = true // PTD-only clients stay unlinked
			o.Now = clock.now
		}})
		_, _ = h.seed(20, 0.5, 0, 10, false)
		h.converge(4)
		var all []string
		for _, c := range h.psim.Clients() {
			all = append(all, c.ID)
		}
		cp.snapshot()
		return h, cp, clock, all
	}

	t.Run("idle polls cover every client once per period", func(t *testing.T) {
		h, cp, clock, all := newEnv(t)
		total := map[string]int{}
		polls := 120
		for range polls { // one poll every 30 s for one period
			clock.add(period / time.Duration(polls))
			if _, err := h.eng.PollPTD(h.ctx); err != nil {
				t.Fatal(err)
			}
			for id, n := range cp.snapshot() {
				total[id] += n
			}
		}
		reads := 0
		for _, id := range all {
			if total[id] == 0 {
				t.Errorf("client %s (linked or not) was not re-read within one period", id)
			}
			reads += total[id]
		}
		if reads > len(all)+1 {
			t.Errorf("%d child reads over one period for %d clients; want about one each", reads, len(all))
		}
		t.Logf("%d clients, %d polls over %s: %d child reads (%.2f per poll)", len(all), polls, period, reads, float64(reads)/float64(polls))
	})

	t.Run("a changed client is re-read at once, and its mark survives an interrupted poll", func(t *testing.T) {
		h, cp, clock, _ := newEnv(t)
		c := h.psim.Clients()[3]
		if _, err := h.psim.EditClient(c.ID, ptdwire.ClientInput{LastName: strp("Changed")}); err != nil {
			t.Fatal(err)
		}
		due := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
		if _, err := h.psim.CreateTask(c.ID, ptdwire.TaskInput{Title: strp("coach task"), DueAt: &due}); err != nil {
			t.Fatal(err)
		}
		cp.mu.Lock()
		cp.fail = true
		cp.mu.Unlock()
		if _, err := h.eng.PollPTD(h.ctx); err == nil {
			t.Fatal("the interrupted poll reported no error")
		}
		cp.mu.Lock()
		cp.fail = false
		cp.mu.Unlock()
		h.restart() // a new process: nothing but the mirror remembers the change
		cp.snapshot()
		clock.add(time.Second) // far less than the rotation needs to reach the client
		if _, err := h.eng.PollPTD(h.ctx); err != nil {
			t.Fatal(err)
		}
		if cp.snapshot()[c.ID] == 0 {
			t.Fatal("the changed client's children were not re-read after the interrupted poll")
		}
		found := false
		for _, task := range h.mirrorPTDTasks(c.ID) {
			found = found || task == "coach task"
		}
		if !found {
			t.Fatal("the coach's task is not in the mirror")
		}
	})
}

// mirrorPTDTasks returns the titles of the mirror's tasks of PTD client id.
func (h *harness) mirrorPTDTasks(id string) []string {
	h.t.Helper()
	var out []string
	if err := h.db.View(func(tx *store.Tx) error {
		ts, err := tx.PTDTasksOf(id)
		for _, t := range ts {
			out = append(out, t.Title)
		}
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}
