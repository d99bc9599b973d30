package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptd"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/remote"
	"ptsync/store"
)

// childWorld is one synced contact (link "C": HighLevel "g", PTD "p") whose tasks and notes
// exercise every branch of the child planner.
func childWorld() *snapshot {
	due := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	s := &snapshot{byGHL: map[string]*store.Link{}, byPTD: map[string]*store.Link{}, children: map[string][]*store.Link{},
		bases: map[string]*store.Base{}, quar: map[string]store.QuarantineEntry{}, pending: map[string]bool{},
		kids: map[string][]store.ChildRecord{}}
	kids := func(kind, side, parent string, rs ...store.ChildRecord) { s.kids[kidsKey(kind, side, parent)] = rs }
	link := func(parent, kind, id, gid, pid string) {
		l := &store.Link{ID: id, Kind: kind, GHLID: gid, PTDID: pid, ParentLinkID: parent}
		s.links = append(s.links, l)
		if gid != "" {
			s.byGHL[kind+"/"+gid] = l
		}
		if pid != "" {
			s.byPTD[kind+"/"+pid] = l
		}
		if parent != "" {
			s.children[parent] = append(s.children[parent], l)
		}
	}
	gt := func(id, title string) store.ChildRecord {
		return &store.GHLTask{ID: id, ContactID: "g", Title: title, DueDate: due}
	}
	pt := func(id, title string) store.ChildRecord {
		return &store.PTDTask{ID: id, ClientID: "p", Title: title, DueAt: due}
	}
	kids(store.KindTask, store.SideGHL, "g", gt("gCall", "Call"), gt("gZeta", "zeta"), gt("gWalk", "Walk"),
		gt("gRun", "Run"), gt("gSame", "Same"), gt("gPend", "Pend"), gt("gKeep", "Keep"), gt("gNew", "New"),
		&store.GHLTask{ID: "gLate", ContactID: "g", Title: "Call", DueDate: due.Add(time.Hour)})
	kids(store.KindTask, store.SidePTD, "p", pt("pZeta1", "Zeta"), pt("pCall", "  call "), pt("pAlpha", "Alpha"),
		pt("pRun", "Run"), pt("pWalk", "Walk"), pt("pZeta2", "Zeta"), pt("pSame", "Same"), pt("pPend", "Pend edited"),
		pt("pGone", "Gone"), pt("pBeta", "Beta"))
	link("", store.KindContact, "C", "g", "p")
	link("C", store.KindTask, "Lwalk", "", "pWalk") // create in HighLevel in flight: gWalk is what it made
	link("C", store.KindTask, "Lrun", "gRun", "")   // create in PTD in flight: pRun is what it made
	link("C", store.KindTask, "Lsame", "gSame", "pSame")
	link("C", store.KindTask, "Lpend", "gPend", "pPend")
	link("C", store.KindTask, "Lgone", "gGone", "pGone") // deleted in HighLevel
	link("C", store.KindTask, "Lkeep", "gKeep", "pKept") // deleted in PTD
	s.pending[store.KindTask+"/Lpend"] = true
	s.quar[qk(store.KindTask, store.SideGHL, "gGone")] = store.QuarantineEntry{}
	s.quar[qk(store.KindTask, store.SidePTD, "pKept")] = store.QuarantineEntry{}

	gn := func(id, body string) store.ChildRecord { return &store.GHLNote{ID: id, ContactID: "g", Body: body} }
	pn := func(id, body string) store.ChildRecord { return &store.PTDNote{ID: id, ClientID: "p", Body: body} }
	kids(store.KindNote, store.SideGHL, "g", gn("nHello", "hello  there"), gn("nBlank", "  "), gn("nFresh", "fresh"),
		gn("nBlank2", "\t"), gn("nEcho", "echo"))
	kids(store.KindNote, store.SidePTD, "p", pn("qAppt", "Appointment: a"), pn("qEmpty", ""), pn("qOther", "Appointment: b"),
		pn("qHello", "hello there"), pn("qFrom", "from ptd"), pn("qEcho", "echo"))
	link("C", store.KindAppointment, "Lappt", "ap1", "qAppt") // an appointment surfaced as this note
	link("X", store.KindAppointment, "Lother", "ap2", "qOther")
	link("C", store.KindNote, "Lecho", "", "qEcho") // create in HighLevel in flight: nEcho is what it made
	return s
}

// TestChildPlanKeepsItsRules pins the planned child actions, in order, for tasks and notes:
// matching by key, in-flight creates, quarantined deletes, appointments taking PTD notes,
// blank notes, read-only and a missing HighLevel client or capability.
func TestChildPlanKeepsItsRules(t *testing.T) {
	tasksLinked := []string{
		"task gSame/pSame",
		"task gGone/pGone ptd:task.delete",
		"task gKeep/pKept ghl:task.delete",
	}
	tasksMatched := []string{
		"task gCall/pCall new match ptd:task.update", // keys ignore case and spacing
		"task gZeta/pZeta1 new match ptd:task.update",
		"task gNew/ new created ptd:task.create",
		"task gLate/ new created ptd:task.create", // same title, another due time
	}
	tasksToGHL := []string{ // in PTD listing order, after the matches
		"task /pAlpha new created ghl:task.create",
		"task /pZeta2 new created ghl:task.create",
		"task /pBeta new created ghl:task.create",
	}
	notesToPTD := []string{
		"note nHello/qHello new match ptd:note.update",
		"note nBlank/qEmpty new match ptd:note.update", // a blank note still matches
		"note nFresh/ new created ptd:note.create",
	}
	notesToGHL := []string{"note /qFrom new created ghl:note.create"}
	join := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	all := ptd.NewCapabilities(ptd.CapTasks, ptd.CapNotes)
	cases := []struct {
		name  string
		caps  ptd.Capabilities
		ro    bool
		noGHL bool
		want  []string
	}{
		{name: "everything", caps: all, want: join(tasksLinked, tasksMatched, tasksToGHL, notesToPTD, notesToGHL)},
		{name: "read-only", caps: all, ro: true, want: join(tasksLinked[:2], tasksMatched, notesToPTD)},
		{name: "no HighLevel client", caps: all, noGHL: true, want: join(tasksLinked, tasksMatched, notesToPTD)},
		{name: "no task capability", caps: ptd.NewCapabilities(ptd.CapNotes), want: join(notesToPTD, notesToGHL)},
		{name: "no note capability", caps: ptd.NewCapabilities(ptd.CapTasks), want: join(tasksLinked, tasksMatched, tasksToGHL)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sys := remote.Offline(tc.caps, false, hclog.NewNullLogger(), nil)
			if tc.noGHL {
				sys.GHL = nil
			}
			pl := New(Options{Remote: sys, Mapping: &mapping.Mapping{}, Kinds: kinds.DefaultChildKinds(), Logger: hclog.NewNullLogger()})
			s := childWorld()
			p := &pass{Planner: pl, s: s, ro: tc.ro, claimed: map[string]bool{}}
			p.children(&action{link: s.links[0]}, "g", "p")
			var got []string
			for _, a := range p.acts {
				d := a.link.Kind + " " + a.link.GHLID + "/" + a.link.PTDID
				if a.newLink {
					d += " new " + a.link.MatchedBy
				}
				for _, en := range a.entries {
					d += " " + en.Target + ":" + en.Op
				}
				got = append(got, d)
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("planned:\n%s\nwant:\n%s", g, w)
			}
		})
	}
}
