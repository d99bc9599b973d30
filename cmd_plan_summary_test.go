package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"ptsync/config"
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

// TestStatusShowsHowLateACoachsTaskCanBe: PT Distinction reports no task changes, so
// `ptsync status` (through the running service, which knows ptd.children_period) says how
// late a coach's new task can reach the mirror, once the ptd job has run.
func TestStatusShowsHowLateACoachsTaskCanBe(t *testing.T) {
	svc, _, db := reconcileService(t)
	ctx := context.Background()
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	const line = "ptd tasks a coach's new task or note reaches the mirror within "
	if code, out, errOut := runReconcileCLI(t, "status", "--db", db); code != exitOK || strings.Contains(out, line) {
		t.Fatalf("before any ptd poll: exit %d, the line is there or status failed:\n%s%s", code, out, errOut)
	}
	if err := svc.RunJob(ctx, config.JobPTD); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runReconcileCLI(t, "status", "--db", db)
	if code != exitOK || !strings.Contains(out, line+"1h0m") || !strings.Contains(out, "(ptd.children_period 1h0m0s + the rotation 0s behind)") {
		t.Fatalf("exit %d, stdout lacks the ptd tasks line for the default period of an hour:\n%s%s", code, out, errOut)
	}
	t.Logf("ptsync status:\n%s", out)
	code, out, _ = runReconcileCLI(t, "status", "--db", db, "--json")
	var st struct {
		Service struct {
			PTDChildren *struct {
				PeriodSeconds, MaxAgeSeconds float64
			} `json:"ptdChildren"`
		} `json:"service"`
	}
	if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil || st.Service.PTDChildren == nil ||
		st.Service.PTDChildren.PeriodSeconds != 3600 || st.Service.PTDChildren.MaxAgeSeconds < 3600 {
		t.Fatalf("status --json: exit %d, %v, ptdChildren %+v:\n%s", code, err, st.Service.PTDChildren, out)
	}
}
