package replicator

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// WebhookSigner plays HighLevel's side of webhook delivery for the demo and tests: it holds an
// Ed25519 key pair (HighLevel's marketplace key in production) and posts signed events.
type WebhookSigner struct {
	Public  ed25519.PublicKey
	private ed25519.PrivateKey
}

// NewWebhookSigner generates a fresh key pair.
func NewWebhookSigner() WebhookSigner {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("cannot generate ed25519 key: %v", err)) // crypto/rand never fails on Linux
	}
	return WebhookSigner{Public: pub, private: priv}
}

// Sign returns the x-ghl-signature value for body.
func (s WebhookSigner) Sign(body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.private, body))
}

// Event builds a webhook body of type for contactID with the envelope fields set.
func Event(typ, locationID, contactID, webhookID string, at time.Time) []byte {
	ev := ghlwire.WebhookEvent{Type: typ, LocationID: locationID, Timestamp: at.UTC().Format(time.RFC3339Nano), WebhookID: webhookID}
	if strings.HasPrefix(typ, "Contact") {
		ev.ID = contactID
	} else {
		ev.ContactID = contactID
	}
	b, _ := json.Marshal(ev)
	return b
}

// Post sends body to url signed with s (sig overrides the signature when non-empty) and
// returns the status code.
func (s WebhookSigner) Post(url string, body []byte, sig string) (int, error) {
	if sig == "" {
		sig = s.Sign(body)
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ghlwire.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot post webhook: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
