package replicator

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/metrics/promtest"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// memorySettings is the memory driver's block, as package config would decode it.
type memorySettings struct{ Label string }

func (*memorySettings) DriverName() string { return "memory" }

// memoryPTD is a PT Distinction driver that lives in this file only: it keeps created
// clients in memory, can create clients and nothing else, and receives PTD's events as
// JSON posts. It is the proof that a driver plugs into the service through ptd.Registry
// alone.
type memoryPTD struct {
	ptd.Unsupported
	obs ptd.Observer

	mu       sync.Mutex
	opened   *memorySettings
	received int
	created  map[string]ptdwire.ClientInput
}

func (m *memoryPTD) driver() ptd.Driver {
	return ptd.Driver{
		Name: "memory",
		Open: func(_ context.Context, cfg config.PTD, deps ptd.Deps) (ptd.Adapter, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.opened, m.obs = cfg.Settings.(*memorySettings), deps.Observer
			return m, nil
		},
		Declared: func(config.PTD) ptd.Capabilities { return m.Capabilities() },
		Receive: func(_ config.PTD, in ptd.Inbound) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var ev ptd.Event
				if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				m.mu.Lock()
				m.received++
				m.mu.Unlock()
				if err := in.Handle(r.Context(), ev); err != nil {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}), nil
		},
	}
}

func (m *memoryPTD) Capabilities() ptd.Capabilities { return ptd.NewCapabilities(ptd.CapClientCreate) }

func (m *memoryPTD) Operations() []string { return []string{"memory-create-client"} }

func (m *memoryPTD) CreateClient(_ context.Context, in ptdwire.ClientInput) (ptdwire.Client, error) {
	m.obs.ObserveRequest("memory-create-client", http.StatusOK, 0)
	email := ptd.NormalizeEmail(*in.Email)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.created[email] = in
	return ptdwire.Client{ID: email, Email: email}, nil
}

// TestAServiceOnADriverItDoesNotKnow: a driver registered through ptd.Registry.With, and
// named by the configuration, is built by Service.Open with its own block, described (its
// operation labels declared at start), and used: the two-way jobs create HighLevel's
// contacts through it, and the events it receives reach the mirror.
func TestAServiceOnADriverItDoesNotKnow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ghlSim := ghlsim.New(ghlsim.Options{Seed: 6, LocationID: "mem-location"})
	ghlURL, err := ghlSim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ghlSim.Close() })
	ghlSim.SeedPeople(gen.NewAt(6, time.Now()).People(10))
	dir := t.TempDir()
	vars := map[string]string{"GHL_URL": ghlURL, "GHL_PIT": ghlSim.IssuePIT("contacts.readonly", "contacts.write"),
		"STORE": filepath.Join(dir, "mem.db")}
	// The file names a driver config knows; the test then swaps in its own, as a parsed
	// block of a driver config does not know would look.
	src := `ghl {
  base_url      = env("GHL_URL")
  location_id   = "mem-location"
  private_token = env("GHL_PIT")
  scopes        = ["contacts.readonly", "contacts.write"]
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:1"
    api_key  = env("GHL_PIT")
  }
}
store { path = env("STORE") }
webhooks { listen = "127.0.0.1:0" }
metrics { listen = "127.0.0.1:0" }
admin { listen = "127.0.0.1:0" }
`
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "mem.hcl"), config.Env{
		LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	settings := &memorySettings{Label: "from the file"}
	cfg.PTD = config.PTD{Driver: "memory", Settings: settings}
	mem := &memoryPTD{created: map[string]ptdwire.ClientInput{}}
	s := runService(t, ctx, Options{Config: cfg, PTDDrivers: ptd.Drivers().With(mem.driver())})
	if mem.opened != settings {
		t.Fatalf("the driver was opened with %+v, want the configuration's block %+v", mem.opened, settings)
	}
	if key := "{operation=memory-create-client,upstream=ptd}"; !promtest.SeriesKeys(promtest.ScrapeFamilies(t, s.MetricsAddr())["ptsync_api_throttled_total"])[key] {
		t.Errorf("ptsync_api_throttled_total%s not declared at start", key)
	}
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{config.JobReconcile, config.JobPush} {
		if err := s.RunJob(ctx, job); err != nil {
			t.Fatalf("%s: %v", job, err)
		}
	}
	withEmail := map[string]bool{}
	for _, c := range ghlSim.Contacts() {
		if c.Email != "" {
			withEmail[ptd.NormalizeEmail(c.Email)] = true
		}
	}
	mem.mu.Lock()
	created := len(mem.created)
	for email := range mem.created {
		if !withEmail[email] {
			t.Errorf("created %s, which is no HighLevel contact", email)
		}
	}
	mem.mu.Unlock()
	if created == 0 || created != len(withEmail) {
		t.Errorf("the driver created %d clients, HighLevel holds %d contacts with an email", created, len(withEmail))
	}

	body, _ := json.Marshal(ptd.Event{Kind: ptd.EventClientAdded, Email: "walk.in@example.com", FirstName: "Wally"})
	resp, err := http.Post("http://"+s.WebhookAddr()+"/webhooks/ptd", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || mem.received != 1 {
		t.Fatalf("/webhooks/ptd answered %d after %d deliveries, want 202 after 1", resp.StatusCode, mem.received)
	}
	var got store.PTDClient
	if err := s.Store().View(func(tx *store.Tx) (err error) { got, err = tx.GetPTDClient("walk.in@example.com"); return err }); err != nil {
		t.Fatalf("the received event did not reach the mirror: %v", err)
	}
	if !strings.EqualFold(got.FirstName, "Wally") {
		t.Errorf("mirrored first name %q, want Wally", got.FirstName)
	}
}
