package ptd_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ptdsim"
)

// frozen is a clock that never moves, so every write in the simulator relies on its
// monotonic stamping rather than on the wall clock.
func frozen() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func TestRESTCursorListing(t *testing.T) {
	ctx := context.Background()
	const n = 2000
	tests := []struct {
		name  string
		limit int
		// during runs after each page with the ids seen so far; it returns ids that must be
		// seen a second time (changed after being listed).
		during func(e *env, page int, seen map[string]int) []string
	}{
		{name: "equal timestamps, page 97", limit: 97},
		{name: "equal timestamps, page 500", limit: 500},
		{name: "writes during listing move clients to the end", limit: 250, during: func(e *env, page int, seen map[string]int) []string {
			if page != 2 {
				return nil
			}
			var again []string
			for id := range seen { // one already listed: must come again, once
				if _, err := e.sim.EditClient(id, ptdwire.ClientInput{LastName: sp("Edited")}); err != nil {
					panic(err)
				}
				again = append(again, id)
				break
			}
			for _, c := range e.sim.Clients() { // one not yet listed: must still come exactly once
				if seen[c.ID] == 0 {
					if _, err := e.sim.TagClient(c.ID, []string{"late"}, nil); err != nil {
						panic(err)
					}
					break
				}
			}
			return again
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, ptdsim.Options{Clock: frozen}, nil)
			ins := make([]ptdwire.ClientInput, n)
			for i := range ins {
				ins[i] = ptdwire.ClientInput{Email: sp(fmt.Sprintf("c%04d@example.com", i)), FirstName: sp("C")}
			}
			if _, err := e.sim.ImportClients(frozen(), ins); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			want := map[string]int{}
			for _, c := range e.sim.Clients() {
				want[c.ID] = 1
			}
			cursor := ""
			for page := 0; ; page++ {
				if page > n {
					t.Fatal("listing does not terminate")
				}
				p, err := e.rest.ListClientsPage(ctx, cursor, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Clients) > tc.limit {
					t.Fatalf("page %d has %d clients, limit %d", page, len(p.Clients), tc.limit)
				}
				for _, c := range p.Clients {
					seen[c.ID]++
				}
				if tc.during != nil {
					for _, id := range tc.during(e, page, seen) {
						want[id]++
					}
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if len(seen) != len(want) {
				t.Fatalf("saw %d distinct clients, want %d", len(seen), len(want))
			}
			for id, w := range want {
				if seen[id] != w {
					t.Fatalf("client %s seen %d times, want %d", id, seen[id], w)
				}
			}
		})
	}
	t.Run("bad cursor and limit", func(t *testing.T) {
		e := newEnv(t, ptdsim.Options{}, nil)
		if _, err := e.rest.ListClientsPage(ctx, "garbage!", 10); !errors.Is(err, ptd.ErrBadRequest) {
			t.Fatalf("bad cursor: %v", err)
		}
		if _, err := e.rest.ListClientsPage(ctx, "", 501); !errors.Is(err, ptd.ErrInvalidInput) {
			t.Fatalf("limit 501: %v", err)
		}
	})
}

func TestRESTChildren(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ptdsim.Options{}, nil)
	c := e.client(t, "kid@example.com")

	t.Run("tasks lifecycle", func(t *testing.T) {
		tk, err := e.rest.CreateTask(ctx, c.ID, ptdwire.TaskInput{Title: sp("Log meals"), DueAt: sp("2026-06-03T09:00:00+02:00")})
		if err != nil {
			t.Fatal(err)
		}
		if tk.DueAt != "2026-06-03T07:00:00.000Z" {
			t.Fatalf("dueAt not normalized to UTC: %q", tk.DueAt)
		}
		up, err := e.rest.UpdateTask(ctx, tk.ID, ptdwire.TaskInput{Completed: bp(true)})
		if err != nil || !up.Completed || up.Title != "Log meals" {
			t.Fatalf("update = %+v, %v", up, err)
		}
		list, err := e.rest.ListTasks(ctx, c.ID)
		if err != nil || len(list) != 1 || !list[0].Completed {
			t.Fatalf("list = %+v, %v", list, err)
		}
		for i := range 2 { // the second delete finds nothing and still succeeds
			if err := e.rest.DeleteTask(ctx, tk.ID); err != nil {
				t.Fatalf("delete %d: %v", i, err)
			}
		}
		if _, err := e.rest.UpdateTask(ctx, tk.ID, ptdwire.TaskInput{Completed: bp(false)}); !errors.Is(err, ptd.ErrNotFound) {
			t.Fatalf("update after delete: %v", err)
		}
		if _, err := e.rest.CreateTask(ctx, c.ID, ptdwire.TaskInput{}); !errors.Is(err, ptd.ErrBadRequest) {
			t.Fatalf("task without title: %v", err)
		}
	})
	t.Run("notes lifecycle", func(t *testing.T) {
		n, err := e.rest.CreateNote(ctx, c.ID, ptdwire.NoteInput{Body: sp("Knee feels better")})
		if err != nil {
			t.Fatal(err)
		}
		if n, err = e.rest.UpdateNote(ctx, n.ID, ptdwire.NoteInput{Body: sp("Knee fine")}); err != nil || n.Body != "Knee fine" {
			t.Fatalf("update = %+v, %v", n, err)
		}
		list, err := e.rest.ListNotes(ctx, c.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		if err := e.rest.DeleteNote(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.rest.ListNotes(ctx, "cl_missing"); list != nil {
			t.Fatalf("notes of a missing client = %v", list)
		}
	})
	t.Run("appointments upsert by external id", func(t *testing.T) {
		a := ptdwire.Appointment{ExternalID: "ghl-appt-1", Title: "PT session", StartAt: "2026-06-02T10:00:00Z", Status: "confirmed"}
		first, err := e.rest.UpsertAppointment(ctx, c.ID, a)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.rest.UpsertAppointment(ctx, c.ID, a)
		if err != nil || again != first {
			t.Fatalf("replay = %+v, %v; want %+v", again, err, first)
		}
		a.Status = "cancelled"
		moved, err := e.rest.UpsertAppointment(ctx, c.ID, a)
		if err != nil || moved.ID != first.ID || moved.Status != "cancelled" {
			t.Fatalf("update = %+v, %v", moved, err)
		}
		list, err := e.rest.ListAppointments(ctx, c.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		if _, err := e.rest.UpsertAppointment(ctx, c.ID, ptdwire.Appointment{Title: "x", StartAt: a.StartAt}); !errors.Is(err, ptd.ErrInvalidInput) {
			t.Fatalf("no external id: %v", err)
		}
	})
	t.Run("reminders are idempotent", func(t *testing.T) {
		r := ptdwire.Reminder{ClientID: c.ID, Message: "Check-in due tomorrow", DueAt: "2026-06-02T09:00:00Z", IdempotencyKey: "task-1-due"}
		e.sim.FailNext(1, 503, 0) // the first attempt is lost: the retry must not double-send
		first, err := e.rest.SendReminder(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.rest.SendReminder(ctx, r)
		if err != nil || second.ID != first.ID {
			t.Fatalf("repeat = %+v, %v; want id %s", second, err, first.ID)
		}
		if got := e.sim.Reminders(); len(got) != 1 {
			t.Fatalf("simulator holds %d reminders, want 1", len(got))
		}
		r.Message = "something else"
		if _, err := e.rest.SendReminder(ctx, r); !errors.Is(err, ptd.ErrBadRequest) {
			t.Fatalf("reused key with another message: %v", err)
		}
	})
}

func TestRESTCapabilitiesGateWithoutIO(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ptdsim.Options{Capabilities: &ptdwire.Capabilities{Clients: true, Tags: true}}, nil)
	if e.rest.Capabilities().Has(ptd.CapTasks) || !e.rest.Capabilities().Has(ptd.CapClientUpdate) {
		t.Fatalf("capabilities after Open = %s", e.rest.Capabilities())
	}
	e.sim.ResetStats()
	calls := map[string]func() error{
		"list tasks":     func() error { _, err := e.rest.ListTasks(ctx, "cl_1"); return err },
		"create note":    func() error { _, err := e.rest.CreateNote(ctx, "cl_1", ptdwire.NoteInput{Body: sp("x")}); return err },
		"add to group":   func() error { return e.rest.AddToGroup(ctx, "cl_1", "gr_1") },
		"assign package": func() error { return e.rest.AssignPackage(ctx, "cl_1", "pk_1") },
		"set access":     func() error { return e.rest.SetAccess(ctx, "cl_1", ptdwire.AccessPrintOnly) },
		"upsert appointment": func() error {
			_, err := e.rest.UpsertAppointment(ctx, "cl_1", ptdwire.Appointment{ExternalID: "a"})
			return err
		},
		"send reminder": func() error {
			_, err := e.rest.SendReminder(ctx, ptdwire.Reminder{ClientID: "x", IdempotencyKey: "k"})
			return err
		},
		"list groups": func() error { _, err := e.rest.ListGroups(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			var ue *ptd.UnsupportedError
			if !errors.Is(err, ptd.ErrUnsupported) || !errors.As(err, &ue) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if err := ptd.Require(e.rest, ue.Cap); err == nil {
				t.Fatalf("Require(%s) = nil", ue.Cap)
			}
		})
	}
	if st := e.sim.Stats(); st.TotalRequests != 0 {
		t.Fatalf("unsupported calls made %d requests: %v", st.TotalRequests, st.Requests)
	}
}

// TestRESTConcurrentUpdates has writers race on one client; each re-reads on 412, so every
// increment lands exactly once and no update is lost.
func TestRESTConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ptdsim.Options{}, nil)
	c := e.client(t, "race@example.com")
	const writers, each = 6, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	lost := 0
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for {
					cur, err := e.rest.GetClient(ctx, c.ID)
					if err != nil {
						t.Error(err)
						return
					}
					tag := fmt.Sprintf("w%d-%d", w, i)
					_, err = e.rest.UpdateClient(ctx, c.ID, cur.ETag, ptdwire.ClientInput{LastName: sp(cur.LastName + "+")})
					if errors.Is(err, ptd.ErrPreconditionFailed) {
						mu.Lock()
						lost++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Error(tag, err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	got, _ := e.sim.Client(c.ID)
	if want := "Doe" + strings.Repeat("+", writers*each); got.LastName != want {
		t.Fatalf("last name = %q, want %d pluses (412s seen: %d)", got.LastName, writers*each, lost)
	}
	t.Logf("lost races resolved by re-reading: %d", lost)
}

// TestRESTListingCarriesTheServerClock: a listing page's Date is the server's clock from the
// answer's Date header (the simulator's frozen clock, not the host's), which bounds the poll
// cursor (store.NewSignpost).
func TestRESTListingCarriesTheServerClock(t *testing.T) {
	e := newEnv(t, ptdsim.Options{Clock: frozen}, nil)
	page, err := e.rest.ListClientsPage(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !page.Date.Equal(frozen()) {
		t.Fatalf("page date %s, want the server's %s", page.Date, frozen())
	}
}
