package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/config"
	"ptsync/replicator"
	"ptsync/replicator/reconcile"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// reconcileFixture writes a config file and a mirror holding one HighLevel contact and one
// PTD client with the same email (not yet linked) plus one linked pair with an open conflict.
func reconcileFixture(t *testing.T) (cfgPath, dbPath string) {
	t.Helper()
	return reconcileFixtureAt(t, "http://127.0.0.1:1", "loc", "http://127.0.0.1:2", "")
}

// reconcileFixtureAt is reconcileFixture with the systems' addresses and extra configuration.
func reconcileFixtureAt(t *testing.T, ghlURL, location, ptdURL, extra string) (cfgPath, dbPath string) {
	t.Helper()
	cfgPath, dbPath = reconcileConfigAt(t, ghlURL, location, ptdURL, extra)
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *store.Tx) error {
		raw := func(v map[string]any) json.RawMessage { b, _ := json.Marshal(v); return b }
		for _, c := range []store.GHLContact{
			{ID: "g1", Email: "ann@example.com", FirstName: "Ann", Raw: raw(map[string]any{"id": "g1", "email": "ann@example.com", "firstName": "Ann"})},
			{ID: "g2", Email: "bo@example.com", FirstName: "Bo", Phone: "+12025550101", Raw: raw(map[string]any{"id": "g2", "email": "bo@example.com", "firstName": "Bo", "phone": "+12025550101"})},
		} {
			if err := tx.PutGHLContact(&c); err != nil {
				return err
			}
		}
		for _, c := range []store.PTDClient{
			{ID: "p1", Email: "ann@example.com", FirstName: "Annie", Raw: raw(map[string]any{"id": "p1", "email": "ann@example.com", "firstName": "Annie"})},
			{ID: "p2", Email: "bo@example.com", FirstName: "Bo", Phone: "+12025550199", Raw: raw(map[string]any{"id": "p2", "email": "bo@example.com", "firstName": "Bo", "phone": "+12025550199"})},
		} {
			if err := tx.PutPTDClient(&c); err != nil {
				return err
			}
		}
		l := store.Link{Kind: store.KindContact, GHLID: "g2", PTDID: "p2", MatchedBy: "email"}
		if err := tx.PutLink(&l); err != nil {
			return err
		}
		if err := tx.PutBase(store.Base{LinkID: l.ID, Fields: map[string]string{"email": "bo@example.com", "firstName": "Bo", "phone": "+12025550100"}}); err != nil {
			return err
		}
		if err := tx.PutConflict(store.Conflict{LinkID: l.ID, Field: "phone", Base: "+12025550100", GHL: "+12025550101", PTD: "+12025550199"}); err != nil {
			return err
		}
		return tx.Enqueue(&store.OutboxEntry{Target: store.SidePTD, Op: "client.update", RecordKind: "contact", RecordID: "Lx", LinkID: "Lx", Payload: json.RawMessage(`{}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

// reconcileConfigAt writes the fixtures' configuration for the systems' addresses, with an
// empty mirror path beside it.
func reconcileConfigAt(t *testing.T, ghlURL, location, ptdURL, extra string) (cfgPath, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	dbPath = filepath.Join(dir, "ptsync.db")
	cfgPath = filepath.Join(dir, "config.hcl")
	if os.Getenv("T_GHL_TOKEN") == "" {
		t.Setenv("T_GHL_TOKEN", "pit-test")
	}
	t.Setenv("T_PTD_KEY", "ptd-test")
	src := `ghl {
  base_url      = "` + ghlURL + `"
  location_id   = "` + location + `"
  private_token = env("T_GHL_TOKEN")
}
ptd {
  driver = "rest"
  rest {
    base_url = "` + ptdURL + `"
    api_key  = env("T_PTD_KEY")
  }
}
` + extra + `
store { path = "` + dbPath + `" }
mapping {
  field "email" {}
  field "firstName" {}
  field "phone" { conflict = "manual" }
}
`
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

func runReconcileCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReconcileCommands(t *testing.T) {
	cfg, db := reconcileFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings of stdout
	}{
		{"plan lists the new link and its write", []string{"plan", "--config", cfg}, exitOK, []string{"contact  g1", "email", "contact.update", "firstName"}},
		{"plan as json", []string{"plan", "--config", cfg, "--json", "--db", db}, exitOK, []string{`"matchedBy": "email"`, `"op": "contact.update"`}},
		{"plan with a missing config is a usage error", []string{"plan", "--config", filepath.Join(t.TempDir(), "none.hcl")}, exitUsage, nil},
		{"conflicts lists the open conflict", []string{"conflicts", "--db", db}, exitOK, []string{"phone", "+12025550101", "+12025550199"}},
		{"resolve needs a valid --take", []string{"conflicts", "resolve", "L0000000001", "phone", "--take", "both", "--config", cfg}, exitUsage, nil},
		{"resolve an unknown field fails", []string{"conflicts", "resolve", "L0000000001", "shoe", "--take", "ghl", "--config", cfg}, exitFailure, nil},
		{"resolve taking ptd", []string{"conflicts", "resolve", "L0000000001", "phone", "--take", "ptd", "--config", cfg}, exitOK, []string{"+12025550199"}},
		{"no open conflict left", []string{"conflicts", "--db", db, "--json"}, exitOK, []string{"[]"}},
		{"outbox shows the queued write", []string{"outbox", "--db", db}, exitOK, []string{"ghl", "contact.update", "client.update"}},
		{"outbox retry needs a number", []string{"outbox", "retry", "x", "--db", db}, exitUsage, nil},
		{"outbox drop", []string{"outbox", "drop", "1", "--db", db}, exitOK, []string{"dropped 1"}},
		{"outbox drop of a missing entry fails", []string{"outbox", "drop", "1", "--db", db}, exitFailure, nil},
		{"history by email shows the rule", []string{"history", "bo@example.com", "--db", db}, exitOK, []string{"manual-resolved-ptd", "phone"}},
		{"history of an unknown record fails", []string{"history", "nobody@example.com", "--db", db}, exitFailure, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runReconcileCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// reconcileService serves the fixture's mirror the way `ptsync run` does (the production
// replicator.Service with its reconcile engine, HighLevel and PTD simulators on loopback),
// opened but not scheduling jobs, so the mirror only changes through the admin requests.
func reconcileService(t *testing.T) (svc *replicator.Service, cfgPath, dbPath string) {
	t.Helper()
	gsim := ghlsim.New(ghlsim.Options{Seed: 1})
	gurl, err := gsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gsim.Close() })
	t.Setenv("T_GHL_TOKEN", gsim.IssuePIT("contacts.readonly", "contacts.write"))
	psim := httptest.NewServer(ptdsim.New(ptdsim.Options{APIKey: "ptd-test"}).Handler())
	t.Cleanup(psim.Close)
	cfgPath, dbPath = reconcileFixtureAt(t, gurl, gsim.LocationID(), psim.URL,
		"metrics { listen = \"127.0.0.1:0\" }\nadmin { listen = \"127.0.0.1:0\" }\n")
	if err := addDeadEntry(dbPath); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	svc, err = replicator.New(replicator.Options{Config: cfg, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return svc, cfgPath, dbPath
}

// addDeadEntry queues a second write and dead-letters it, for `outbox --dead` and retry.
func addDeadEntry(path string) error {
	db, err := store.Open(path, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *store.Tx) error {
		o := store.OutboxEntry{Target: store.SideGHL, Op: "contact.update", RecordKind: "contact", RecordID: "Ly", LinkID: "Ly", Payload: json.RawMessage(`{}`)}
		if err := tx.Enqueue(&o); err != nil {
			return err
		}
		_, err := tx.DeadLetter(o.Seq, "refused: 422 validation")
		return err
	})
}

// TestReconcileCommandsWhileServiceRuns: plan, conflicts, outbox and history print the same
// through the running service's admin endpoint as they do offline; resolve, retry and drop
// are applied by the service; a wrong token is refused; a file held by something that is not
// a ptsync service fails every command with exit 1 and a message saying so.
func TestReconcileCommandsWhileServiceRuns(t *testing.T) {
	svc, cfg, db := reconcileService(t)
	reads := [][]string{
		{"plan", "--config", cfg},
		{"conflicts", "--db", db},
		{"conflicts", "--db", db, "--json", "--all"},
		{"outbox", "--db", db},
		{"outbox", "--db", db, "--dead", "--json"},
		{"history", "bo@example.com", "--db", db},
		{"history", "g2", "--db", db, "--json"},
		{"history", "nobody@example.com", "--db", db},
	}
	type result struct {
		code        int
		out, errOut string
	}
	offline := map[string]result{}
	for _, args := range reads {
		code, out, errOut := runReconcileCLI(t, args...)
		offline[strings.Join(args, " ")] = result{code, out, errOut}
	}
	if r := offline["plan --config "+cfg]; r.code != exitOK || !strings.Contains(r.out, "contact.update") {
		t.Fatalf("offline plan: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	t.Run("nothing answers: exit 1 with the reason", func(t *testing.T) {
		f, err := os.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		for _, args := range append(reads[:len(reads)-1:len(reads)-1],
			[]string{"conflicts", "resolve", "L0000000001", "phone", "--take", "ptd", "--config", cfg},
			[]string{"outbox", "drop", "1", "--db", db}) {
			t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
				code, _, errOut := runReconcileCLI(t, args...)
				if code != exitFailure || !strings.Contains(errOut, "not a ptsync service") || strings.Contains(errOut, "stop the service") {
					t.Errorf("exit %d, stderr %q", code, errOut)
				}
			})
		}
	})

	if err := svc.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	if _, err := store.Open(db, store.Options{ReadOnly: true, Timeout: 50 * time.Millisecond}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("the service does not hold the mirror: %v", err)
	}

	t.Run("same output through the service", func(t *testing.T) {
		for _, args := range reads {
			key := strings.Join(args, " ")
			t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
				code, out, errOut := runReconcileCLI(t, args...)
				want := offline[key]
				if code != want.code || out != want.out {
					t.Fatalf("%s: exit %d (offline %d)\nstdout:\n%s\noffline stdout:\n%s\nstderr: %s", key, code, want.code, out, want.out, errOut)
				}
				if code == exitOK && !strings.Contains(errOut, "by the running service") {
					t.Errorf("stderr does not say the service answered: %q", errOut)
				}
				if args[0] == "plan" && !strings.Contains(errOut, "with the configuration the service runs") {
					t.Errorf("plan through the service does not say whose configuration planned: %q", errOut)
				}
			})
		}
	})

	t.Run("actions are applied by the service", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			code int
			want string // substring of stdout (exit 0) or stderr
		}{
			{"resolve an unknown field fails", []string{"conflicts", "resolve", "L0000000001", "shoe", "--take", "ghl", "--config", cfg}, exitFailure, `field "shoe" is not in the mapping`},
			{"resolve taking ptd", []string{"conflicts", "resolve", "L0000000001", "phone", "--take", "ptd", "--config", cfg}, exitOK, "+12025550199"},
			{"resolving again finds no open conflict", []string{"conflicts", "resolve", "L0000000001", "phone", "--take", "ptd", "--config", cfg}, exitFailure, "no open conflict"},
			{"no open conflict left", []string{"conflicts", "--db", db, "--json"}, exitOK, "[]"},
			{"history shows the decision", []string{"history", "bo@example.com", "--db", db}, exitOK, "manual-resolved-ptd"},
			{"retry the dead entry", []string{"outbox", "retry", "all-dead", "--db", db}, exitOK, "1 entries due now"},
			{"nothing dead any more", []string{"outbox", "--dead", "--db", db}, exitOK, "outbox is empty"},
			{"drop", []string{"outbox", "drop", "1", "--db", db}, exitOK, "dropped 1 (ptd client.update on contact/Lx)"},
			{"drop again fails", []string{"outbox", "drop", "1", "--db", db}, exitFailure, "cannot drop outbox entry 1: not found"},
			{"retry of a missing entry fails", []string{"outbox", "retry", "1", "--db", db}, exitFailure, "cannot retry outbox entry 1: not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, out, errOut := runReconcileCLI(t, tc.args...)
				got := out
				if tc.code != exitOK {
					got = errOut
				}
				if code != tc.code || !strings.Contains(got, tc.want) {
					t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
				}
			})
		}
	})

	t.Run("wrong token is refused", func(t *testing.T) {
		info, err := store.ReadAdminAddr(db)
		if err != nil {
			t.Fatal(err)
		}
		for _, route := range []struct{ method, path, body string }{
			{"POST", reconcile.AdminPlanPath, `{}`},
			{"GET", reconcile.AdminConflictsPath, ``},
			{"POST", reconcile.AdminResolvePath, `{"link":"L0000000001","field":"phone","take":"ghl"}`},
			{"GET", reconcile.AdminOutboxPath, ``},
			{"POST", reconcile.AdminRetryPath, `{"allDead":true}`},
			{"POST", reconcile.AdminDropPath, `{"seq":2}`},
			{"POST", reconcile.AdminHistoryPath, `{"ref":"g2"}`},
		} {
			for _, token := range []string{"", "wrong", info.Token + "x"} {
				req, _ := http.NewRequest(route.method, "http://"+info.Addr+route.path, strings.NewReader(route.body))
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s with token %q: %s, want 401", route.method, route.path, token, resp.Status)
				}
			}
		}
		good := info
		info.Token = "not-the-token"
		if err := store.WriteAdminAddr(db, info); err != nil {
			t.Fatal(err)
		}
		defer store.WriteAdminAddr(db, good)
		code, _, errOut := runReconcileCLI(t, "outbox", "drop", "2", "--db", db)
		if code != exitFailure || !strings.Contains(errOut, "401") {
			t.Fatalf("drop with a wrong token: exit %d, %s", code, errOut)
		}
	})

	t.Run("body over 1 MiB is refused", func(t *testing.T) {
		info, err := store.ReadAdminAddr(db)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"ref":"` + strings.Repeat("x", 1<<20) + `"}`
		req, _ := http.NewRequest("POST", "http://"+info.Addr+reconcile.AdminHistoryPath, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized body: %s, want 413", resp.Status)
		}
	})

	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Run("the service's writes are in the file", func(t *testing.T) {
		mdb, err := store.Open(db, store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer mdb.Close()
		_ = mdb.View(func(tx *store.Tx) error {
			es, _ := reconcile.ListOutbox(tx, false)
			var ops []string
			for _, e := range es {
				ops = append(ops, fmt.Sprintf("%d %s dead=%v attempts=%d", e.Seq, e.Op, e.Dead, e.Attempts))
			}
			// 1 dropped; 2 retried (no longer dead); 3 the resolution's write to HighLevel.
			if want := []string{"2 contact.update dead=false attempts=0", "3 contact.update dead=false attempts=0"}; !slices.Equal(ops, want) {
				t.Errorf("outbox %q, want %q", ops, want)
			}
			cs, _ := reconcile.ListConflicts(tx, true)
			if len(cs) != 1 || !cs[0].Resolved || cs[0].Resolution != "+12025550199" {
				t.Errorf("conflicts after resolve: %+v", cs)
			}
			return nil
		})
	})
}
