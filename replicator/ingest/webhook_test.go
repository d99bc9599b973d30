package ingest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	rsaKey, otherRSA := testRSAKey(t, 0), testRSAKey(t, 1)
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
	h, err := NewWebhookHandler(WebhookOptions{Store: db, PublicKeys: []crypto.PublicKey{pub, &rsaKey.PublicKey},
		MaxBodyBytes: 2048, LocationID: "loc1", Metrics: m, Now: func() time.Time { return now },
		Dirty: func(id, _ string, contact bool) { nudges = append(nudges, nudge{id, contact}) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Schemes(); !slices.Equal(got, []string{metrics.SchemeEd25519, metrics.SchemeRSA}) {
		t.Errorf("Schemes() = %q, want ed25519 and rsa", got)
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
	ed := func(k ed25519.PrivateKey) func([]byte) http.Header {
		return func(b []byte) http.Header {
			return http.Header{ghlwire.HeaderSignature: {base64.StdEncoding.EncodeToString(ed25519.Sign(k, b))}}
		}
	}
	legacy := func(k *rsa.PrivateKey) func([]byte) http.Header {
		return func(b []byte) http.Header { return http.Header{ghlwire.HeaderLegacySignature: {signRSA(t, k, b)}} }
	}
	tampered := func(sign func([]byte) http.Header) func([]byte) http.Header {
		return func(b []byte) http.Header { return sign(append([]byte(nil), b[:len(b)-1]...)) }
	}
	both := func(b []byte) http.Header {
		hd := ed(otherPriv)(b)
		hd.Set(ghlwire.HeaderLegacySignature, signRSA(t, rsaKey, b))
		return hd
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		sign   func(b []byte) http.Header // nil: Ed25519 with the right key
		status int
		scheme string
		result string
		dirty  string
	}{
		{"contact update accepted", event("ContactUpdate", "c1", "w1", now), nil, 200, metrics.SchemeEd25519, metrics.WebhookAccepted, "c1"},
		{"replayed webhookId ignored", event("ContactUpdate", "c1", "w1", now), nil, 200, metrics.SchemeEd25519, metrics.WebhookDuplicate, ""},
		{"task event marks its contact", event("TaskCreate", "c2", "w2", now.Add(-time.Minute)), nil, 200, metrics.SchemeEd25519, metrics.WebhookAccepted, "c2"},
		{"bad signature", event("ContactUpdate", "c3", "w3", now), ed(otherPriv), 401, metrics.SchemeEd25519, metrics.WebhookBadSignature, ""},
		{"ed25519 tampered body", event("ContactUpdate", "c3", "w3", now), tampered(ed(priv)), 401, metrics.SchemeEd25519, metrics.WebhookBadSignature, ""},
		{"missing signature", event("ContactUpdate", "c3", "w4", now), func([]byte) http.Header { return http.Header{} }, 401, metrics.SchemeNone, metrics.WebhookBadSignature, ""},
		{"stale timestamp", event("ContactUpdate", "c3", "w5", now.Add(-10*time.Minute)), nil, 400, metrics.SchemeEd25519, metrics.WebhookStale, ""},
		{"future timestamp", event("ContactUpdate", "c3", "w6", now.Add(10*time.Minute)), nil, 400, metrics.SchemeEd25519, metrics.WebhookStale, ""},
		{"not json", []byte("hello"), nil, 400, metrics.SchemeEd25519, metrics.WebhookMalformed, ""},
		{"no webhookId", event("ContactUpdate", "c3", "", now), nil, 400, metrics.SchemeEd25519, metrics.WebhookMalformed, ""},
		{"too large", append(event("ContactUpdate", "c3", "w7", now), make([]byte, 4096)...), nil, 413, metrics.SchemeEd25519, metrics.WebhookTooLarge, ""},
		{"other location", []byte(`{"type":"ContactUpdate","locationId":"elsewhere","id":"c9","timestamp":"` + now.Format(time.RFC3339) + `","webhookId":"w8"}`), nil, 200, metrics.SchemeEd25519, metrics.WebhookUnknownEvent, ""},
		{"install event", []byte(`{"type":"INSTALL","locationId":"loc1","timestamp":"` + now.Format(time.RFC3339) + `","webhookId":"w9"}`), nil, 200, metrics.SchemeEd25519, metrics.WebhookUnknownEvent, ""},
		{"rsa x-wh-signature accepted", event("ContactUpdate", "c4", "r1", now), legacy(rsaKey), 200, metrics.SchemeRSA, metrics.WebhookAccepted, "c4"},
		{"rsa replayed webhookId ignored", event("ContactUpdate", "c4", "r1", now), legacy(rsaKey), 200, metrics.SchemeRSA, metrics.WebhookDuplicate, ""},
		{"rsa replay of an ed25519 delivery ignored", event("ContactUpdate", "c1", "w1", now), legacy(rsaKey), 200, metrics.SchemeRSA, metrics.WebhookDuplicate, ""},
		{"rsa wrong key", event("ContactUpdate", "c5", "r2", now), legacy(otherRSA), 401, metrics.SchemeRSA, metrics.WebhookBadSignature, ""},
		{"rsa tampered body", event("ContactUpdate", "c5", "r3", now), tampered(legacy(rsaKey)), 401, metrics.SchemeRSA, metrics.WebhookBadSignature, ""},
		{"rsa stale timestamp", event("ContactUpdate", "c5", "r4", now.Add(-10*time.Minute)), legacy(rsaKey), 400, metrics.SchemeRSA, metrics.WebhookStale, ""},
		{"both headers, only rsa verifies", event("ContactUpdate", "c6", "r5", now), both, 200, metrics.SchemeRSA, metrics.WebhookAccepted, "c6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(mustCounter(t, reg, tc.scheme, tc.result))
			sign := ed(priv)
			if tc.sign != nil {
				sign = tc.sign
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(tc.body)))
			for k, v := range sign(tc.body) {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if after := testutil.ToFloat64(mustCounter(t, reg, tc.scheme, tc.result)); after != before+1 {
				t.Errorf("ptsync_webhooks_total{scheme=%q,result=%q} went %v -> %v", tc.scheme, tc.result, before, after)
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
	want := []nudge{{"c1", true}, {"c2", false}, {"c4", true}, {"c6", true}}
	if !slices.Equal(nudges, want) {
		t.Errorf("nudges = %+v, want %+v", nudges, want)
	}
}

// TestWebhookEd25519OnlyRefusesRSA: with only an Ed25519 key (the configuration before the RSA
// scheme existed), an RSA-signed delivery is refused with 401 and counted under scheme rsa, so
// the operator sees which key is missing.
func TestWebhookEd25519OnlyRefusesRSA(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	h, err := NewWebhookHandler(WebhookOptions{Store: db, PublicKeys: []crypto.PublicKey{pub}, Metrics: metrics.New(reg)})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"ContactUpdate","id":"c1","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","webhookId":"x1"}`)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/ghl", strings.NewReader(string(body)))
	req.Header.Set(ghlwire.HeaderLegacySignature, signRSA(t, testRSAKey(t, 0), body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, metrics.SchemeRSA, metrics.WebhookBadSignature)); got != 1 {
		t.Fatalf("ptsync_webhooks_total{scheme=rsa,result=bad_signature} = %v, want 1", got)
	}
	if _, err := NewWebhookHandler(WebhookOptions{Store: db, PublicKeys: []crypto.PublicKey{"not a key"}}); err == nil {
		t.Fatal("a string accepted as a webhook key")
	}
}

// testRSAKey returns one of two RSA-2048 keys generated once per test binary (key generation
// is the slow part of these tests).
func testRSAKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeysOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

var (
	rsaKeysOnce sync.Once
	rsaKeys     [2]*rsa.PrivateKey
)

// signRSA signs body as HighLevel's WebhookAuthentication.md describes for x-wh-signature:
// RSA PKCS#1 v1.5 over the SHA-256 of the raw body, base64.
func signRSA(t *testing.T, k *rsa.PrivateKey, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// mustCounter returns the webhook counter child for scheme and result (zero if absent).
func mustCounter(t *testing.T, reg *prometheus.Registry, scheme, result string) prometheus.Collector {
	t.Helper()
	return counterView{reg: reg, scheme: scheme, result: result}
}

// counterView is a Collector exposing the one ptsync_webhooks_total{source="ghl",scheme,result}
// series.
type counterView struct {
	reg            *prometheus.Registry
	scheme, result string
}

func (c counterView) Describe(chan<- *prometheus.Desc) {}
func (c counterView) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := c.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ptsync_webhooks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var src, sch, res string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "source":
					src = l.GetValue()
				case "scheme":
					sch = l.GetValue()
				case "result":
					res = l.GetValue()
				}
			}
			if src == metrics.UpstreamGHL && sch == c.scheme && res == c.result {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
				return
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, 0)
}
