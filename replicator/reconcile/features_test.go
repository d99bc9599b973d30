package reconcile_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

func lower(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	slices.Sort(out)
	return out
}

// Acceptance 3: a tag added on one side while another is removed on the other merge as sets;
// HighLevel saw POST/DELETE tags and never a PUT carrying tags.
func TestTagsMergeAsSetsAndPushAsDeltas(t *testing.T) {
	h := newHarness(t, hopts{})
	ids, rep := h.seed(6, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	gid, pid := ids[m.Index], m.ClientID
	h.gsim.AddTags(gid, "keep-a", "drop-me")
	h.converge(3)
	before, _ := h.gsim.Contact(gid)

	h.gsim.AddTags(gid, "added-in-ghl")
	if _, err := h.psim.TagClient(pid, []string{"added-in-ptd"}, []string{"drop-me"}); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	g, _ := h.gsim.Contact(gid)
	p, _ := h.psim.Client(pid)
	want := lower(append(slices.DeleteFunc(slices.Clone(before.Tags), func(s string) bool { return s == "drop-me" }), "added-in-ghl", "added-in-ptd"))
	if !slices.Equal(lower(g.Tags), want) || !slices.Equal(lower(p.Tags), want) {
		t.Fatalf("tags: ghl %v ptd %v, want %v", lower(g.Tags), lower(p.Tags), want)
	}
	var posts, deletes int
	tagPath := regexp.MustCompile(`^/contacts/[^/]+/tags$`)
	contactPath := regexp.MustCompile(`^/contacts/[^/]+$`)
	for _, r := range h.rec.all() {
		switch {
		case r.method == "POST" && tagPath.MatchString(r.path):
			posts++
		case r.method == "DELETE" && tagPath.MatchString(r.path):
			deletes++
		case r.method == "PUT" && contactPath.MatchString(r.path):
			var body map[string]any
			_ = json.Unmarshal([]byte(r.body), &body)
			if _, ok := body["tags"]; ok {
				t.Errorf("PUT %s carried tags: %s", r.path, r.body)
			}
		}
	}
	if posts == 0 || deletes == 0 {
		t.Errorf("tag deltas: %d POST, %d DELETE; want both", posts, deletes)
	}
	h.check()
}

func findTask(ts []ghlwire.Task, title string) *ghlwire.Task {
	for i := range ts {
		if ts[i].Title == title {
			return &ts[i]
		}
	}
	return nil
}

func findPTDTask(ts []ptdwire.Task, title string) *ptdwire.Task {
	for i := range ts {
		if ts[i].Title == title {
			return &ts[i]
		}
	}
	return nil
}

// Acceptance 4 (lifecycle): a PTD task's create, edit, complete and delete reach HighLevel
// through the right endpoints within one cycle each, and the reverse.
func TestTaskLifecycleBothWays(t *testing.T) {
	h := newHarness(t, hopts{})
	ids, rep := h.seed(5, 1, 0, 0, true)
	h.converge(4)
	rp := h.check()
	if rp.Tasks == 0 {
		t.Fatalf("seeded tasks were not linked: %s", rp)
	}
	m := rep.Matches[0]
	gid, pid := ids[m.Index], m.ClientID
	due := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	count := func(key string) int64 { return h.gsim.Counters().Requests[key] }

	t.Run("ptd to highlevel", func(t *testing.T) {
		tk, err := h.psim.CreateTask(pid, ptdwire.TaskInput{Title: strp("Book physio"), DueAt: &due})
		if err != nil {
			t.Fatal(err)
		}
		h.cycle()
		g := findTask(h.gsim.Tasks(gid), "Book physio")
		if g == nil || count("POST /contacts/{contactId}/tasks") == 0 {
			t.Fatalf("task not created on highlevel")
		}
		h.psim.EditTask(tk.ID, ptdwire.TaskInput{Title: strp("Book physio (Tue)")})
		h.cycle()
		if findTask(h.gsim.Tasks(gid), "Book physio (Tue)") == nil || count("PUT /contacts/{contactId}/tasks/{taskId}") == 0 {
			t.Fatalf("edit did not reach highlevel")
		}
		h.psim.CompleteTask(tk.ID, true)
		h.cycle()
		if g := findTask(h.gsim.Tasks(gid), "Book physio (Tue)"); g == nil || !g.Completed || count("PUT /contacts/{contactId}/tasks/{taskId}/completed") == 0 {
			t.Fatalf("completion did not reach highlevel through PUT .../completed")
		}
		h.psim.DeleteTask(tk.ID)
		h.cycle()
		if findTask(h.gsim.Tasks(gid), "Book physio (Tue)") != nil || count("DELETE /contacts/{contactId}/tasks/{taskId}") == 0 {
			t.Fatalf("delete did not reach highlevel")
		}
	})
	t.Run("highlevel to ptd", func(t *testing.T) {
		f := false
		tk, err := h.gsim.AddTask(gid, ghlwire.TaskInput{Title: strp("Send meal plan"), DueDate: &due, Completed: &f})
		if err != nil {
			t.Fatal(err)
		}
		h.cycle()
		if findPTDTask(h.psim.Tasks(pid), "Send meal plan") == nil {
			t.Fatal("task not created in ptd")
		}
		h.gsim.UpdateTask(gid, tk.ID, ghlwire.TaskInput{Title: strp("Send meal plan v2")})
		h.cycle()
		if findPTDTask(h.psim.Tasks(pid), "Send meal plan v2") == nil {
			t.Fatal("edit did not reach ptd")
		}
		h.gsim.CompleteTask(gid, tk.ID, true)
		h.cycle()
		if p := findPTDTask(h.psim.Tasks(pid), "Send meal plan v2"); p == nil || !p.Completed {
			t.Fatal("completion did not reach ptd")
		}
		h.gsim.DeleteTask(gid, tk.ID)
		h.cycle()
		if findPTDTask(h.psim.Tasks(pid), "Send meal plan v2") != nil {
			t.Fatal("delete did not reach ptd")
		}
	})
	h.converge(3)
	h.check()
}

// Acceptance 5: notes travel both ways; appointments appear in PTD (as appointments, or as
// notes when the driver has no appointments capability).
func TestNotesAndAppointments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		caps   *ptdwire.Capabilities
		asNote bool
	}{
		{name: "appointments capability"},
		{name: "notes fallback", caps: &ptdwire.Capabilities{Clients: true, Tags: true, Tasks: true, Notes: true, Reminders: true}, asNote: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, hopts{ptdCaps: tc.caps})
			ids, rep := h.seed(4, 1, 0, 0, false)
			h.converge(4)
			m := rep.Matches[0]
			gid, pid := ids[m.Index], m.ClientID
			if _, err := h.gsim.AddNote(gid, ghlwire.NoteInput{Body: strp("Prefers morning sessions")}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.psim.CreateNote(pid, "Knee injury 2023, avoid lunges"); err != nil {
				t.Fatal(err)
			}
			start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
			ap, err := h.gsim.AddAppointment(gid, ghlwire.Appointment{Title: "Assessment", StartTime: start.Format("2006-01-02 15:04:05"),
				EndTime: start.Add(time.Hour).Format("2006-01-02 15:04:05"), Status: "booked"})
			if err != nil {
				t.Fatal(err)
			}
			h.cycle()
			hasNote := func(ns []ptdwire.Note, sub string) bool {
				return slices.ContainsFunc(ns, func(n ptdwire.Note) bool { return strings.Contains(n.Body, sub) })
			}
			if !hasNote(h.psim.Notes(pid), "Prefers morning sessions") {
				t.Error("highlevel note did not reach ptd")
			}
			if !slices.ContainsFunc(h.gsim.Notes(gid), func(n ghlwire.Note) bool { return n.Body == "Knee injury 2023, avoid lunges" }) {
				t.Error("ptd note did not reach highlevel")
			}
			if tc.asNote {
				if !hasNote(h.psim.Notes(pid), "Appointment: Assessment") || len(h.psim.Appointments(pid)) != 0 {
					t.Errorf("appointment not surfaced as a note: notes %+v", h.psim.Notes(pid))
				}
			} else if as := h.psim.Appointments(pid); len(as) != 1 || as[0].ExternalID != ap.ID {
				t.Errorf("appointments in ptd: %+v", as)
			}
			h.converge(3)
			notes := len(h.psim.Notes(pid))
			h.converge(2)
			if n := len(h.psim.Notes(pid)); n != notes {
				t.Errorf("notes grew on idle cycles: %d -> %d", notes, n)
			}
			h.check()
		})
	}
}

// Acceptance 7: routes place new contacts in the right group and package, first match wins;
// an invalid rule is a configuration error with its position.
func TestRouting(t *testing.T) {
	h := newHarness(t, hopts{extra: `
route "vip" {
  when    = contains(tags, "vip")
  group   = "VIP Coaching"
  package = "12-Week Transformation"
  access  = "online"
}
route "nutrition" {
  when    = contains(tags, "nutrition")
  group   = "Nutrition Only"
  package = "Starter"
}
route "newsletter" {
  when   = contains(tags, "newsletter") && !contains(tags, "client")
  access = "print_only"
}
`})
	vip := h.psim.AddGroup("VIP Coaching")
	nut := h.psim.AddGroup("Nutrition Only")
	p12 := h.psim.AddPackage("12-Week Transformation")
	starter := h.psim.AddPackage("Starter")
	mk := func(email string, tags ...string) string {
		c, err := h.gsim.CreateContact(ghlwire.ContactInput{FirstName: strp("R"), LastName: strp(email), Email: strp(email), Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	a := mk("a@route.example", "vip", "nutrition") // first match wins: vip
	b := mk("b@route.example", "nutrition")
	c := mk("c@route.example", "newsletter")
	d := mk("d@route.example", "lead")
	h.converge(4)
	client := func(gid string) ptdwire.Client {
		cl, ok := h.psim.Client(h.linkOf(gid).PTDID)
		if !ok {
			t.Fatalf("no ptd client for %s", gid)
		}
		return cl
	}
	for _, tc := range []struct {
		name         string
		gid          string
		groups, pkgs []string
		access       string
	}{
		{"vip wins over nutrition", a, []string{vip.ID}, []string{p12.ID}, ptdwire.AccessOnline},
		{"nutrition", b, []string{nut.ID}, []string{starter.ID}, ""},
		{"newsletter print only", c, nil, nil, ptdwire.AccessPrintOnly},
		{"no route", d, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := client(tc.gid)
			if !slices.Equal(cl.Groups, append([]string{}, tc.groups...)) || !slices.Equal(cl.Packages, append([]string{}, tc.pkgs...)) {
				t.Errorf("groups %v packages %v, want %v %v", cl.Groups, cl.Packages, tc.groups, tc.pkgs)
			}
			if tc.access != "" && cl.Access != tc.access {
				t.Errorf("access %q, want %q", cl.Access, tc.access)
			}
		})
	}
	t.Run("invalid rule is a positioned config error", func(t *testing.T) {
		_, err := parseConfig(t, strings.ReplaceAll(baseHCL, "SCOPES", `["contacts.readonly"]`)+"\nroute \"bad\" {\n  when = contains(tagz, \"vip\")\n  group = \"x\"\n}\n",
			map[string]string{"GHL_URL": "http://127.0.0.1:1", "LOC": "l", "GHL_TOKEN": "t", "PTD_URL": "http://127.0.0.1:1", "PTD_KEY": "k", "DB": "/tmp/x.db"})
		if err == nil || !regexp.MustCompile(`test\.hcl:\d+:\d+`).MatchString(err.Error()) || !strings.Contains(err.Error(), "tagz") {
			t.Fatalf("error %v, want a test.hcl:line:col diagnostic naming tagz", err)
		}
	})
}

// Acceptance 8: each task due inside the window produces exactly one reminder, across
// restarts; tasks outside the window produce none.
func TestRemindersExactlyOnceAcrossRestarts(t *testing.T) {
	h := newHarness(t, hopts{extra: `
reminders {
  window  = "24h"
  message = "Reminder: {{title}} is due {{due}} ({{first_name}})"
}
`})
	ids, rep := h.seed(3, 1, 0, 0, false)
	m := rep.Matches[0]
	gid := ids[m.Index]
	f := false
	soon := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	later := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	h.gsim.AddTask(gid, ghlwire.TaskInput{Title: strp("Check-in call"), DueDate: &soon, Completed: &f})
	h.gsim.AddTask(gid, ghlwire.TaskInput{Title: strp("Quarterly review"), DueDate: &later, Completed: &f})
	h.converge(4)
	count := func() int {
		n := 0
		for _, r := range h.psim.Reminders() {
			if strings.Contains(r.Message, "Check-in call") {
				n++
			}
			if strings.Contains(r.Message, "Quarterly review") {
				t.Errorf("reminder for a task outside the window: %q", r.Message)
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("reminders after first cycles: %d, want 1", n)
	}
	for range 2 {
		h.restart()
		h.cycle()
	}
	if n := count(); n != 1 {
		t.Fatalf("reminders after restarts: %d, want 1", n)
	}
	if total := len(h.psim.Reminders()); total != 1 {
		t.Fatalf("ptd holds %d reminders, want 1 (the task is linked on both sides)", total)
	}
}

// Acceptance 9: with the Zapier driver, a new HighLevel contact yields exactly one Add Client
// call carrying the mapped fields; a trigger with a wrong secret is rejected.
func TestZapierDriver(t *testing.T) {
	h := newHarness(t, hopts{zapier: true})
	c, err := h.gsim.CreateContact(ghlwire.ContactInput{FirstName: strp("Zoe"), LastName: strp("Zapata"), Email: strp(" Zoe.Zapata@Example.com "), Timezone: strp("Europe/London")})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h.cycle()
	}
	var adds []ptdsim.ZapierCall
	for _, call := range h.zap.Calls() {
		if call.Action.Action == ptdwire.ZapierAddClient && call.Action.Email == "zoe.zapata@example.com" {
			adds = append(adds, call)
		}
	}
	if len(adds) != 1 {
		t.Fatalf("add client calls: %d, want 1", len(adds))
	}
	if a := adds[0].Action; a.FirstName != "Zoe" || a.LastName != "Zapata" || a.Timezone != "Europe/London" {
		t.Errorf("add client fields: %+v", a)
	}
	if l := h.linkOf(c.ID); l.PTDID != "zoe.zapata@example.com" {
		t.Errorf("link ptd id %q", l.PTDID)
	}

	th, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: secret.New("the-right-secret-123"), Handle: h.eng.HandleEvent})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(th)
	defer srv.Close()
	trig := ptdwire.ZapierTrigger{Trigger: ptdwire.TriggerClientAdded, Email: "new.client@example.com", FirstName: "Nia"}
	for _, tc := range []struct {
		name   string
		secret string
		status int
	}{
		{"wrong secret rejected", "not-the-secret-xyz", 401},
		{"right secret accepted", "the-right-secret-123", 202},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ptdsim.SendTrigger(context.Background(), srv.Client(), srv.URL, tc.secret, trig)
			if err != nil || st != tc.status {
				t.Fatalf("status %d (%v), want %d", st, err, tc.status)
			}
		})
	}
	// Zapier retries and delivers out of order: an older trigger must not put older names back.
	late := ptd.Event{Kind: ptd.EventClientAdded, Email: "new.client@example.com", FirstName: "Newer",
		At: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	early := late
	early.FirstName, early.At = "Older", time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, ev := range []ptd.Event{late, early} {
		if err := h.eng.HandleEvent(h.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var mirrored store.PTDClient
	if err := h.db.View(func(tx *store.Tx) (err error) { mirrored, err = tx.GetPTDClient("new.client@example.com"); return err }); err != nil {
		t.Fatal(err)
	}
	if mirrored.FirstName != "Newer" {
		t.Errorf("mirrored first name %q after an older trigger arrived last, want Newer", mirrored.FirstName)
	}
	h.cycle()
	found := false
	for _, g := range h.gsim.Contacts() {
		found = found || strings.EqualFold(g.Email, "new.client@example.com")
	}
	if !found {
		t.Error("the triggered PTD client was not created in HighLevel")
	}
}

// Acceptance 10: with a read-only token, HighLevel receives zero writes while PTD is updated,
// and the engine says so.
func TestReadOnlyTokenWritesOnlyPTD(t *testing.T) {
	h := newHarness(t, hopts{readOnly: true})
	ids, rep := h.seed(20, 0.5, 0, 5, true)
	m := rep.Matches[0]
	h.converge(4)
	h.gsim.UpdateContact(ids[m.Index], ghlwire.ContactInput{FirstName: strp("Readonly")})
	h.psim.EditClient(m.ClientID, ptdwire.ClientInput{LastName: strp("OnlyInPTD")})
	st := h.cycle()
	if !h.eng.ReadOnly(h.ctx) || !st.Plan.ReadOnly {
		t.Error("engine does not report read-only")
	}
	if c := h.gsim.Counters(); c.Writes != 0 || c.RefusedWrites != 0 {
		t.Fatalf("highlevel saw writes: %d applied, %d refused", c.Writes, c.RefusedWrites)
	}
	for _, r := range h.rec.all() {
		if r.method != "GET" && !(r.method == "POST" && r.path == "/contacts/search") {
			t.Errorf("write request sent to highlevel: %s %s", r.method, r.path)
		}
	}
	if p, _ := h.psim.Client(m.ClientID); p.FirstName != "Readonly" {
		t.Errorf("ptd not updated: %q", p.FirstName)
	}
	if h.psim.Stats().Writes == 0 {
		t.Error("ptd received no writes")
	}
	var pendingGHL int
	_ = h.db.View(func(tx *store.Tx) error {
		return tx.ForEachOutbox(func(o *store.OutboxEntry) error {
			if o.Target == store.SideGHL {
				pendingGHL++
			}
			return nil
		})
	})
	if pendingGHL != 0 {
		t.Errorf("%d highlevel writes queued under a read-only token", pendingGHL)
	}
}
