package ingest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
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

// TestSecurityWebhookBodyCap: a validly signed delivery larger than MaxBodyBytes is refused
// with 413 whether or not it announces its length, and nothing is stored: no dirty mark, and
// its webhookId is not remembered (the same event within the cap is then accepted, not
// treated as a duplicate).
func TestSecurityWebhookBodyCap(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	const maxBody = 1024
	h, err := NewWebhookHandler(WebhookOptions{Store: db, PublicKeys: []crypto.PublicKey{key.Public()}, MaxBodyBytes: maxBody,
		LocationID: "loc1", Metrics: metrics.New(prometheus.NewRegistry()), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	event := func(pad int) []byte {
		b, _ := json.Marshal(map[string]any{"type": "ContactUpdate", "locationId": "loc1", "id": "c-big",
			"timestamp": now.Format(time.RFC3339), "webhookId": "w-big", "padding": string(bytes.Repeat([]byte("x"), pad))})
		return b
	}
	post := func(t *testing.T, body []byte, chunked bool) int {
		t.Helper()
		var r io.Reader = bytes.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // hides the length: the client streams it chunked
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, r)
		req.Header.Set(ghlwire.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	dirty := func(t *testing.T) (n int, seen bool) {
		t.Helper()
		if err := db.View(func(tx *store.Tx) error {
			var err error
			if n, err = tx.DirtyCount(); err != nil {
				return err
			}
			seen, err = tx.IsDirty("c-big")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n, seen
	}
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"with Content-Length", false}, {"chunked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(t, event(4*maxBody), tc.chunked); got != http.StatusRequestEntityTooLarge {
				t.Fatalf("oversized signed body answered %d, want 413", got)
			}
			if n, seen := dirty(t); n != 0 || seen {
				t.Fatalf("oversized body stored something: %d dirty, c-big dirty %v", n, seen)
			}
		})
	}
	t.Run("an endless body is not read past the cap", func(t *testing.T) {
		// What the cap protects is memory: a delivery that never ends must be cut off after
		// MaxBodyBytes, not read to the end and measured.
		body := &countingReader{left: 64 << 20}
		req := httptest.NewRequest(http.MethodPost, "/", body)
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge || body.read > maxBody+512 {
			t.Fatalf("answered %d after reading %d bytes of an endless body; want 413 after at most the cap", rec.Code, body.read)
		}
	})
	t.Run("same event within the cap is new", func(t *testing.T) {
		if got := post(t, event(10), false); got != http.StatusOK {
			t.Fatalf("in-cap body answered %d", got)
		}
		if n, seen := dirty(t); n != 1 || !seen {
			t.Fatalf("in-cap event: %d dirty, c-big dirty %v; the refused deliveries left a trace", n, seen)
		}
	})
}

// countingReader yields left bytes of 'x' and counts what was read.
type countingReader struct{ left, read int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.left {
		n = c.left
	}
	for i := range p[:n] {
		p[i] = 'x'
	}
	c.left -= n
	c.read += n
	return int(n), nil
}
