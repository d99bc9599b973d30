package ptd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
	"ptsync/sim/ptdsim"
)

type zenv struct {
	rec *ptdsim.ZapierRecorder
	sim *ptdsim.Sim
	z   *ptd.Zapier
	sl  *sleeps
}

func newZapier(t *testing.T, hooks func(base string) ptd.ZapierHooks) *zenv {
	t.Helper()
	sim := ptdsim.New(ptdsim.Options{})
	sim.AddGroup("Online Coaching")
	rec := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: sim})
	srv := httptest.NewServer(rec.Handler())
	t.Cleanup(srv.Close)
	if hooks == nil {
		hooks = func(base string) ptd.ZapierHooks {
			return ptd.ZapierHooks{
				AddClient:     secret.New(ptdsim.HookURL(base, ptdwire.ZapierAddClient)),
				AddToGroup:    secret.New(ptdsim.HookURL(base, ptdwire.ZapierAddToGroup)),
				AssignPackage: secret.New(ptdsim.HookURL(base, ptdwire.ZapierAssignPackage)),
				PrintOnly:     secret.New(ptdsim.HookURL(base, ptdwire.ZapierPrintOnly)),
				Reminder:      secret.New(ptdsim.HookURL(base, ptdwire.ZapierReminder)),
			}
		}
	}
	sl := &sleeps{}
	z, err := ptd.NewZapier(ptd.ZapierOptions{Hooks: hooks(srv.URL), Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return &zenv{rec: rec, sim: sim, z: z, sl: sl}
}

func TestZapierCreateIsOnePostWithMappedFields(t *testing.T) {
	ctx := context.Background()
	e := newZapier(t, nil)
	c, err := e.z.CreateClient(ctx, ptdwire.ClientInput{Email: sp(" Ann.Lee@Example.com "), FirstName: sp("Ann"), LastName: sp("Lee"),
		Gender: sp("female"), Timezone: sp("Europe/London"), Access: sp(ptdwire.AccessPrintOnly), SendLoginDetails: bp(false)})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "ann.lee@example.com" || c.Access != ptdwire.AccessPrintOnly {
		t.Fatalf("client = %+v", c)
	}
	calls := e.rec.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d catch-hook posts, want 1", len(calls))
	}
	got := calls[0]
	if got.Hook != ptdwire.ZapierAddClient || got.DecodeErr != "" {
		t.Fatalf("hook %q, decode error %q", got.Hook, got.DecodeErr)
	}
	a := got.Action
	want := ptdwire.ZapierAction{Action: "add_client", Email: "ann.lee@example.com", FirstName: "Ann", LastName: "Lee",
		Gender: "female", Timezone: "Europe/London", Online: bp(false), IdempotencyKey: a.IdempotencyKey}
	if !reflect.DeepEqual(a, want) || *a.Online || !strings.HasPrefix(a.IdempotencyKey, "ptsync-") {
		t.Fatalf("action = %+v, want %+v", a, want)
	}
	var raw map[string]any
	if err := json.Unmarshal(got.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if v, ok := raw["send_login_details"]; !ok || v != false {
		t.Fatalf("send_login_details must be sent even when false: %s", got.Body)
	}
	if got.Header.Get("Idempotency-Key") != a.IdempotencyKey {
		t.Fatalf("Idempotency-Key header %q, body %q", got.Header.Get("Idempotency-Key"), a.IdempotencyKey)
	}
	if pc, ok := e.sim.ClientByEmail("ann.lee@example.com"); !ok || pc.Access != ptdwire.AccessPrintOnly {
		t.Fatalf("PTD did not get the client: %+v", pc)
	}
	// The same create again carries the same key, and PTD does nothing new.
	if _, err := e.z.CreateClient(ctx, ptdwire.ClientInput{Email: sp("ann.lee@example.com"), FirstName: sp("Ann")}); err != nil {
		t.Fatal(err)
	}
	if calls := e.rec.Calls(); calls[1].Action.IdempotencyKey != a.IdempotencyKey || len(e.sim.Clients()) != 1 {
		t.Fatalf("repeat key %q vs %q, clients %d", calls[1].Action.IdempotencyKey, a.IdempotencyKey, len(e.sim.Clients()))
	}
}

func TestZapierActions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		fail     int // catch-hook 503s before success
		call     func(z *ptd.Zapier) error
		wantHook string
		wantPost int
		wantErr  error
	}{
		{"add to group", 0, func(z *ptd.Zapier) error { return z.AddToGroup(ctx, "A@x.io", "Online Coaching") }, ptdwire.ZapierAddToGroup, 1, nil},
		{"assign package", 0, func(z *ptd.Zapier) error { return z.AssignPackage(ctx, "a@x.io", "Starter") }, ptdwire.ZapierAssignPackage, 1, nil},
		{"print only", 0, func(z *ptd.Zapier) error { return z.SetAccess(ctx, "a@x.io", ptdwire.AccessPrintOnly) }, ptdwire.ZapierPrintOnly, 1, nil},
		{"reminder", 0, func(z *ptd.Zapier) error {
			_, err := z.SendReminder(ctx, ptdwire.Reminder{ClientID: "a@x.io", Message: "m", DueAt: "2026-06-02T09:00:00Z", IdempotencyKey: "k1"})
			return err
		}, ptdwire.ZapierReminder, 1, nil},
		{"idempotent action retried on 503", 2, func(z *ptd.Zapier) error { return z.AddToGroup(ctx, "a@x.io", "g") }, ptdwire.ZapierAddToGroup, 1, nil},
		{"reminder not retried on 503", 1, func(z *ptd.Zapier) error {
			_, err := z.SendReminder(ctx, ptdwire.Reminder{ClientID: "a@x.io", Message: "m", DueAt: "2026-06-02T09:00:00Z", IdempotencyKey: "k2"})
			return err
		}, "", 0, ptd.ErrServer},
		{"client id must be an email", 0, func(z *ptd.Zapier) error { return z.AddToGroup(ctx, "cl_000001", "g") }, "", 0, ptd.ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newZapier(t, nil)
			e.rec.FailNext(tc.fail, http.StatusServiceUnavailable)
			err := tc.call(e.z)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			calls := e.rec.Calls()
			if len(calls) != tc.wantPost {
				t.Fatalf("%d recorded posts, want %d", len(calls), tc.wantPost)
			}
			if tc.wantPost > 0 && (calls[0].Hook != tc.wantHook || calls[0].Action.Email != "a@x.io") {
				t.Fatalf("post = %+v", calls[0])
			}
		})
	}
}

func TestZapierUnsupportedMakesNoCalls(t *testing.T) {
	ctx := context.Background()
	// Only the add-client hook is configured: everything else is unsupported.
	e := newZapier(t, func(base string) ptd.ZapierHooks {
		return ptd.ZapierHooks{AddClient: secret.New(ptdsim.HookURL(base, ptdwire.ZapierAddClient))}
	})
	if got := e.z.Capabilities().String(); got != "clients.create" {
		t.Fatalf("capabilities = %q", got)
	}
	calls := map[string]func() error{
		"list":       func() error { _, err := e.z.ListClientsPage(ctx, "", 10); return err },
		"get":        func() error { _, err := e.z.GetClient(ctx, "a@x.io"); return err },
		"find":       func() error { _, err := e.z.FindClientByEmail(ctx, "a@x.io"); return err },
		"update":     func() error { _, err := e.z.UpdateClient(ctx, "a@x.io", `"1"`, ptdwire.ClientInput{}); return err },
		"tags":       func() error { _, err := e.z.AddTags(ctx, "a@x.io", []string{"x"}); return err },
		"untag":      func() error { _, err := e.z.RemoveTags(ctx, "a@x.io", []string{"x"}); return err },
		"groups":     func() error { _, err := e.z.ListGroups(ctx); return err },
		"packages":   func() error { _, err := e.z.ListPackages(ctx); return err },
		"add group":  func() error { return e.z.AddToGroup(ctx, "a@x.io", "g") },
		"ungroup":    func() error { return e.z.RemoveFromGroup(ctx, "a@x.io", "g") },
		"package":    func() error { return e.z.AssignPackage(ctx, "a@x.io", "p") },
		"online":     func() error { return e.z.SetAccess(ctx, "a@x.io", ptdwire.AccessOnline) },
		"print only": func() error { return e.z.SetAccess(ctx, "a@x.io", ptdwire.AccessPrintOnly) },
		"tasks":      func() error { _, err := e.z.ListTasks(ctx, "a@x.io"); return err },
		"new task":   func() error { _, err := e.z.CreateTask(ctx, "a@x.io", ptdwire.TaskInput{}); return err },
		"edit task":  func() error { _, err := e.z.UpdateTask(ctx, "t", ptdwire.TaskInput{}); return err },
		"drop task":  func() error { return e.z.DeleteTask(ctx, "t") },
		"notes":      func() error { _, err := e.z.ListNotes(ctx, "a@x.io"); return err },
		"new note":   func() error { _, err := e.z.CreateNote(ctx, "a@x.io", ptdwire.NoteInput{}); return err },
		"edit note":  func() error { _, err := e.z.UpdateNote(ctx, "n", ptdwire.NoteInput{}); return err },
		"drop note":  func() error { return e.z.DeleteNote(ctx, "n") },
		"appt":       func() error { _, err := e.z.UpsertAppointment(ctx, "a@x.io", ptdwire.Appointment{}); return err },
		"appts":      func() error { _, err := e.z.ListAppointments(ctx, "a@x.io"); return err },
		"reminder":   func() error { _, err := e.z.SendReminder(ctx, ptdwire.Reminder{}); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ptd.ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
		})
	}
	if n := len(e.rec.Calls()); n != 0 {
		t.Fatalf("unsupported calls made %d posts", n)
	}
}

func TestTriggerHandler(t *testing.T) {
	ctx := context.Background()
	const shared = "s3cret-shared-with-zapier"
	good := `{"trigger":"client_added","email":" New.Client@Example.com ","first_name":"New","at":"2026-06-01T10:00:00Z"}`
	tests := []struct {
		name       string
		secret     string
		body       string
		handleErr  error
		wantStatus int
		wantResult string
	}{
		{"right secret", shared, good, nil, 202, ptd.TriggerAccepted},
		{"group trigger", shared, `{"trigger":"client_added_to_group","email":"a@x.io","group":"VIP"}`, nil, 202, ptd.TriggerAccepted},
		{"wrong secret", "s3cret-shared-with-zapieR", good, nil, 401, ptd.TriggerUnauthorized},
		{"missing secret", "", good, nil, 401, ptd.TriggerUnauthorized},
		{"oversized body", shared, `{"trigger":"client_added","email":"a@x.io","first_name":"` + strings.Repeat("x", 2048) + `"}`, nil, 413, ptd.TriggerTooLarge},
		{"not json", shared, `trigger=client_added`, nil, 400, ptd.TriggerInvalid},
		{"unknown field", shared, `{"trigger":"client_added","e-mail":"a@x.io"}`, nil, 400, ptd.TriggerInvalid},
		{"unknown trigger", shared, `{"trigger":"client_updated","email":"a@x.io"}`, nil, 400, ptd.TriggerInvalid},
		{"group missing", shared, `{"trigger":"client_added_to_group","email":"a@x.io"}`, nil, 400, ptd.TriggerInvalid},
		{"bad email", shared, `{"trigger":"client_added","email":"nobody"}`, nil, 400, ptd.TriggerInvalid},
		{"bad time", shared, `{"trigger":"client_added","email":"a@x.io","at":"yesterday"}`, nil, 400, ptd.TriggerInvalid},
		{"handler fails", shared, good, errors.New("store closed"), 503, ptd.TriggerFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var results []string
			count := func(r string) { mu.Lock(); results = append(results, r); mu.Unlock() }
			var got []ptd.Event
			h, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: secret.New(shared), MaxBodyBytes: 1024, Count: count,
				Handle: func(_ context.Context, ev ptd.Event) error { got = append(got, ev); return tc.handleErr }})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			status, err := ptdsim.SendRaw(ctx, srv.Client(), srv.URL, tc.secret, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", status, tc.wantStatus)
			}
			mu.Lock()
			counted := slices.Clone(results)
			mu.Unlock()
			if !slices.Equal(counted, []string{tc.wantResult}) {
				t.Fatalf("counted %q, want exactly [%s]", counted, tc.wantResult)
			}
			if tc.wantStatus == 202 || tc.wantStatus == 503 {
				if len(got) != 1 || strings.TrimSpace(strings.ToLower(got[0].Email)) != got[0].Email {
					t.Fatalf("handed %+v", got)
				}
			} else if len(got) != 0 {
				t.Fatalf("refused trigger reached the callback: %+v", got)
			}
		})
	}
	t.Run("recorder sends a trigger with the secret", func(t *testing.T) {
		var got ptd.Event
		h, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: secret.New(shared),
			Handle: func(_ context.Context, ev ptd.Event) error { got = ev; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		st, err := ptdsim.SendTrigger(ctx, nil, srv.URL, shared, ptdwire.ZapierTrigger{Trigger: ptdwire.TriggerPackageSignUp, Email: "P@x.io", Package: "Starter"})
		if err != nil || st != 202 || got.Kind != ptd.EventPackageSignUp || got.Email != "p@x.io" || got.Package != "Starter" {
			t.Fatalf("status %d, err %v, got %+v", st, err, got)
		}
	})
	t.Run("short secret refused", func(t *testing.T) {
		if _, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: secret.New("short"), Handle: func(context.Context, ptd.Event) error { return nil }}); !errors.Is(err, ptd.ErrInvalidInput) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSecretNeverPrints(t *testing.T) {
	s := secret.New("hunter2-api-key")
	opts := ptd.RESTOptions{BaseURL: "http://x", APIKey: s}
	j, _ := json.Marshal(struct{ Key ptd.Secret }{s})
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"%#v": fmt.Sprintf("%#v", s), "struct %+v": fmt.Sprintf("%+v", opts), "json": string(j),
	} {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, "hunter2") {
				t.Fatalf("%s leaks the secret: %s", name, out)
			}
		})
	}
}
