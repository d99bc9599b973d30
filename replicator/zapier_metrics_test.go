package replicator

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/metrics/promtest"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
)

// TestZapierDriverCountsInTheSharedFamilies: with the zapier driver, the service's POSTs to
// the catch hooks land in ptsync_api_requests_total{upstream="ptd"} under "zapier-<action>"
// operations, beside HighLevel's, with the hooks' operations declared at start.
func TestZapierDriverCountsInTheSharedFamilies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ghlSim := ghlsim.New(ghlsim.Options{Seed: 5, LocationID: "zap-location"})
	ghlURL, err := ghlSim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ghlSim.Close() })
	ghlSim.SeedPeople(gen.NewAt(5, time.Now()).People(12))
	zap := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: ptdsim.New(ptdsim.Options{})})
	hooks := httptest.NewServer(zap.Handler())
	t.Cleanup(hooks.Close)
	dir := t.TempDir()
	vars := map[string]string{"GHL_URL": ghlURL, "GHL_PIT": ghlSim.IssuePIT("contacts.readonly", "contacts.write"),
		"ZAP_ADD": ptdsim.HookURL(hooks.URL, ptdwire.ZapierAddClient), "ZAP_PRINT": ptdsim.HookURL(hooks.URL, ptdwire.ZapierPrintOnly),
		"STORE": filepath.Join(dir, "zap.db")}
	src := `ghl {
  base_url      = env("GHL_URL")
  location_id   = "zap-location"
  private_token = env("GHL_PIT")
  scopes        = ["contacts.readonly", "contacts.write"]
}
ptd {
  driver = "zapier"
  zapier {
    add_client = env("ZAP_ADD")
    print_only = env("ZAP_PRINT")
  }
}
store { path = env("STORE") }
metrics { listen = "127.0.0.1:0" }
admin { listen = "127.0.0.1:0" }
`
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "zap.hcl"), config.Env{
		LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	s := runService(t, ctx, Options{Config: cfg})
	atStart := promtest.ScrapeFamilies(t, s.MetricsAddr())
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{config.JobReconcile, config.JobPush} {
		if err := s.RunJob(ctx, job); err != nil {
			t.Fatalf("%s: %v", job, err)
		}
	}
	afterSync := promtest.ScrapeFamilies(t, s.MetricsAddr())
	promtest.LogRequests(t, afterSync["ptsync_api_requests_total"])
	if n := len(zap.Calls()); n == 0 {
		t.Fatal("the sync posted nothing to the catch hooks")
	}
	var zapier float64
	for _, m := range afterSync["ptsync_api_requests_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["upstream"] == "ptd" && l["operation"] == "zapier-add-client" && l["code"] == "200" {
			zapier = m.GetCounter().GetValue()
		}
	}
	if want := float64(len(zap.Calls())); zapier != want {
		t.Errorf(`ptsync_api_requests_total{upstream="ptd",operation="zapier-add-client",code="200"} = %v, want the %v posts the hooks received`, zapier, want)
	}
	want := map[string]bool{"{operation=zapier-add-client,upstream=ptd}": true, "{operation=zapier-print-only,upstream=ptd}": true}
	for key := range want {
		if !promtest.SeriesKeys(atStart["ptsync_api_throttled_total"])[key] {
			t.Errorf("ptsync_api_throttled_total%s not declared at start", key)
		}
	}
}
