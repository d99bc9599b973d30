package ptdsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/gen"
	"ptsync/sim/ptdsim"
)

func TestSeedOverlapsHighLevelPeople(t *testing.T) {
	people := gen.New(42).People(400)
	tests := []struct {
		name      string
		opts      ptdsim.SeedOptions
		wantEmail bool
		wantPhone bool
	}{
		{"email and phone-only matches", ptdsim.SeedOptions{People: people, Overlap: 0.5, PhoneOnly: 0.2, Own: 50, OwnSeed: 7, Seed: 1, Children: true}, true, true},
		{"no phone-only", ptdsim.SeedOptions{People: people, Overlap: 0.3, Own: 10, OwnSeed: 8, Seed: 2}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := ptdsim.New(ptdsim.Options{})
			rep, err := sim.Seed(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Clients != len(sim.Clients()) || rep.Own == 0 {
				t.Fatalf("report %+v, simulator has %d clients", rep, len(sim.Clients()))
			}
			var byEmail, byPhone, variants int
			for _, m := range rep.Matches {
				p := people[m.Index]
				c, _ := sim.Client(m.ClientID)
				switch m.Kind {
				case ptdsim.MatchEmail:
					byEmail++
					if c.Email != ptdsim.NormalizeEmail(p.Email) {
						t.Fatalf("email match %q vs %q", c.Email, p.Email)
					}
					if c.Email != p.Email {
						variants++ // HighLevel holds it with other case or white space
					}
				case ptdsim.MatchPhoneOnly:
					if tc.opts.PhoneOnly == 0 && p.Email != "" {
						t.Fatalf("phone-only match for %q although PhoneOnly is 0", p.Email)
					}
					if p.Email != "" {
						byPhone++ // people without email always overlap by phone
					}
					if ptdsim.NormalizeEmail(p.Email) == c.Email || gen.Digits(c.Phone) == "" ||
						strings.TrimPrefix(gen.Digits(c.Phone), "1") != strings.TrimPrefix(gen.Digits(p.Phone), "1") {
						t.Fatalf("phone-only match %+v vs person %q %q", c, p.Email, p.Phone)
					}
				}
			}
			if (byEmail > 0) != tc.wantEmail || (byPhone > 0) != tc.wantPhone || tc.wantEmail && variants == 0 {
				t.Fatalf("email %d (variants %d), phone-only %d", byEmail, variants, byPhone)
			}
			if tc.opts.Children && len(sim.Tasks("")) == 0 {
				t.Fatal("children requested but no tasks seeded")
			}
			again := ptdsim.New(ptdsim.Options{})
			rep2, _ := again.Seed(tc.opts)
			if fmt.Sprint(rep2) != fmt.Sprint(rep) {
				t.Fatal("seeding is not deterministic")
			}
		})
	}
}

func TestControlSurfaceOverHTTP(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{APIKey: "ctl"})
	srv, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	call := func(method, path, key string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	st, body := call("POST", "/_sim/clients", "ctl", map[string]any{"email": "coach@x.io", "firstName": "C"})
	if st != 201 {
		t.Fatalf("create = %d %s", st, body)
	}
	var c ptdwire.Client
	_ = json.Unmarshal(body, &c)
	steps := []struct {
		name       string
		method     string
		path       string
		key        string
		body       any
		wantStatus int
	}{
		{"wrong key", "GET", "/_sim/stats", "nope", nil, 401},
		{"edit", "PATCH", "/_sim/clients/" + c.ID, "ctl", map[string]any{"lastName": "Edited"}, 200},
		{"tag", "POST", "/_sim/clients/" + c.ID + "/tags", "ctl", map[string]any{"tags": []string{"vip"}}, 200},
		{"task", "POST", "/_sim/clients/" + c.ID + "/tasks", "ctl", map[string]any{"title": "Call"}, 201},
		{"note", "POST", "/_sim/clients/" + c.ID + "/notes", "ctl", map[string]any{"body": "hello"}, 201},
		{"faults out of range", "PUT", "/_sim/faults", "ctl", map[string]any{"errorRate": 2}, 400},
		{"faults", "PUT", "/_sim/faults", "ctl", map[string]any{"errorRate": 0}, 204},
		{"edit missing", "PATCH", "/_sim/clients/cl_missing", "ctl", map[string]any{"lastName": "x"}, 404},
		{"stats", "GET", "/_sim/stats", "ctl", nil, 200},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var b any = s.body
			if b == nil {
				b = struct{}{}
			}
			if st, body := call(s.method, s.path, s.key, b); st != s.wantStatus {
				t.Fatalf("%s %s = %d, want %d: %s", s.method, s.path, st, s.wantStatus, body)
			}
		})
	}
	got, _ := sim.Client(c.ID)
	if got.LastName != "Edited" || len(got.Tags) != 1 || got.ETag == c.ETag || got.UpdatedAt <= c.UpdatedAt {
		t.Fatalf("coach edits did not land or did not move etag/updatedAt: %+v (was %+v)", got, c)
	}
	if st := sim.Stats(); st.Writes != 0 || st.CoachWrites < 4 {
		t.Fatalf("stats = %+v: coach edits must not count as API writes", st)
	}
}

func TestZapierRecorderAppliesActions(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{})
	g := sim.AddGroup("VIP")
	rec := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: sim})
	srv, err := rec.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	post := func(a ptdwire.ZapierAction) ptdwire.ZapierHookResponse {
		b, _ := json.Marshal(a)
		resp, err := http.Post(ptdsim.HookURL(srv.URL, a.Action), "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out ptdwire.ZapierHookResponse
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	for _, a := range []ptdwire.ZapierAction{
		{Action: ptdwire.ZapierAddClient, Email: "z@x.io", FirstName: "Z", IdempotencyKey: "1"},
		{Action: ptdwire.ZapierAddClient, Email: "Z@X.io", FirstName: "Again", IdempotencyKey: "2"},
		{Action: ptdwire.ZapierAddToGroup, Email: "z@x.io", Group: "VIP", IdempotencyKey: "3"},
		{Action: ptdwire.ZapierPrintOnly, Email: "z@x.io", IdempotencyKey: "4"},
	} {
		if r := post(a); r.Status != "success" || r.ID == "" {
			t.Fatalf("%s answered %+v", a.Action, r)
		}
	}
	cs := sim.Clients()
	if len(cs) != 1 || cs[0].FirstName != "Z" || len(cs[0].Groups) != 1 || cs[0].Groups[0] != g.ID || cs[0].Access != ptdwire.AccessPrintOnly {
		t.Fatalf("clients = %+v", cs)
	}
	if n := len(rec.Calls()); n != 4 {
		t.Fatalf("%d calls recorded", n)
	}
}

// TestConcurrentAPIAndCoach runs API writers, coach edits and listings at once; run with -race.
func TestConcurrentAPIAndCoach(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{Seed: 3})
	srv, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	sim.SetFaults(ptdsim.Faults{ErrorRate: 0.2, ErrorStatus: 500})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var okCreates, faults int
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				b, _ := json.Marshal(map[string]any{"email": fmt.Sprintf("w%d-%d@x.io", w, i), "firstName": "W"})
				req, _ := http.NewRequest("POST", srv.URL+"/v1/clients", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+sim.APIKey())
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				switch resp.StatusCode {
				case 201:
					okCreates++
				case 500:
					faults++
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			c, err := sim.CreateClient(ptdwire.ClientInput{Email: ptr(fmt.Sprintf("coach%d@x.io", i)), FirstName: ptr("C")})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := sim.TagClient(c.ID, []string{"t"}, nil); err != nil {
				t.Error(err)
			}
			_ = sim.Clients()
		}
	}()
	wg.Wait()
	if okCreates+faults != 100 || faults == 0 || okCreates == 0 {
		t.Fatalf("creates %d, injected faults %d", okCreates, faults)
	}
	if got := len(sim.Clients()); got != okCreates+50 {
		t.Fatalf("%d clients, want %d: an injected fault must not change state", got, okCreates+50)
	}
	if st := sim.Stats(); st.Writes != int64(okCreates) {
		t.Fatalf("writes = %d, want %d", st.Writes, okCreates)
	}
}

func TestControlAPIErrors(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{Clock: func() time.Time { return time.Unix(0, 0) }})
	c, err := sim.CreateClient(ptdwire.ClientInput{Email: ptr("a@x.io"), FirstName: ptr("A")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate email", func() error {
			_, err := sim.CreateClient(ptdwire.ClientInput{Email: ptr(" A@X.IO"), FirstName: ptr("B")})
			return err
		}(), ptdsim.ErrConflict},
		{"missing first name", func() error { _, err := sim.CreateClient(ptdwire.ClientInput{Email: ptr("b@x.io")}); return err }(), ptdsim.ErrInvalid},
		{"bad timezone", func() error {
			_, err := sim.EditClient(c.ID, ptdwire.ClientInput{Timezone: ptr("Mars/Olympus")})
			return err
		}(), ptdsim.ErrInvalid},
		{"unknown task", sim.DeleteTask("tk_x"), ptdsim.ErrNotFound},
		{"import stops at the bad one", func() error {
			_, err := sim.ImportClients(time.Unix(0, 0), []ptdwire.ClientInput{{Email: ptr("ok@x.io"), FirstName: ptr("O")}, {Email: ptr("a@x.io"), FirstName: ptr("Dup")}})
			return err
		}(), ptdsim.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
	// With a frozen clock, stamps still strictly increase.
	a, _ := sim.EditClient(c.ID, ptdwire.ClientInput{LastName: ptr("1")})
	b, _ := sim.EditClient(c.ID, ptdwire.ClientInput{LastName: ptr("2")})
	if !(a.UpdatedAt < b.UpdatedAt) || a.ETag == b.ETag {
		t.Fatalf("stamps %s then %s, etags %s %s", a.UpdatedAt, b.UpdatedAt, a.ETag, b.ETag)
	}
}
