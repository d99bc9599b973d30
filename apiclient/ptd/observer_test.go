package ptd_test

import (
	"context"
	"maps"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
	"ptsync/sim/ptdsim"
)

// opRecorder is an Observer that remembers which operations it saw, with their statuses.
type opRecorder struct {
	mu       sync.Mutex
	requests map[string][]int
	retries  map[string][]string
}

func newOpRecorder() *opRecorder {
	return &opRecorder{requests: map[string][]int{}, retries: map[string][]string{}}
}

func (r *opRecorder) ObserveRequest(op string, status int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[op] = append(r.requests[op], status)
}

func (r *opRecorder) ObserveRetry(op, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries[op] = append(r.retries[op], reason)
}

func (r *opRecorder) ops() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for op := range r.requests {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// TestRESTOperationsAreTheOnesItReports calls every method of the REST driver against the
// simulator and checks that the operations it reports are exactly Operations(): one missing
// there would not be declared at start, one stale there would be a series nothing moves.
func TestRESTOperationsAreTheOnesItReports(t *testing.T) {
	rec := newOpRecorder()
	e := newEnv(t, ptdsim.Options{}, func(o *ptd.RESTOptions) { o.Observer = rec })
	ctx := context.Background()
	r := e.rest
	g := e.sim.AddGroup("Online Coaching")
	p := e.sim.AddPackage("Starter")
	c, err := r.CreateClient(ctx, ptdwire.ClientInput{Email: sp("ops@example.com"), FirstName: sp("Ops")})
	if err != nil {
		t.Fatal(err)
	}
	task, _ := r.CreateTask(ctx, c.ID, ptdwire.TaskInput{Title: sp("Check in")})
	note, _ := r.CreateNote(ctx, c.ID, ptdwire.NoteInput{Body: sp("Hello")})
	calls := []func() error{
		func() error { _, err := r.ListClientsPage(ctx, "", 10); return err },
		func() error { _, err := r.GetClient(ctx, c.ID); return err },
		func() error { _, err := r.FindClientByEmail(ctx, "ops@example.com"); return err },
		func() error {
			_, err := r.UpdateClient(ctx, c.ID, "", ptdwire.ClientInput{FirstName: sp("O")})
			return err
		},
		func() error { _, err := r.AddTags(ctx, c.ID, []string{"vip"}); return err },
		func() error { _, err := r.RemoveTags(ctx, c.ID, []string{"vip"}); return err },
		func() error { _, err := r.ListGroups(ctx); return err },
		func() error { _, err := r.ListPackages(ctx); return err },
		func() error { return r.AddToGroup(ctx, c.ID, g.ID) },
		func() error { return r.RemoveFromGroup(ctx, c.ID, g.ID) },
		func() error { return r.AssignPackage(ctx, c.ID, p.ID) },
		func() error { return r.SetAccess(ctx, c.ID, ptdwire.AccessOnline) },
		func() error { _, err := r.ListTasks(ctx, c.ID); return err },
		func() error {
			_, err := r.UpdateTask(ctx, task.ID, ptdwire.TaskInput{Title: sp("Check in again")})
			return err
		},
		func() error { return r.DeleteTask(ctx, task.ID) },
		func() error { _, err := r.ListNotes(ctx, c.ID); return err },
		func() error { _, err := r.UpdateNote(ctx, note.ID, ptdwire.NoteInput{Body: sp("Hi")}); return err },
		func() error { return r.DeleteNote(ctx, note.ID) },
		func() error {
			_, err := r.UpsertAppointment(ctx, c.ID, ptdwire.Appointment{ExternalID: "appt-1", Title: "Session",
				StartAt: "2030-01-01T10:00:00Z", EndAt: "2030-01-01T11:00:00Z"})
			return err
		},
		func() error { _, err := r.ListAppointments(ctx, c.ID); return err },
		func() error {
			_, err := r.SendReminder(ctx, ptdwire.Reminder{ClientID: c.ID, Message: "due", DueAt: "2030-01-01T10:00:00Z", IdempotencyKey: "k1"})
			return err
		},
	}
	for i, call := range calls {
		if err := call(); err != nil {
			t.Logf("call %d: %v (still a request)", i, err)
		}
	}
	want := r.Operations()
	slices.Sort(want)
	if got := rec.ops(); !slices.Equal(got, want) {
		t.Fatalf("reported operations\n %q\nOperations()\n %q", got, want)
	}
}

// TestZapierReportsPostsPerAction: each POST counts under "zapier-<action>", a 503 is retried
// as server_error, and Operations names exactly the configured hooks.
func TestZapierReportsPostsPerAction(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{})
	zrec := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: sim})
	srv := httptest.NewServer(zrec.Handler())
	t.Cleanup(srv.Close)
	rec := newOpRecorder()
	z, err := ptd.NewZapier(ptd.ZapierOptions{Observer: rec, Sleep: (&sleeps{}).sleep, Hooks: ptd.ZapierHooks{
		AddClient: secret.New(ptdsim.HookURL(srv.URL, ptdwire.ZapierAddClient)),
		PrintOnly: secret.New(ptdsim.HookURL(srv.URL, ptdwire.ZapierPrintOnly))}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	zrec.FailNext(1, 503)
	c, err := z.CreateClient(ctx, ptdwire.ClientInput{Email: sp("zap@example.com"), FirstName: sp("Zap")})
	if err != nil {
		t.Fatal(err)
	}
	if err := z.SetAccess(ctx, c.ID, ptdwire.AccessPrintOnly); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	got, retries := maps.Clone(rec.requests), maps.Clone(rec.retries)
	rec.mu.Unlock()
	want := map[string][]int{"zapier-add-client": {503, 200}, "zapier-print-only": {200}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("requests = %v, want %v", got, want)
	}
	if !maps.EqualFunc(retries, map[string][]string{"zapier-add-client": {ptd.RetryServerError}}, slices.Equal) {
		t.Errorf("retries = %v, want one server_error retry of zapier-add-client", retries)
	}
	if ops := z.Operations(); !slices.Equal(ops, []string{"zapier-add-client", "zapier-print-only"}) {
		t.Errorf("Operations() = %q, want the two configured hooks", ops)
	}
}

// durations records the durations the driver observed.
type durations struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *durations) ObserveRequest(_ string, _ int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.d = append(r.d, d)
}

func (r *durations) ObserveRetry(string, string) {}

// TestZapierTimesPostsWithItsClock: the driver measures its POSTs with the clock it was given
// (the service's), not the wall clock.
func TestZapierTimesPostsWithItsClock(t *testing.T) {
	zrec := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: ptdsim.New(ptdsim.Options{})})
	srv := httptest.NewServer(zrec.Handler())
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Hour); return now }
	rec := &durations{}
	z, err := ptd.NewZapier(ptd.ZapierOptions{Observer: rec, Clock: tick,
		Hooks: ptd.ZapierHooks{AddClient: secret.New(ptdsim.HookURL(srv.URL, ptdwire.ZapierAddClient))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.CreateClient(context.Background(), ptdwire.ClientInput{Email: sp("clock@example.com"), FirstName: sp("Clo")}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.d, []time.Duration{time.Hour}) {
		t.Fatalf("observed %v, want the one hour the given clock advanced", rec.d)
	}
}
