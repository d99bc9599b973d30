package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ptsync/apiclient/ghlwire"
	"ptsync/metrics/promtest"
	"ptsync/replicator"
	"ptsync/store"
	"ptsync/store/query"
)

func startDemo(t *testing.T, o Options) *Demo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if o.DBPath == "" {
		o.DBPath = filepath.Join(t.TempDir(), "demo.db")
	}
	d, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestWebhookRefreshesContactAtDemoSpeed is acceptance 4: at demo speed (100 requests per half
// a second), a signed ContactUpdate gets the contact refreshed within 2 s even though search lags
// far behind; a bad signature gets 401; a replayed webhookId is ignored and counted.
func TestWebhookRefreshesContactAtDemoSpeed(t *testing.T) {
	d := startDemo(t, Options{Contacts: 60, Seed: 11, Webhooks: true})
	d.GHL.SetSearchLag(time.Hour) // only the webhook path can see the edit
	id := d.GHL.Contacts()[5].ID
	city := "Webhookville"
	if _, err := d.GHL.UpdateContact(id, ghlwire.ContactInput{City: &city}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + d.Service.WebhookAddr() + "/webhooks/ghl"
	body := WebhookEvent("ContactUpdate", d.GHL.LocationID(), id, "wh-1", time.Now())
	if code, err := d.WebhookKey.Post(url, body, "AAAA"+d.WebhookKey.Sign(body)[4:]); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("bad signature: status %d, err %v; want 401", code, err)
	}
	start := time.Now()
	if code, err := d.WebhookKey.Post(url, body, ""); err != nil || code != http.StatusOK {
		t.Fatalf("signed webhook: status %d, err %v", code, err)
	}
	deadline := start.Add(2 * time.Second)
	for {
		var raw string
		_ = d.Service.Store().View(func(tx *store.Tx) error {
			c, err := tx.GetGHLContact(id)
			raw = string(c.Raw)
			return err
		})
		if strings.Contains(raw, city) {
			t.Logf("contact refreshed %s after the webhook", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("contact not refreshed within 2s of a signed ContactUpdate")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, err := d.WebhookKey.Post(url, body, ""); err != nil || code != http.StatusOK {
		t.Fatalf("replay: status %d, err %v; want 200 (ignored)", code, err)
	}
	metricsBody := scrape(t, "http://"+d.Service.MetricsAddr()+"/metrics")
	for _, want := range []string{
		`ptsync_webhooks_total{result="duplicate",scheme="ed25519",source="ghl"} 1`,
		`ptsync_webhooks_total{result="bad_signature",scheme="ed25519",source="ghl"} 1`,
		`ptsync_webhooks_total{result="accepted",scheme="ed25519",source="ghl"} 1`,
	} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestWebhookRSAThroughTheService: with an RSA key beside the Ed25519 one (the changeover), a
// delivery signed as HighLevel's WebhookAuthentication.md describes (x-wh-signature, RSA
// PKCS#1 v1.5 over SHA-256 of the raw body) is accepted and applied (the contact is re-read); one
// signed with another RSA key or with its body altered gets 401; its replay is ignored; the
// Ed25519 path works as before. Each outcome is counted under its scheme.
func TestWebhookRSAThroughTheService(t *testing.T) {
	d := startDemo(t, Options{Contacts: 30, Seed: 23, Webhooks: true, WebhookRSA: true})
	d.GHL.SetSearchLag(time.Hour) // only the webhook path can see the edit
	url := "http://" + d.Service.WebhookAddr() + "/webhooks/ghl"
	stranger := NewWebhookSigner().WithRSA(2048)
	id := d.GHL.Contacts()[3].ID
	city := "Legacyville"
	if _, err := d.GHL.UpdateContact(id, ghlwire.ContactInput{City: &city}); err != nil {
		t.Fatal(err)
	}
	body := WebhookEvent("ContactUpdate", d.GHL.LocationID(), id, "rsa-1", time.Now())
	tampered := []byte(strings.Replace(string(body), id, d.GHL.Contacts()[4].ID, 1))
	for _, tc := range []struct {
		name string
		post func() (int, error)
		want int
	}{
		{"another rsa key", func() (int, error) { return d.WebhookKey.PostRSA(url, body, stranger.SignRSA(body)) }, http.StatusUnauthorized},
		{"tampered body", func() (int, error) { return d.WebhookKey.PostRSA(url, tampered, d.WebhookKey.SignRSA(body)) }, http.StatusUnauthorized},
		{"right rsa key", func() (int, error) { return d.WebhookKey.PostRSA(url, body, "") }, http.StatusOK},
	} {
		if code, err := tc.post(); err != nil || code != tc.want {
			t.Fatalf("%s: status %d, err %v; want %d", tc.name, code, err, tc.want)
		}
	}
	waitForCity(t, d, id, city)
	if code, err := d.WebhookKey.PostRSA(url, body, ""); err != nil || code != http.StatusOK {
		t.Fatalf("replay: status %d, err %v; want 200 (ignored)", code, err)
	}
	edBody := WebhookEvent("ContactUpdate", d.GHL.LocationID(), id, "ed-1", time.Now())
	if code, err := d.WebhookKey.Post(url, edBody, ""); err != nil || code != http.StatusOK {
		t.Fatalf("ed25519 delivery: status %d, err %v; want 200", code, err)
	}
	metricsBody := scrape(t, "http://"+d.Service.MetricsAddr()+"/metrics")
	for _, want := range []string{
		`ptsync_webhooks_total{result="accepted",scheme="rsa",source="ghl"} 1`,
		`ptsync_webhooks_total{result="bad_signature",scheme="rsa",source="ghl"} 2`,
		`ptsync_webhooks_total{result="duplicate",scheme="rsa",source="ghl"} 1`,
		`ptsync_webhooks_total{result="accepted",scheme="ed25519",source="ghl"} 1`,
	} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// waitForCity waits (up to 30 s, a generous bound on a loaded machine; not a timing claim) for
// the mirror's copy of contact id to carry city.
func waitForCity(t *testing.T, d *Demo, id, city string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var raw string
		_ = d.Service.Store().View(func(tx *store.Tx) error {
			c, err := tx.GetGHLContact(id)
			raw = string(c.Raw)
			return err
		})
		if strings.Contains(raw, city) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("contact %s not re-read after an accepted webhook", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMetricsAfterSync is acceptance 5 (lint half) plus the wiring: after a sync the registry
// passes testutil's lint and carries the job, API, rate-limit, mirror and backfill series.
func TestMetricsAfterSync(t *testing.T) {
	d := startDemo(t, Options{Contacts: 40, Seed: 12, BurstInterval: 200 * time.Millisecond, IngestOnly: true})
	if err := d.Service.RunJob(context.Background(), "contacts"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(d.opts.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	body := scrape(t, "http://"+d.Service.MetricsAddr()+"/metrics")
	for _, want := range []string{
		`ptsync_sync_runs_total{result="success",sync_job="backfill"} 1`,
		`ptsync_sync_runs_total{result="success",sync_job="contacts"} 1`,
		`ptsync_sync_last_success_timestamp_seconds{sync_job="contacts"}`,
		`ptsync_api_requests_total{code="200",operation="search-contacts-advanced",upstream="ghl"}`,
		`ptsync_ghl_ratelimit_remaining{location="demo-location",window="burst"}`,
		`ptsync_mirror_records{kind="ghl.contacts"} 40`,
		`ptsync_backfill_contacts_done 40`,
		`ptsync_children_refreshes_total{kind="tasks",reason="dirty"} 40`,
		`ptsync_sync_schedule_interval_seconds{sync_job="contacts"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	resp, err := http.Get("http://" + d.Service.MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz after sync = %d", resp.StatusCode)
	}
}

// TestPrometheusScrapesService is acceptance 5 (real Prometheus half): a real Prometheus
// scrapes the running service and a ptsync series is read back through its HTTP API. Skipped
// when the prometheus binary is absent.
func TestPrometheusScrapesService(t *testing.T) {
	d := startDemo(t, Options{Contacts: 20, Seed: 13, BurstInterval: 200 * time.Millisecond, IngestOnly: true})
	p := promtest.Start(t, promtest.Options{Targets: []string{d.Service.MetricsAddr()}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	samples, err := p.WaitFor(ctx, `ptsync_mirror_records{kind="ghl.contacts"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 1 || samples[0].Value != 20 {
		t.Errorf("prometheus read %+v, want one sample of 20", samples)
	}
}

// TestAdminEndpointServesQueries: while the service holds the mirror, the admin file next to
// it leads `ptsync query`'s client to the service.
func TestAdminEndpointServesQueries(t *testing.T) {
	d := startDemo(t, Options{Contacts: 15, Seed: 14, BurstInterval: 200 * time.Millisecond})
	info, err := store.ReadAdminAddr(d.opts.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(info) == "" || strings.Contains(fmt.Sprint(info), info.Token) {
		t.Errorf("admin info prints its token: %v", info)
	}
	c := query.NewClient(info, 5*time.Second)
	res, err := c.Check(context.Background())
	if err != nil {
		t.Fatalf("admin check through the service: %v", err)
	}
	t.Logf("admin check: %+v", res)
}

// TestShutdownMidBackfillLosesNothing: stopping the service in the middle of the backfill
// leaves a consistent mirror, and the next start resumes and completes it (the result equals
// the simulator's snapshot).
func TestShutdownMidBackfillLosesNothing(t *testing.T) {
	ctx := context.Background()
	d, err := Start(ctx, Options{Contacts: 200, Seed: 15, BurstInterval: time.Second, IngestOnly: true,
		DBPath: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	fetched := func() int {
		n := 0
		_ = d.Service.Store().View(func(tx *store.Tx) error {
			return tx.ForEachGHLContact(func(c *store.GHLContact) error {
				if !c.ChildrenFetchedAt.IsZero() {
					n++
				}
				return nil
			})
		})
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for fetched() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("backfill made no progress")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.cancel()
	<-d.runDone
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.Service.Close(cctx); err != nil {
		t.Fatalf("close mid-backfill: %v", err)
	}
	db, err := store.Open(d.opts.DBPath, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Errorf("mirror after stopping mid-backfill: %v", err)
	}
	db.Close()

	svc, err := replicator.New(replicator.Options{Config: d.Config, IngestOnly: true, Registry: prometheus.NewRegistry(), Notify: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	d.Service, d.cancel, d.runDone = svc, stop, make(chan struct{})
	go func() { d.runErr = svc.Run(runCtx); close(d.runDone) }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := svc.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d.Service, d.cancel = nil, nil
	compareMirror(t, d.opts.DBPath, d)
}
