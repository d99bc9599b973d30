package main

import (
	"strings"
	"testing"

	"ptsync/store"
)

// summaryMirror writes the fixtures' configuration and a mirror holding only what fill puts
// in it.
func summaryMirror(t *testing.T, fill func(tx *store.Tx) error) (cfgPath, dbPath string) {
	t.Helper()
	cfgPath, dbPath = reconcileConfigAt(t, "http://127.0.0.1:1", "loc", "http://127.0.0.1:2", "")
	db, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

// TestPlanSummaryIsTruthful: a plan that writes nothing only says "in sync" when nothing was
// skipped either; skipped records are counted by reason, one line each, and listed one by
// one only on request.
func TestPlanSummaryIsTruthful(t *testing.T) {
	noEmail := func(tx *store.Tx) error {
		for _, id := range []string{"gA", "gB", "gC"} {
			if err := tx.PutGHLContact(&store.GHLContact{ID: id, FirstName: "Nomail"}); err != nil {
				return err
			}
		}
		return tx.PutGHLContact(&store.GHLContact{ID: "gD", Email: "no-name@example.com"})
	}
	const why = "no email: PT Distinction needs one to create a client"
	for _, tc := range []struct {
		name    string
		fill    func(tx *store.Tx) error
		args    []string
		want    []string
		notWant []string
	}{
		{"an empty mirror is in sync", func(*store.Tx) error { return nil }, nil,
			[]string{"in sync: the next cycle writes nothing\n", "0 new links, 0 writes, 0 conflicts, 0 skipped"}, []string{"skipped ("}},
		{"skipped records are not in sync", noEmail, nil,
			[]string{"nothing to write; 4 records skipped (3 " + why + "; 1 no first name: PT Distinction needs one to create a client)\n",
				"3        ghl   contact  " + why, "ptsync plan --skipped"},
			[]string{"in sync", "gA", "gB", "gC", "gD"}},
		{"--skipped lists each record", noEmail, []string{"--skipped"},
			[]string{"nothing to write; 4 records skipped", "skipped  ghl contact  gA  " + why, "gB", "gC", "gD"},
			[]string{"in sync", "SKIPPED", "ptsync plan --skipped"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := summaryMirror(t, tc.fill)
			code, out, errOut := runReconcileCLI(t, append([]string{"plan", "--config", cfg}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestConflictsShowTheBaseAndTheReasonApart: BASE is the value both sides last agreed on, or
// "-" when there is none; why the field is held has a column of its own, also for a conflict
// written before reasons were stored (its reason was kept in the base).
func TestConflictsShowTheBaseAndTheReasonApart(t *testing.T) {
	_, db := summaryMirror(t, func(tx *store.Tx) error {
		for _, c := range []store.Conflict{
			{LinkID: "L1", Field: "phone", Base: "+12025550100", GHL: "+12025550101", PTD: "+12025550199", Reason: "both sides changed it"},
			{LinkID: "L2", Field: "phone", NoBase: true, GHL: "", PTD: "+12025550111", Reason: "highlevel refused the value: contact gX already holds it"},
			{LinkID: "L3", Field: "email", Base: "highlevel refused: held by contact gY", GHL: "c@x.io", PTD: "d@x.io"},
			{LinkID: "L4", Field: "email", Base: "", GHL: "e@x.io", PTD: "f@x.io"},
		} {
			if err := tx.PutConflict(c); err != nil {
				return err
			}
		}
		return nil
	})
	code, out, errOut := runReconcileCLI(t, "conflicts", "--db", db)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "L") && f[0] != "LINK" {
			rows[f[0]] = f
		}
	}
	for _, tc := range []struct{ link, base, why string }{
		{"L1", `"+12025550100"`, "both sides changed it"},
		{"L2", "-", "highlevel refused the value: contact gX already holds it"},
		{"L3", "-", "highlevel refused: held by contact gY"},
		{"L4", `""`, "both sides changed it since they last agreed (rule manual)"},
	} {
		f := rows[tc.link]
		if len(f) < 3 || f[2] != tc.base {
			t.Errorf("%s: BASE column %q, want %s\n%s", tc.link, f, tc.base, out)
		}
		if !strings.HasSuffix(strings.Join(f, " "), tc.why) {
			t.Errorf("%s: row %q does not end with the reason %q", tc.link, f, tc.why)
		}
	}
}
