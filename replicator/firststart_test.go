package replicator

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"ptsync/config"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// TestFirstStartLinksByEmailAndPhone is a first start of the real service against both
// simulators, with PT Distinction failing every request until the reconcile job has run
// twice: the reconcile jobs run before any PT Distinction listing is in the mirror. None of
// them may plan a PTD create (the person may be on a page not read yet): once PTD answers,
// every seeded pair is linked the way it matches, by email or by phone, and no PTD client is
// created for a contact PTD already had.
func TestFirstStartLinksByEmailAndPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	gsim := ghlsim.New(ghlsim.Options{Seed: 7, LocationID: "first-start"})
	gurl, err := gsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gsim.Close() })
	people := gen.New(7).People(30)
	for i := range people {
		people[i].Tasks, people[i].Notes, people[i].Appointments = nil, nil, nil
	}
	ids := gsim.SeedPeople(people)
	psim := ptdsim.New(ptdsim.Options{Seed: 7})
	rep, err := psim.Seed(ptdsim.SeedOptions{People: people, Overlap: 0.6, PhoneOnly: 0.3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]int{}
	for _, m := range rep.Matches {
		byKind[m.Kind]++
	}
	if byKind[ptdsim.MatchEmail] == 0 || byKind[ptdsim.MatchPhoneOnly] == 0 {
		t.Fatalf("seed matches %v: need both kinds for the test to prove anything", byKind)
	}
	psrv, err := psim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = psrv.Close(context.Background()) })

	s := firstStartService(t, gurl, gsim, psrv.URL, psim.APIKey())
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	psim.SetFaults(ptdsim.Faults{ErrorRate: 1, ErrorStatus: 503})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	for range 2 {
		since = waitJobOK(ctx, t, s, config.JobReconcile, since)
	}
	if j := jobStatus(t, s, config.JobPTD); j.LastOK.After(time.Time{}) {
		t.Fatalf("the ptd job succeeded while PT Distinction was failing: %+v", j)
	}
	psim.SetFaults(ptdsim.Faults{})

	want := map[string]string{ptdsim.MatchEmail: outbox.MatchedByEmail, ptdsim.MatchPhoneOnly: outbox.MatchedByPhone}
	var wrong []string
	for deadline := time.Now().Add(60 * time.Second); ; {
		wrong = wrong[:0]
		err := s.db.View(func(tx *store.Tx) error {
			for _, m := range rep.Matches {
				l, err := tx.LinkByPTD(store.KindContact, m.ClientID)
				if err != nil || l.GHLID != ids[m.Index] || l.MatchedBy != want[m.Kind] {
					g, _ := tx.LinkByGHL(store.KindContact, ids[m.Index])
					wrong = append(wrong, m.Kind+" "+m.ClientID+": link "+l.ID+" by "+l.MatchedBy+
						", contact "+ids[m.Index]+" linked to "+g.PTDID+" by "+g.MatchedBy)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, w := range wrong {
		t.Errorf("seeded pair not linked as it matches: %s", w)
	}
	// Once the listing is in, the contacts PTD lacks are created there, each once.
	var created, unlinked int
	for deadline := time.Now().Add(60 * time.Second); ; {
		created, unlinked = 0, 0
		if err := s.db.View(func(tx *store.Tx) error {
			return tx.ForEachGHLContact(func(c *store.GHLContact) error {
				l, err := tx.LinkByGHL(store.KindContact, c.ID)
				switch {
				case c.Email == "":
				case err != nil || l.PTDID == "":
					unlinked++
				case l.MatchedBy == outbox.MatchedByCreate:
					created++
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if unlinked == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if unlinked > 0 || created == 0 {
		t.Errorf("%d contacts with an email still unlinked, %d created in PTD: creates never resumed", unlinked, created)
	}
	if n := len(psim.Clients()); n != rep.Clients+created {
		t.Errorf("PTD holds %d clients, want the %d seeded and the %d created", n, rep.Clients, created)
	}
	t.Logf("%d pairs linked as seeded (%d by email, %d by phone only); PTD holds %d clients: %d seeded, %d created",
		len(rep.Matches)-len(wrong), byKind[ptdsim.MatchEmail], byKind[ptdsim.MatchPhoneOnly], len(psim.Clients()), rep.Clients, created)
}

// firstStartService builds the production service (rest driver) on a fresh mirror, with the
// reconcile, ptd and push jobs every second and the rest far apart.
func firstStartService(t *testing.T, gurl string, gsim *ghlsim.Server, purl, ptdKey string) *Service {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"GHL_URL": gurl, "GHL_PIT": gsim.IssuePIT("contacts.readonly", "contacts.write"),
		"PTD_URL": purl, "PTD_KEY": ptdKey, "STORE": filepath.Join(dir, "first.db")}
	src := `ghl {
  base_url      = env("GHL_URL")
  location_id   = "first-start"
  private_token = env("GHL_PIT")
}
ptd {
  driver = "rest"
  rest {
    base_url = env("PTD_URL")
    api_key  = env("PTD_KEY")
    timeout  = "2s"
  }
}
store { path = env("STORE") }
schedule "contacts" { cron = "@every 1h" }
schedule "sweep" { cron = "@every 1h" }
schedule "children" { cron = "@every 1h" }
schedule "ptd_sweep" { cron = "@every 1h" }
schedule "ptd" { cron = "@every 1s" }
schedule "reconcile" { cron = "@every 1s" }
schedule "push" { cron = "@every 1s" }
pusher {
  backoff_base = "10ms"
  backoff_max  = "100ms"
}
metrics { listen = "127.0.0.1:0" }
`
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "first.hcl"), config.Env{
		LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	noWatchdog := time.Duration(0)
	s, err := New(Options{Config: cfg, Notify: func(string) error { return nil }, WatchdogInterval: &noWatchdog})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jobStatus(t *testing.T, s *Service, name string) JobStatus {
	t.Helper()
	j := s.jobs[name]
	if j == nil {
		t.Fatalf("no job %s", name)
	}
	return j.status()
}

// waitJobOK waits for a run of job that started after since and succeeded; it returns the
// start of that run.
func waitJobOK(ctx context.Context, t *testing.T, s *Service, name string, since time.Time) time.Time {
	t.Helper()
	for {
		if j := jobStatus(t, s, name); j.LastOK.After(since) {
			return j.LastOK
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s never succeeded after %s: %+v", name, since.Format(time.RFC3339Nano), jobStatus(t, s, name))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
