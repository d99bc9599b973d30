package ingest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ptsync/apiclient/ghlwire"
	"ptsync/metrics"
	"ptsync/store"
)

func TestWebhookHandler(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	type nudge struct {
		id      string
		contact bool
	}
	var nudges []nudge
	h, err := NewWebhookHandler(WebhookOptions{Store: db, PublicKey: pub, MaxBodyBytes: 2048, LocationID: "loc1",
		Metrics: m, Now: func() time.Time { return now },
		Dirty: func(id, _ string, contact bool) { nudges = append(nudges, nudge{id, contact}) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	event := func(typ, id, whID string, at time.Time) []byte {
		ev := ghlwire.WebhookEvent{Type: typ, LocationID: "loc1", Timestamp: at.Format(time.RFC3339Nano), WebhookID: whID}
		if strings.HasPrefix(typ, "Contact") {
			ev.ID = id
		} else {
			ev.ContactID = id
		}
		b, _ := json.Marshal(ev)
		return b
	}
	sign := func(k ed25519.PrivateKey, b []byte) string {
		return base64.StdEncoding.EncodeToString(ed25519.Sign(k, b))
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		sig    func(b []byte) string
		status int
		result string
		dirty  string
	}{
		{"contact update accepted", event("ContactUpdate", "c1", "w1", now), nil, 200, metrics.WebhookAccepted, "c1"},
		{"replayed webhookId ignored", event("ContactUpdate", "c1", "w1", now), nil, 200, metrics.WebhookDuplicate, ""},
		{"task event marks its contact", event("TaskCreate", "c2", "w2", now.Add(-time.Minute)), nil, 200, metrics.WebhookAccepted, "c2"},
		{"bad signature", event("ContactUpdate", "c3", "w3", now), func(b []byte) string { return sign(otherPriv, b) }, 401, metrics.WebhookBadSignature, ""},
		{"missing signature", event("ContactUpdate", "c3", "w4", now), func([]byte) string { return "" }, 401, metrics.WebhookBadSignature, ""},
		{"stale timestamp", event("ContactUpdate", "c3", "w5", now.Add(-10*time.Minute)), nil, 400, metrics.WebhookStale, ""},
		{"future timestamp", event("ContactUpdate", "c3", "w6", now.Add(10*time.Minute)), nil, 400, metrics.WebhookStale, ""},
		{"not json", []byte("hello"), nil, 400, metrics.WebhookMalformed, ""},
		{"no webhookId", event("ContactUpdate", "c3", "", now), nil, 400, metrics.WebhookMalformed, ""},
		{"too large", append(event("ContactUpdate", "c3", "w7", now), make([]byte, 4096)...), nil, 413, metrics.WebhookTooLarge, ""},
		{"other location", []byte(`{"type":"ContactUpdate","locationId":"elsewhere","id":"c9","timestamp":"` + now.Format(time.RFC3339) + `","webhookId":"w8"}`), nil, 200, metrics.WebhookUnknownEvent, ""},
		{"install event", []byte(`{"type":"INSTALL","locationId":"loc1","timestamp":"` + now.Format(time.RFC3339) + `","webhookId":"w9"}`), nil, 200, metrics.WebhookUnknownEvent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(mustCounter(t, reg, tc.result))
			sig := sign(priv, tc.body)
			if tc.sig != nil {
				sig = tc.sig(tc.body)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(tc.body)))
			req.Header.Set(ghlwire.HeaderSignature, sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if after := testutil.ToFloat64(mustCounter(t, reg, tc.result)); after != before+1 {
				t.Errorf("ptsync_webhooks_total{result=%q} went %v -> %v", tc.result, before, after)
			}
			if tc.dirty != "" {
				var dirty bool
				_ = db.View(func(tx *store.Tx) error { dirty, _ = tx.IsDirty(tc.dirty); return nil })
				if !dirty {
					t.Errorf("contact %s not marked dirty", tc.dirty)
				}
			}
		})
	}
	if len(nudges) != 2 || nudges[0] != (nudge{"c1", true}) || nudges[1] != (nudge{"c2", false}) {
		t.Errorf("nudges = %+v, want c1 (contact) then c2 (children only)", nudges)
	}
	if n, _ := testutil.GatherAndCount(reg, "ptsync_webhooks_total"); n == 0 {
		t.Error("no webhook series")
	}
}

// mustCounter returns the webhook counter child for result (created at zero if new).
func mustCounter(t *testing.T, reg *prometheus.Registry, result string) prometheus.Collector {
	t.Helper()
	return counterView{reg: reg, result: result}
}

// counterView is a Collector exposing the one ptsync_webhooks_total{source="ghl",result} series.
type counterView struct {
	reg    *prometheus.Registry
	result string
}

func (c counterView) Describe(chan<- *prometheus.Desc) {}
func (c counterView) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := c.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ptsync_webhooks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var src, res string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "source":
					src = l.GetValue()
				case "result":
					res = l.GetValue()
				}
			}
			if src == metrics.UpstreamGHL && res == c.result {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
				return
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, 0)
}
