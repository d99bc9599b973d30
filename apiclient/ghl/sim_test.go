package ghl

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/internal/secret"
	"ptsync/sim/ghlsim"
)

// sinkStore registers every token it sees with the secret sink, so a later log line that
// carries one fails the test.
type sinkStore struct {
	TokenStore
	sink *secretSink
}

func (s sinkStore) Save(ctx context.Context, loc string, t Token) error {
	s.sink.Register(t.AccessToken.Reveal(), t.RefreshToken.Reveal())
	return s.TokenStore.Save(ctx, loc, t)
}

func (s sinkStore) Load(ctx context.Context, loc string) (Token, error) {
	t, err := s.TokenStore.Load(ctx, loc)
	s.sink.Register(t.AccessToken.Reveal(), t.RefreshToken.Reveal())
	return t, err
}

// simEnv is a simulator on a real loopback listener and an OAuth client against it.
type simEnv struct {
	sim    *ghlsim.Server
	url    string
	sink   *secretSink
	store  *FileTokenStore
	src    *OAuthSource
	client *Client
	obs    *recObserver
	// transport is the client's transport when a test set one (nil: default).
	transport http.RoundTripper
}

// newSimEnv installs the app (scopes default to read+write) and builds a client whose token
// source refreshes through the simulator. Rate limits are lifted unless the test sets them.
func newSimEnv(t *testing.T, so ghlsim.Options, scopes []string, mod ...func(*Options)) *simEnv {
	t.Helper()
	if so.Limits == (ghlsim.Limits{}) {
		so.Limits = ghlsim.Limits{BurstMax: 1 << 30, BurstInterval: time.Second}
	}
	sim := ghlsim.New(so)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	env := &simEnv{sim: sim, url: srv.URL, sink: newSecretSink(t), obs: newRecObserver()}
	id, clientSecret := sim.ClientCredentials()
	env.sink.Register(clientSecret)
	env.store = NewFileTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	store := sinkStore{env.store, env.sink}
	tr := sim.IssueToken(scopes...)
	if err := store.Save(context.Background(), sim.LocationID(), tokenFromResponse(tr, time.Now())); err != nil {
		t.Fatal(err)
	}
	var err error
	env.src, err = NewOAuthSource(OAuthSourceOptions{Location: sim.LocationID(), ClientID: id, ClientSecret: secret.New(clientSecret),
		TokenURL: srv.URL + "/oauth/token", Store: store, Logger: env.sink.Logger(), Observer: env.obs})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{BaseURL: srv.URL, LocationID: sim.LocationID(), Credentials: env.src,
		Retry:  RetryPolicy{Base: time.Millisecond, Cap: 10 * time.Millisecond, MaxAttempts: 4},
		Logger: env.sink.Logger(), Observer: env.obs, Version: "test"}
	for _, m := range mod {
		m(&o)
	}
	env.transport = o.Transport
	if env.client, err = New(o); err != nil {
		t.Fatal(err)
	}
	return env
}

// staticClient is a client on the same simulator with a fixed token and configured scopes.
func (e *simEnv) staticClient(t *testing.T, token string, scopes []string) *Client {
	t.Helper()
	e.sink.Register(token)
	c, err := New(Options{BaseURL: e.url, LocationID: e.sim.LocationID(), Credentials: NewStaticSource(e.sim.LocationID(), secret.New(token), scopes),
		Retry: RetryPolicy{Base: time.Millisecond, MaxAttempts: 2}, Logger: e.sink.Logger(), Transport: e.transport})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Acceptance 1: every operation through the client against the simulator, with success and
// each documented error status.
func TestEveryOperationAgainstSimulator(t *testing.T) {
	exerciseEveryOperation(t, newSimEnv(t, ghlsim.Options{Seed: 7}, nil))
}

// exerciseEveryOperation runs every operation, with its success and documented errors, as
// subtests (the conformance test reuses it behind a recording transport).
func exerciseEveryOperation(t *testing.T, env *simEnv) {
	ids := env.sim.Seed(20)
	ctx := context.Background()
	c := env.client
	// Put a contact with both tasks and notes first.
	for i, id := range ids {
		if len(env.sim.Tasks(id)) > 0 && len(env.sim.Notes(id)) > 0 {
			ids[0], ids[i] = ids[i], ids[0]
			break
		}
	}
	seeded, _ := env.sim.Contact(ids[0])
	tasks, notes := env.sim.Tasks(ids[0]), env.sim.Notes(ids[0])
	if len(tasks) == 0 || len(notes) == 0 {
		t.Fatalf("seeded contact has %d tasks, %d notes", len(tasks), len(notes))
	}
	if seeded.BusinessID == "" {
		for _, id := range ids {
			if ct, _ := env.sim.Contact(id); ct.BusinessID != "" {
				seeded = ct
			}
		}
	}
	due := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	var created ghlwire.Contact
	var task ghlwire.Task
	var note ghlwire.Note
	readOnlyPIT := env.sim.IssuePIT(ghlwire.ScopeContactsReadonly)
	// scopesUnknown does not know its token is read-only, so HighLevel's scope 401 comes back.
	scopesUnknown := env.staticClient(t, readOnlyPIT, nil)
	badToken := env.staticClient(t, "pit-not-a-real-token", nil)

	cases := []struct {
		name string
		op   string
		run  func() error
		want error // nil: success
	}{
		{"create contact", OpCreateContact, func() error {
			var err error
			created, err = c.CreateContact(ctx, ghlwire.ContactInput{FirstName: ptr("Ada"), LastName: ptr("Client"), Email: ptr("ada.client@example.test"), Tags: []string{"t1"}})
			if err == nil && (created.ID == "" || len(created.Raw) == 0) {
				return errors.New("created contact lacks id or raw")
			}
			return err
		}, nil},
		{"create duplicate", OpCreateContact, func() error {
			_, err := c.CreateContact(ctx, ghlwire.ContactInput{Email: ptr("ada.client@example.test")})
			var ae *APIError
			if errors.As(err, &ae) && (ae.Duplicate == nil || ae.Duplicate.ContactID != created.ID) {
				return errors.New("duplicate error does not name the existing contact")
			}
			return err
		}, ErrDuplicate},
		{"get contact", OpGetContact, func() error {
			ct, err := c.GetContact(ctx, created.ID)
			if err == nil && ct.Email != "ada.client@example.test" {
				return errors.New("wrong contact")
			}
			return err
		}, nil},
		{"get contact 404", OpGetContact, func() error { _, err := c.GetContact(ctx, "nosuchcontact0000001"); return err }, ErrNotFound},
		{"get contact 401", OpGetContact, func() error { _, err := badToken.GetContact(ctx, created.ID); return err }, ErrUnauthorized},
		{"update contact", OpUpdateContact, func() error {
			ct, err := c.UpdateContact(ctx, created.ID, ghlwire.ContactInput{City: ptr("Lisbon")})
			if err == nil && ct.City != "Lisbon" {
				return errors.New("update not applied")
			}
			return err
		}, nil},
		{"update contact 404", OpUpdateContact, func() error {
			_, err := c.UpdateContact(ctx, "nosuchcontact0000001", ghlwire.ContactInput{City: ptr("x")})
			return err
		}, ErrNotFound},
		{"update contact 401 scope", OpUpdateContact, func() error {
			_, err := scopesUnknown.UpdateContact(ctx, created.ID, ghlwire.ContactInput{City: ptr("x")})
			return err
		}, ErrScope},
		{"upsert contact", OpUpsertContact, func() error {
			ct, isNew, err := c.UpsertContact(ctx, ghlwire.ContactInput{Email: ptr("ada.client@example.test"), LastName: ptr("Upserted")})
			if err == nil && (isNew || ct.ID != created.ID) {
				return errors.New("upsert created instead of updating")
			}
			return err
		}, nil},
		{"list contacts page", OpGetContacts, func() error {
			res, err := c.ListContactsPage(ctx, ListParams{Limit: 2})
			if err == nil && (len(res.Contacts) != 2 || res.Meta == nil) {
				return errors.New("page shape")
			}
			return err
		}, nil},
		{"list contacts 422", OpGetContacts, func() error {
			// The client clamps limit; a raw query proves the 422 path through apiError.
			_, err := c.do(ctx, call{op: OpGetContacts, method: http.MethodGet, path: "/contacts/", query: map[string][]string{"locationId": {c.loc}, "limit": {"500"}}, idempotent: true})
			return err
		}, ErrValidation},
		{"contacts by business", OpContactsByBusiness, func() error {
			_, _, err := c.ContactsByBusiness(ctx, firstNonEmpty(seeded.BusinessID, "biz0"), BusinessParams{Limit: 10})
			return err
		}, nil},
		{"search contacts", OpSearchContacts, func() error {
			res, err := c.SearchContacts(ctx, ghlwire.SearchRequest{PageLimit: 10, Filters: []ghlwire.SearchFilter{{Field: "email", Operator: "eq", Value: "ada.client@example.test"}}})
			if err == nil && (len(res.Contacts) != 1 || len(res.Contacts[0].SearchAfter) == 0) {
				return errors.New("search result shape")
			}
			return err
		}, nil},
		{"search contacts 422", OpSearchContacts, func() error {
			_, err := c.SearchContacts(ctx, ghlwire.SearchRequest{PageLimit: 501})
			return err
		}, ErrValidation},
		{"find duplicate", OpGetDuplicateContact, func() error {
			ct, found, err := c.FindDuplicate(ctx, "ada.client@example.test", "")
			if err == nil && (!found || ct.ID != created.ID) {
				return errors.New("duplicate not found")
			}
			return err
		}, nil},
		{"find duplicate none", OpGetDuplicateContact, func() error {
			_, found, err := c.FindDuplicate(ctx, "nobody@example.test", "")
			if err == nil && found {
				return errors.New("found a contact that does not exist")
			}
			return err
		}, nil},
		{"add tags", OpAddTags, func() error {
			tags, err := c.AddTags(ctx, created.ID, []string{"vip", "t2"})
			if err == nil && !slices.Contains(tags, "vip") {
				return errors.New("tag not added")
			}
			return err
		}, nil},
		{"remove tags", OpRemoveTags, func() error {
			tags, err := c.RemoveTags(ctx, created.ID, []string{"vip"})
			if err == nil && slices.Contains(tags, "vip") {
				return errors.New("tag not removed")
			}
			return err
		}, nil},
		{"add tags 401 scope", OpAddTags, func() error { _, err := scopesUnknown.AddTags(ctx, created.ID, []string{"x"}); return err }, ErrScope},
		{"create task", OpCreateTask, func() error {
			var err error
			task, err = c.CreateTask(ctx, created.ID, ghlwire.TaskInput{Title: ptr("Call"), DueDate: ptr(due)})
			return err
		}, nil},
		{"create task 422", OpCreateTask, func() error { _, err := c.CreateTask(ctx, created.ID, ghlwire.TaskInput{}); return err }, ErrValidation},
		{"list tasks", OpGetAllTasks, func() error {
			ts, err := c.ListTasks(ctx, created.ID)
			if err == nil && (len(ts) != 1 || len(ts[0].Raw) == 0) {
				return errors.New("tasks shape")
			}
			return err
		}, nil},
		{"get task", OpGetTask, func() error { _, err := c.GetTask(ctx, ids[0], tasks[0].ID); return err }, nil},
		{"get task 404", OpGetTask, func() error { _, err := c.GetTask(ctx, created.ID, "nosuchtask"); return err }, ErrNotFound},
		{"update task", OpUpdateTask, func() error {
			tk, err := c.UpdateTask(ctx, created.ID, task.ID, ghlwire.TaskInput{Title: ptr("Call back")})
			if err == nil && tk.Title != "Call back" {
				return errors.New("task not updated")
			}
			return err
		}, nil},
		{"complete task", OpUpdateTaskCompleted, func() error {
			tk, err := c.SetTaskCompleted(ctx, created.ID, task.ID, true)
			if err == nil && !tk.Completed {
				return errors.New("task not completed")
			}
			return err
		}, nil},
		{"delete task", OpDeleteTask, func() error { return c.DeleteTask(ctx, created.ID, task.ID) }, nil},
		{"delete task 404", OpDeleteTask, func() error { return c.DeleteTask(ctx, created.ID, task.ID) }, ErrNotFound},
		{"create note", OpCreateNote, func() error {
			var err error
			note, err = c.CreateNote(ctx, created.ID, ghlwire.NoteInput{Body: ptr("first session went well")})
			return err
		}, nil},
		{"create note 422", OpCreateNote, func() error { _, err := c.CreateNote(ctx, created.ID, ghlwire.NoteInput{}); return err }, ErrValidation},
		{"list notes", OpGetAllNotes, func() error { _, err := c.ListNotes(ctx, ids[0]); return err }, nil},
		{"get note", OpGetNote, func() error { _, err := c.GetNote(ctx, ids[0], notes[0].ID); return err }, nil},
		{"get note 404", OpGetNote, func() error { _, err := c.GetNote(ctx, created.ID, "nosuchnote"); return err }, ErrNotFound},
		{"update note", OpUpdateNote, func() error {
			n, err := c.UpdateNote(ctx, created.ID, note.ID, ghlwire.NoteInput{Body: ptr("edited")})
			if err == nil && n.Body != "edited" {
				return errors.New("note not updated")
			}
			return err
		}, nil},
		{"delete note", OpDeleteNote, func() error { return c.DeleteNote(ctx, created.ID, note.ID) }, nil},
		{"list appointments", OpGetAppointments, func() error { _, err := c.ListAppointments(ctx, ids[0]); return err }, nil},
		{"list appointments 401", OpGetAppointments, func() error { _, err := badToken.ListAppointments(ctx, ids[0]); return err }, ErrUnauthorized},
		{"delete contact", OpDeleteContact, func() error { return c.DeleteContact(ctx, created.ID) }, nil},
		{"delete contact 404", OpDeleteContact, func() error { return c.DeleteContact(ctx, created.ID) }, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %v", err, tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.op):
				t.Fatalf("error does not name %s: %v", tc.op, err)
			}
		})
	}
	// Every operationId was exercised.
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.op] = true
	}
	for _, op := range allOps {
		if !seen[op] {
			t.Errorf("operation %s not covered", op)
		}
	}
}

var allOps = []string{OpGetContact, OpGetContacts, OpContactsByBusiness, OpCreateContact, OpUpdateContact, OpDeleteContact,
	OpUpsertContact, OpSearchContacts, OpGetDuplicateContact, OpGetAllTasks, OpGetTask, OpCreateTask, OpUpdateTask,
	OpUpdateTaskCompleted, OpDeleteTask, OpGetAllNotes, OpGetNote, OpCreateNote, OpUpdateNote, OpDeleteNote,
	OpGetAppointments, OpAddTags, OpRemoveTags}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Acceptance 9: a contacts.readonly token makes every write fail fast; the simulator counts
// no write and no refused write.
func TestReadOnlyTokenAgainstSimulator(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 3}, []string{ghlwire.ScopeContactsReadonly})
	ids := env.sim.Seed(1)
	ctx := context.Background()
	c := env.client
	env.sim.ResetCounters()
	errs := []error{}
	_, err := c.CreateContact(ctx, ghlwire.ContactInput{Email: ptr("x@example.test")})
	errs = append(errs, err)
	_, err = c.UpdateContact(ctx, ids[0], ghlwire.ContactInput{City: ptr("x")})
	errs = append(errs, err)
	errs = append(errs, c.DeleteContact(ctx, ids[0]))
	_, err = c.AddTags(ctx, ids[0], []string{"a"})
	errs = append(errs, err)
	_, err = c.CreateNote(ctx, ids[0], ghlwire.NoteInput{Body: ptr("x")})
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("write %d: err = %v", i, err)
		}
	}
	ctr := env.sim.Counters()
	if ctr.Total != 0 || ctr.Writes != 0 || ctr.RefusedWrites != 0 {
		t.Fatalf("simulator saw requests: %+v", ctr)
	}
	if _, err := c.GetContact(ctx, ids[0]); err != nil {
		t.Fatalf("reads must work: %v", err)
	}
	if ro, _ := c.ReadOnly(ctx); !ro {
		t.Fatal("ReadOnly() = false")
	}
}

// Acceptance 3: 2,500 contacts through GET /contacts/ and through search, each exactly once;
// with the simulator repeating a cursor, both iterators stop with ErrRepeatedCursor.
func TestPaginationExactlyOnce(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 11}, nil)
	n := 2500
	if testing.Short() {
		n = 450
	}
	want := env.sim.Seed(n)
	ctx := context.Background()
	check := func(t *testing.T, got map[string]int, pages int) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%d distinct contacts, want %d", len(got), n)
		}
		for _, id := range want {
			if got[id] != 1 {
				t.Fatalf("contact %s seen %d times", id, got[id])
			}
		}
		t.Logf("%d contacts in %d pages", n, pages)
	}
	t.Run("get contacts", func(t *testing.T) {
		got, pages := map[string]int{}, 0
		for p, err := range env.client.ListPages(ctx, ListParams{Limit: 100}) {
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range p.Contacts {
				got[c.ID]++
			}
		}
		check(t, got, pages)
	})
	t.Run("get contacts resumed from a saved cursor", func(t *testing.T) {
		got, pages := map[string]int{}, 0
		var saved ListCursor
		for p, err := range env.client.ListPages(ctx, ListParams{Limit: 100}) {
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range p.Contacts {
				got[c.ID]++
			}
			saved = p.Next
			if pages == 3 {
				break // a crash after committing page 3 with its cursor
			}
		}
		for p, err := range env.client.ListPages(ctx, ListParams{Limit: 100, StartAfter: saved.StartAfter, StartAfterID: saved.StartAfterID}) {
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range p.Contacts {
				got[c.ID]++
			}
		}
		check(t, got, pages)
	})
	t.Run("search", func(t *testing.T) {
		got, pages := map[string]int{}, 0
		for p, err := range env.client.SearchPages(ctx, ghlwire.SearchRequest{PageLimit: 100, Sort: []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}}) {
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range p.Contacts {
				got[c.ID]++
			}
		}
		check(t, got, pages)
	})
	t.Run("repeated cursor stops", func(t *testing.T) {
		env.sim.SetCursorRepeat(true)
		defer env.sim.SetCursorRepeat(false)
		pages := 0
		var last error
		for _, err := range env.client.ListPages(ctx, ListParams{Limit: 100}) {
			if err != nil {
				last = err
				break
			}
			if pages++; pages > 50 {
				t.Fatal("list iterator loops")
			}
		}
		var rce *RepeatedCursorError
		if !errors.Is(last, ErrRepeatedCursor) || !errors.As(last, &rce) || rce.Op != OpGetContacts {
			t.Fatalf("list: err = %v after %d pages", last, pages)
		}
		pages, last = 0, nil
		for _, err := range env.client.SearchPages(ctx, ghlwire.SearchRequest{PageLimit: 100}) {
			if err != nil {
				last = err
				break
			}
			if pages++; pages > 50 {
				t.Fatal("search iterator loops")
			}
		}
		if !errors.Is(last, ErrRepeatedCursor) || !strings.Contains(last.Error(), OpSearchContacts) {
			t.Fatalf("search: err = %v after %d pages", last, pages)
		}
	})
}

// Acceptance 5: 1,000 sequential and 1,000 concurrent (50 goroutines) calls spanning more than
// 20 forced refreshes: no refused refresh token, the stored one is always the newest, 0600.
func TestRefreshUnderLoad(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 5}, nil)
	ids := env.sim.Seed(5)
	ctx := context.Background()
	checkStored := func(t *testing.T) {
		t.Helper()
		st, err := os.Stat(env.store.Path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("token file mode %v err %v", st.Mode(), err)
		}
		tok, err := env.store.Load(ctx, env.sim.LocationID())
		if err != nil {
			t.Fatal(err)
		}
		if cur, _ := env.src.Current(ctx); !cur.RefreshToken.Equal(tok.RefreshToken) || !cur.AccessToken.Equal(tok.AccessToken) {
			t.Fatal("the stored pair is not the one in use")
		}
	}
	seqCalls, conc, perWorker := 1000, 50, 20
	if testing.Short() {
		seqCalls, perWorker = 500, 10
	}
	t.Run("sequential", func(t *testing.T) {
		env.sim.ExpireEvery(40)
		before := env.sim.Counters().Refreshes
		for i := range seqCalls {
			if _, err := env.client.GetContact(ctx, ids[i%len(ids)]); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if i%97 == 0 {
				checkStored(t)
			}
		}
		ctr := env.sim.Counters()
		if ctr.TokenRefused != 0 || ctr.Refreshes-before < 20*int64(seqCalls)/1000 {
			t.Fatalf("refreshes %d refused %d", ctr.Refreshes-before, ctr.TokenRefused)
		}
		t.Logf("%d sequential calls, %d refreshes, 0 refused", seqCalls, ctr.Refreshes-before)
		checkStored(t)
	})
	t.Run("concurrent", func(t *testing.T) {
		// Tokens die every 150 calls here: with 50 callers in flight, a token that lived only
		// 40 calls would be spent by the retries of the previous one (a test artifact: real
		// tokens live a day), and each call retries a 401 at most three times.
		env.sim.ExpireEvery(150)
		before := env.sim.Counters().Refreshes
		var wg sync.WaitGroup
		for w := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					if _, err := env.client.ListTasks(ctx, ids[(w+i)%len(ids)]); err != nil {
						t.Errorf("worker %d call %d: %v", w, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		ctr := env.sim.Counters()
		if ctr.TokenRefused != 0 || ctr.Refreshes == before {
			t.Fatalf("refreshes %d refused %d", ctr.Refreshes-before, ctr.TokenRefused)
		}
		t.Logf("%d concurrent calls, %d refreshes, 0 refused; %d log lines checked for secrets", conc*perWorker, ctr.Refreshes-before, env.sink.Lines())
		checkStored(t)
	})
	t.Run("stored refresh token is accepted", func(t *testing.T) {
		// A second process starting from the file refreshes successfully: the file holds the
		// newest, unspent refresh token.
		id, clientSecret := env.sim.ClientCredentials()
		src2, _ := NewOAuthSource(OAuthSourceOptions{Location: env.sim.LocationID(), ClientID: id, ClientSecret: secret.New(clientSecret),
			TokenURL: env.url + "/oauth/token", Store: sinkStore{env.store, env.sink}})
		tok, _ := env.store.Load(ctx, env.sim.LocationID())
		if _, _, err := src2.Invalidate(ctx, tok.AccessToken, true); err != nil {
			t.Fatal(err)
		}
		if env.sim.Counters().TokenRefused != 0 {
			t.Fatal("stored refresh token was refused")
		}
	})
}

// Acceptance 8: with 20 % of calls failing (5xx, resets, slow bodies that time out) every
// idempotent call eventually succeeds; under 100 % failure the breaker opens, then half-opens.
func TestFaultsRetriesAndBreaker(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 9}, nil, func(o *Options) {
		o.Retry = RetryPolicy{Base: time.Millisecond, Cap: 20 * time.Millisecond, MaxAttempts: 10}
		o.AttemptTimeout = 150 * time.Millisecond
		o.Breaker = BreakerOptions{Failures: 12, Cooldown: 150 * time.Millisecond}
	})
	ids := env.sim.Seed(10)
	ctx := context.Background()
	calls := 300
	if testing.Short() {
		calls = 120
	}
	env.sim.SetFaults(ghlsim.Faults{ErrorRate: 0.13, ResetRate: 0.04, SlowBodyRate: 0.03, SlowBodyDelay: 60 * time.Millisecond})
	for i := range calls {
		id := ids[i%len(ids)]
		var err error
		switch i % 4 {
		case 0:
			_, err = env.client.GetContact(ctx, id)
		case 1:
			_, err = env.client.UpdateContact(ctx, id, ghlwire.ContactInput{City: ptr("City" + string(rune('A'+i%26)))})
		case 2:
			_, err = env.client.SearchContacts(ctx, ghlwire.SearchRequest{PageLimit: 5})
		case 3:
			_, err = env.client.ListNotes(ctx, id)
		}
		if err != nil {
			t.Fatalf("call %d failed despite retries: %v", i, err)
		}
	}
	f := env.sim.Counters().Faults
	var injected int64
	for _, n := range f {
		injected += n
	}
	t.Logf("%d calls succeeded through %d injected faults %v; retries %v", calls, injected, f, env.obs.retries)
	if injected < int64(calls)/10 {
		t.Fatalf("only %d faults injected", injected)
	}
	if env.obs.retryCount(OpGetContact+" timeout")+env.obs.retryCount(OpListNotesTimeoutKey())+env.obs.retryCount(OpSearchContacts+" timeout")+env.obs.retryCount(OpUpdateContact+" timeout") == 0 {
		t.Error("no timeout was retried")
	}

	env.sim.SetFaults(ghlsim.Faults{ErrorRate: 1})
	var sawOpen bool
	for range 30 {
		_, err := env.client.GetContact(ctx, ids[0])
		if errors.Is(err, ErrBreakerOpen) {
			sawOpen = true
			break
		}
	}
	if !sawOpen || env.client.BreakerState() != "open" {
		t.Fatalf("breaker did not open: %s", env.client.BreakerState())
	}
	before := env.sim.Counters().Total
	if _, err := env.client.GetContact(ctx, ids[0]); !errors.Is(err, ErrBreakerOpen) || env.sim.Counters().Total != before {
		t.Fatalf("open breaker sent a request: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	env.sim.SetFaults(ghlsim.Faults{})
	if _, err := env.client.GetContact(ctx, ids[0]); err != nil {
		t.Fatalf("half-open probe: %v", err)
	}
	states := env.obs.stateList()
	if !slices.Contains(states, "open") || !slices.Contains(states, "half-open") || states[len(states)-1] != "closed" {
		t.Fatalf("breaker transitions %v", states)
	}
}

func OpListNotesTimeoutKey() string { return OpGetAllNotes + " timeout" }

// UpdateContactOnce sends one attempt: a 5xx or a reset comes back at once (UpdateContact
// retries it), while an expired access token is still refreshed and the call repeated.
func TestUpdateContactOnceDoesNotRetry(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 9}, nil, func(o *Options) {
		o.Retry = RetryPolicy{Base: time.Millisecond, Cap: 2 * time.Millisecond, MaxAttempts: 5}
	})
	id := env.sim.Seed(1)[0]
	ctx := context.Background()
	in := ghlwire.ContactInput{City: ptr("Once")}
	for _, f := range []ghlsim.FaultKind{ghlsim.Fault503, ghlsim.FaultReset} {
		before := env.sim.Counters().Total
		env.sim.InjectNext(f)
		_, err := env.client.UpdateContactOnce(ctx, id, in)
		if err == nil {
			t.Fatalf("%s: UpdateContactOnce succeeded; the injected fault was retried", f)
		}
		if n := env.sim.Counters().Total - before; n != 1 {
			t.Errorf("%s: %d requests sent, want 1", f, n)
		}
		env.sim.InjectNext(f)
		if _, err := env.client.UpdateContact(ctx, id, in); err != nil {
			t.Errorf("%s: UpdateContact did not retry: %v", f, err)
		}
	}
}
