package ingest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/apiclient/ghlwire"
	"ptsync/metrics"
	"ptsync/store"
)

// Signature modes of FuzzWebhook: how the fuzzed delivery is signed.
const (
	sigAsGiven  = iota // the fuzzer's string, verbatim
	sigValid           // signed with HighLevel's key: the only mode that may pass
	sigTampered        // signed, then one byte of the body changed
	sigOtherKey        // a valid signature by a different key
	sigModes
)

// FuzzWebhook posts arbitrary bodies and signatures to the HighLevel webhook handler.
// Properties: no panic; the answer is one of the documented statuses; a delivery that is not
// validly signed by HighLevel's key never gets past verification (401, or 413 for an oversized
// body, which is refused before anything is parsed) and never marks a contact dirty; a dirty
// mark appears only for a validly signed delivery answered 200.
func FuzzWebhook(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := now.Format(time.RFC3339Nano)
	for _, body := range []string{
		`{"type":"ContactUpdate","locationId":"loc1","id":"c1","timestamp":"` + ts + `","webhookId":"w1"}`,
		`{"type":"ContactCreate","locationId":"loc1","id":"c2","timestamp":"2026-03-01T11:58:00Z","webhookId":"w2"}`,
		`{"type":"TaskCreate","locationId":"loc1","contactId":"c3","timestamp":"` + ts + `","webhookId":"w3"}`,
		`{"type":"AppointmentCreate","locationId":"loc1","appointment":{"id":"a1","contactId":"c4"},"timestamp":"` + ts + `","webhookId":"w4"}`,
		`{"type":"ContactDelete","locationId":"elsewhere","id":"c5","timestamp":"` + ts + `","webhookId":"w5"}`,
		`{"type":"ContactUpdate","locationId":"loc1","id":"c6","timestamp":"2026-03-01 12:00:00","webhookId":"w6"}`,
		`{"type":"ContactUpdate","locationId":"loc1","id":"c7","timestamp":"2020-01-01T00:00:00Z","webhookId":"w7"}`,
		`{"type":"INSTALL","locationId":"loc1","timestamp":"` + ts + `","webhookId":"w8"}`,
		`{"type":"ContactUpdate","id":"c9"}`,
		`not json`, ``, `{}`, `[]`,
	} {
		for mode := range uint8(sigModes) {
			f.Add([]byte(body), "", mode, uint16(0))
		}
	}
	f.Add([]byte(`{"type":"ContactUpdate"}`), "AAAA", uint8(sigAsGiven), uint16(0))
	f.Add([]byte(`{}`), base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)), uint8(sigAsGiven), uint16(0))

	db, err := store.Open(filepath.Join(f.TempDir(), "m.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	const maxBody = 4096
	var marked []string
	h, err := NewWebhookHandler(WebhookOptions{Store: db, PublicKeys: []crypto.PublicKey{key.Public()}, MaxBodyBytes: maxBody,
		LocationID: "loc1", Metrics: metrics.New(prometheus.NewRegistry()), Now: func() time.Time { return now },
		Dirty: func(id, _ string, _ bool) { marked = append(marked, id) }})
	if err != nil {
		f.Fatal(err)
	}
	dirtyCount := func(t *testing.T) int {
		var n int
		if err := db.View(func(tx *store.Tx) error { n, err = tx.DirtyCount(); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}

	f.Fuzz(func(t *testing.T, body []byte, sig string, mode uint8, flip uint16) {
		mode %= sigModes
		sent := body
		switch mode {
		case sigValid:
			sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
		case sigTampered:
			sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
			sent = append([]byte(nil), body...)
			if len(sent) == 0 {
				sent = []byte{'x'}
			} else {
				sent[int(flip)%len(sent)] ^= byte(1 + (flip>>8)%255)
			}
		case sigOtherKey:
			sig = base64.StdEncoding.EncodeToString(ed25519.Sign(other, body))
		}
		before, nMarked := dirtyCount(t), len(marked)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/ghl", bytes.NewReader(sent))
		req.Header.Set(ghlwire.HeaderSignature, sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after := dirtyCount(t)

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("undocumented status %d: %s", rec.Code, rec.Body)
		}
		if len(sent) > maxBody {
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body (cap %d) answered %d", len(sent), maxBody, rec.Code)
			}
		} else if mode != sigValid && rec.Code != http.StatusUnauthorized {
			t.Fatalf("delivery not validly signed (mode %d) passed verification: %d %s", mode, rec.Code, rec.Body)
		}
		if after < before {
			t.Fatalf("dirty marks dropped from %d to %d", before, after)
		}
		if (after > before || len(marked) > nMarked) && (mode != sigValid || rec.Code != http.StatusOK) {
			t.Fatalf("a contact was marked dirty by a delivery answered %d in mode %d", rec.Code, mode)
		}
	})
}
