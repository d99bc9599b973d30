package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
)

// crashKills is how many times the crash test SIGKILLs a child mid-push; the soak build
// raises it.
var crashKills = 12

// TestCrashChild is the child half of TestKillMidPushNeverDuplicatesTasks: it connects to the
// parent's simulators and mirror and runs cycles until it is killed.
func TestCrashChild(t *testing.T) {
	env := os.Getenv("PTSYNC_CRASH_CHILD")
	if env == "" {
		t.Skip("child process of the crash test")
	}
	var o hopts
	h := attachHarness(t, o, strings.Split(env, "|"))
	for {
		h.cycle()
	}
}

// Acceptance 4 (crash safety): a child process re-executing this test binary syncs while the
// parent SIGKILLs it at random points during pushes; after a restart the sync converges and
// no task exists twice on either side.
func TestKillMidPushNeverDuplicatesTasks(t *testing.T) {
	if testing.Short() {
		crashKills = 4
	}
	h := newHarness(t, hopts{})
	ids, rep := h.seed(8, 1, 0, 0, true)
	h.converge(4)
	h.db.Close()
	due := time.Now().UTC().Add(96 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	f := false
	for i, m := range rep.Matches {
		for k := range 4 {
			if _, err := h.psim.CreateTask(m.ClientID, ptdwire.TaskInput{Title: strp(fmt.Sprintf("ptd-crash-%d-%d", i, k)), DueAt: &due}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.gsim.AddTask(ids[m.Index], ghlwire.TaskInput{Title: strp(fmt.Sprintf("ghl-crash-%d-%d", i, k)), DueDate: &due, Completed: &f}); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill timing seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	// Slow every request a little so kills land inside pushes, between the call and the commit.
	h.psim.SetFaults(ptdsim.Faults{Latency: 3 * time.Millisecond})
	h.gsim.SetFaults(ghlsim.Faults{LatencyMin: 2 * time.Millisecond, LatencyMax: 4 * time.Millisecond})
	titles := map[int][]string{} // match index -> crash titles created on either side
	for i := range rep.Matches {
		for k := range 4 {
			titles[i] = append(titles[i], fmt.Sprintf("ptd-crash-%d-%d", i, k), fmt.Sprintf("ghl-crash-%d-%d", i, k))
		}
	}
	for k := range crashKills {
		// New work every round, so every kill lands while creates are being pushed.
		for j := range 3 {
			i := rng.IntN(len(rep.Matches))
			m := rep.Matches[i]
			pt, gt := fmt.Sprintf("ptd-round-%d-%d", k, j), fmt.Sprintf("ghl-round-%d-%d", k, j)
			if _, err := h.psim.CreateTask(m.ClientID, ptdwire.TaskInput{Title: &pt, DueAt: &due}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.gsim.AddTask(ids[m.Index], ghlwire.TaskInput{Title: &gt, DueDate: &due, Completed: &f}); err != nil {
				t.Fatal(err)
			}
			titles[i] = append(titles[i], pt, gt)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PTSYNC_CRASH_CHILD="+strings.Join(h.attachArgs(), "|"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(60+rng.IntN(250)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("kill %d: ghl tasks %d, ptd tasks %d", k, countGHLTasks(h), len(h.psim.Tasks("")))
	}
	h.psim.SetFaults(ptdsim.Faults{})
	h.gsim.SetFaults(ghlsim.Faults{})
	h.open()
	n := h.converge(8)
	rp := h.check()
	t.Logf("converged %d cycles after %d kills: %s", n, crashKills, rp)
	for i, m := range rep.Matches {
		gcount, pcount := map[string]int{}, map[string]int{}
		for _, tk := range h.gsim.Tasks(ids[m.Index]) {
			gcount[tk.Title+"|"+tk.DueDate]++
		}
		for _, tk := range h.psim.Tasks(m.ClientID) {
			pcount[tk.Title+"|"+tk.DueAt]++
		}
		for _, title := range titles[i] {
			if g, p := countTitle(gcount, title), countTitle(pcount, title); g != 1 || p != 1 {
				t.Errorf("task %q: %d on highlevel, %d on ptd; want exactly 1 each", title, g, p)
			}
		}
		if len(h.gsim.Tasks(ids[m.Index])) != len(h.psim.Tasks(m.ClientID)) {
			t.Errorf("contact %d: %d highlevel tasks, %d ptd tasks", i, len(h.gsim.Tasks(ids[m.Index])), len(h.psim.Tasks(m.ClientID)))
		}
	}
}

func countTitle(m map[string]int, title string) int {
	n := 0
	for k, v := range m {
		if strings.HasPrefix(k, title+"|") {
			n += v
		}
	}
	return n
}

func countGHLTasks(h *harness) int {
	n := 0
	for _, c := range h.gsim.Contacts() {
		n += len(h.gsim.Tasks(c.ID))
	}
	return n
}

// attachArgs are what a child needs to reach this harness's simulators and mirror.
func (h *harness) attachArgs() []string {
	return []string{h.gurl, h.purl, h.gsim.LocationID(), h.token, h.psim.APIKey(), h.dbPath, strconv.FormatBool(h.opts.readOnly)}
}
