package ghlsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"ptsync/apiclient/ghlwire"
)

func (h *harness) ctl(method, path, body string) resp {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var data []byte
	dec := json.NewDecoder(res.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err == nil {
		data = raw
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

func TestControlHTTP(t *testing.T) {
	h := newHarness(t, Options{Seed: 4})
	steps := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"seed", "POST", "/_sim/seed?n=25", "", 200, `"ids":[`},
		{"bad seed n", "POST", "/_sim/seed?n=x", "", 422, "n must be"},
		{"create", "POST", "/_sim/contacts", `{"firstName":"Ctl","email":"ctl@example.com"}`, 201, `"firstName":"Ctl"`},
		{"duplicate via control", "POST", "/_sim/contacts", `{"email":"CTL@example.com"}`, 400, ghlwire.MsgDuplicateContact},
		{"churn", "POST", "/_sim/churn?n=5", "", 200, `"changed":[`},
		{"faults", "POST", "/_sim/faults", `{"errorRate":0,"latencyMax":"1ms","inject":["503"]}`, 200, `"latencyMax":"1ms"`},
		{"bad faults", "POST", "/_sim/faults", `{"latencyMax":"soon"}`, 422, "latencyMax must be a duration"},
		{"limits", "POST", "/_sim/limits", `{"burstMax":50,"burstInterval":"1s"}`, 200, `"burstMax":50`},
		{"token", "POST", "/_sim/tokens?scopes=contacts.readonly", "", 200, `"scope":"contacts.readonly"`},
		{"pit", "POST", "/_sim/pit", "", 200, `"token":"pit-`},
		{"cursor repeat", "POST", "/_sim/cursor-repeat?on=false", "", 200, `"on":false`},
		{"search lag", "POST", "/_sim/search-lag?d=2s", "", 200, `"searchLag":"2s"`},
		{"counters", "GET", "/_sim/counters", "", 200, `"requests":{`},
		{"unknown", "GET", "/_sim/nope", "", 404, "Cannot GET"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := h.ctl(st.method, st.path, st.body)
			if r.status != st.status || !strings.Contains(string(r.body), st.want) {
				t.Fatalf("%d %s; want %d with %q", r.status, r.body, st.status, st.want)
			}
		})
	}
	if n := h.sim.ContactCount(); n != 26 {
		t.Errorf("%d contacts, want 26", n)
	}
	if h.sim.CurrentLimits().BurstMax != 50 {
		t.Error("limits not applied")
	}
	// The injected 503 hits the next API request; control calls are never faulted or counted.
	if r := h.call("GET", "/contacts/?locationId="+h.sim.LocationID(), nil); r.status != 503 {
		t.Errorf("injected fault: %d", r.status)
	}
	if c := h.sim.Counters(); c.Total != 1 || c.Requests["GET /contacts/"] != 1 {
		t.Errorf("counters %+v", c)
	}
	h.sim.ResetCounters()
	if c := h.sim.Counters(); c.Total != 0 || len(c.Requests) != 0 {
		t.Errorf("after reset %+v", c)
	}
}

func TestControlAPI(t *testing.T) {
	h := newHarness(t, Options{Seed: 8})
	c, err := h.sim.CreateContact(ghlwire.ContactInput{FirstName: ptr("Go"), Email: ptr("go@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{"duplicate", func() error {
			_, err := h.sim.CreateContact(ghlwire.ContactInput{Email: ptr("GO@example.com")})
			return err
		}(), ErrDuplicate},
		{"unknown contact", func() error { _, err := h.sim.AddTags("nope", "x"); return err }(), ErrNotFound},
		{"invalid task", func() error { _, err := h.sim.AddTask(c.ID, ghlwire.TaskInput{}); return err }(), ErrInvalid},
		{"unknown note", h.sim.DeleteNote(c.ID, "nope"), ErrNotFound},
		{"ok", func() error { _, err := h.sim.AddTags(c.ID, "x"); return err }(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.wantErr) || (tc.wantErr == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", tc.err, tc.wantErr)
			}
		})
	}
	t.Run("seed is deterministic", func(t *testing.T) {
		a, b := New(Options{Seed: 77, Now: h.clock.Now}), New(Options{Seed: 77, Now: h.clock.Now})
		a.Seed(100)
		b.Seed(100)
		ca, cb := a.Contacts(), b.Contacts()
		for i := range ca {
			ja, _ := json.Marshal(ca[i])
			jb, _ := json.Marshal(cb[i])
			if string(ja) != string(jb) || fmt.Sprint(a.Tasks(ca[i].ID)) != fmt.Sprint(b.Tasks(cb[i].ID)) {
				t.Fatalf("contact %d differs:\n%s\n%s", i, ja, jb)
			}
		}
	})
	t.Run("churn changes contacts deterministically", func(t *testing.T) {
		a, b := New(Options{Seed: 5, Now: h.clock.Now}), New(Options{Seed: 5, Now: h.clock.Now})
		a.Seed(50)
		b.Seed(50)
		ch := a.ChurnStep(10)
		if len(ch) != 10 || fmt.Sprint(ch) != fmt.Sprint(b.ChurnStep(10)) {
			t.Fatalf("churn %v", ch)
		}
	})
}

// TestConcurrentUse runs API calls, control writes, churn and searches at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, Options{Seed: 6, SearchLag: 0})
	h.sim.Seed(200)
	ctx, cancel := context.WithCancel(context.Background())
	churnDone := make(chan struct{})
	go func() { defer close(churnDone); h.sim.Churn(ctx, 2000) }()
	var wg sync.WaitGroup
	loc := h.sim.LocationID()
	errs := make(chan string, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				var r resp
				switch i % 4 {
				case 0:
					r = h.call("POST", "/contacts/", map[string]any{"locationId": loc, "email": fmt.Sprintf("w%d-%d@x.io", w, i)})
				case 1:
					r = h.call("POST", "/contacts/search", map[string]any{"locationId": loc, "pageLimit": 50, "sort": []any{map[string]any{"field": "dateUpdated", "direction": "asc"}}})
				case 2:
					r = h.call("GET", "/contacts/?locationId="+loc+"&limit=50", nil)
				default:
					h.sim.ChurnStep(3)
					_ = h.sim.Contacts()
					continue
				}
				if r.status >= 300 {
					errs <- fmt.Sprintf("%d %s", r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	<-churnDone
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := h.sim.ContactCount(); n != 200+4*7 {
		t.Errorf("%d contacts, want %d", n, 200+4*7)
	}
}

// The journal orders the API's reads and updates of a contact with the control surface's
// edits, and names the fields each update set.
func TestJournalOrdersReadsAndUpdates(t *testing.T) {
	h := newHarness(t, Options{Seed: 4})
	c := h.create(ghlwire.ContactInput{FirstName: ptr("Ann"), Email: ptr("ann@example.com")})
	before := len(h.sim.Journal())
	if r := h.call("GET", "/contacts/"+c.ID, nil); r.status != 200 {
		t.Fatalf("get: %d", r.status)
	}
	if _, err := h.sim.UpdateContact(c.ID, ghlwire.ContactInput{FirstName: ptr("User")}); err != nil {
		t.Fatal(err)
	}
	if r := h.call("PUT", "/contacts/"+c.ID, ghlwire.ContactInput{FirstName: ptr("Sync"), City: ptr("Leeds")}); r.status != 200 {
		t.Fatalf("put: %d", r.status)
	}
	if r := h.call("PUT", "/contacts/nope", ghlwire.ContactInput{FirstName: ptr("X")}); r.status != 404 {
		t.Fatalf("put unknown: %d", r.status)
	}
	var got []string
	for _, e := range h.sim.Journal()[before:] {
		got = append(got, fmt.Sprintf("%t %s %s %v", e.Contact == c.ID, e.Source, e.Op, e.Set))
	}
	want := []string{"true api get map[]", "true control update map[firstName:User]", "true api update map[city:Leeds firstName:Sync]"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("journal %q, want %q", got, want)
	}
	if r := h.ctl("GET", "/_sim/journal", ""); r.status != 200 || !strings.Contains(string(r.body), `"op":"update"`) {
		t.Fatalf("GET /_sim/journal: %d %s", r.status, r.body)
	}
}
