package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ptsync/store"
)

// reconcileFixture writes a config file and a mirror holding one HighLevel contact and one
// PTD client with the same email (not yet linked) plus one linked pair with an open conflict.
func reconcileFixture(t *testing.T) (cfgPath, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	dbPath = filepath.Join(dir, "ptsync.db")
	cfgPath = filepath.Join(dir, "config.hcl")
	t.Setenv("T_GHL_TOKEN", "pit-test")
	t.Setenv("T_PTD_KEY", "ptd-test")
	src := `ghl {
  base_url      = "http://127.0.0.1:1"
  location_id   = "loc"
  private_token = env("T_GHL_TOKEN")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:2"
    api_key  = env("T_PTD_KEY")
  }
}
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
