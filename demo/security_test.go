package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/config"
	"ptsync/internal/secrettest"
	"ptsync/store"
)

// TestSecurityServiceRunLoopKeepsSecretsOut runs the real service (demo wiring: both
// simulators on loopback, webhooks on) with a Trace-level logger through backfill, two-way
// convergence, every job once more, refused and accepted webhooks, a metrics scrape and
// shutdown, then checks that the HighLevel token, the PTD API key and the admin token appear
// in no log line (checked again at the end, after the test has learnt the generated values),
// no metric label and no /metrics body.
func TestSecurityServiceRunLoopKeepsSecretsOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sink := secrettest.NewSink(t)
	reg := prometheus.NewRegistry()
	db := filepath.Join(t.TempDir(), "sec.db")
	d, err := Start(ctx, Options{Contacts: 60, Seed: 9, DBPath: db, BurstInterval: 100 * time.Millisecond,
		Webhooks: true, Logger: sink.Logger(), Registry: reg, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = d.Close(context.Background())
		}
	}()
	cfg := d.Config
	secrets := []string{cfg.GHL.PrivateToken.Reveal()}
	if cfg.PTD.REST() != nil {
		secrets = append(secrets, cfg.PTD.REST().APIKey.Reveal())
	}
	info, err := store.ReadAdminAddr(db)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, info.Token)
	sink.Register(secrets...)
	if len(sink.Secrets()) < 3 {
		t.Fatalf("only %d secrets to watch; the test proves nothing", len(sink.Secrets()))
	}

	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, job := range config.JobNames() {
		if err := d.Service.RunJob(ctx, job); err != nil {
			sink.Logger().Error("job failed", "job", job, "error", err)
		}
	}
	url := "http://" + d.Service.WebhookAddr() + "/webhooks/ghl"
	ids := d.GHL.Contacts()
	body := WebhookEvent("ContactUpdate", cfg.GHL.LocationID, ids[0].ID, "sec-w1", time.Now())
	for _, sig := range []string{"", "bm90IGEgc2lnbmF0dXJl", d.WebhookKey.Sign(body)} {
		if _, err := d.WebhookKey.Post(url, body, sig); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get("http://" + d.Service.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(scrape, []byte("ptsync_")) {
		t.Fatalf("scrape has no ptsync series: %.200s", scrape)
	}
	sink.Check("/metrics body", string(scrape))
	n := secrettest.CheckRegistry(t, reg, secrets...)
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	if sink.Lines() == 0 || n == 0 {
		t.Fatalf("nothing checked: %d log lines, %d label values", sink.Lines(), n)
	}
	t.Logf("%d log lines, %d metric label values, %d-byte scrape clean of %d secrets", sink.Lines(), n, len(scrape), len(secrets))
}
