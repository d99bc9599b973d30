package demo

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// WebhookSigner plays HighLevel's side of webhook delivery for the demo and tests: it holds an
// Ed25519 key pair (HighLevel's marketplace key in production) and posts signed events; with
// WithRSA it also signs the legacy x-wh-signature as WebhookAuthentication.md describes.
type WebhookSigner struct {
	Public  ed25519.PublicKey
	private ed25519.PrivateKey
	// RSAPublic verifies SignRSA's signatures; nil until WithRSA.
	RSAPublic  *rsa.PublicKey
	rsaPrivate *rsa.PrivateKey
}

// NewWebhookSigner generates a fresh key pair.
func NewWebhookSigner() WebhookSigner {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("cannot generate ed25519 key: %v", err)) // crypto/rand never fails on Linux
	}
	return WebhookSigner{Public: pub, private: priv}
}

// WithRSA returns s with a fresh RSA key pair of bits (HighLevel's is 4096; tests use 2048,
// which generates faster).
func (s WebhookSigner) WithRSA(bits int) WebhookSigner {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(fmt.Sprintf("cannot generate rsa key: %v", err)) // only for a bits value rsa refuses
	}
	s.RSAPublic, s.rsaPrivate = &k.PublicKey, k
	return s
}

// SignRSA returns the x-wh-signature value for body: RSA PKCS#1 v1.5 over the SHA-256 of the raw
// body, base64. It panics without WithRSA.
func (s WebhookSigner) SignRSA(body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.rsaPrivate, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("cannot sign with rsa: %v", err))
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// PostRSA sends body to url with an x-wh-signature (sig overrides it when non-empty) and no
// x-ghl-signature, and returns the status code.
func (s WebhookSigner) PostRSA(url string, body []byte, sig string) (int, error) {
	if sig == "" {
		sig = s.SignRSA(body)
	}
	return post(url, body, ghlwire.HeaderLegacySignature, sig)
}

// Sign returns the x-ghl-signature value for body.
func (s WebhookSigner) Sign(body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.private, body))
}

// Event builds a webhook body of type for contactID with the envelope fields set.
func WebhookEvent(typ, locationID, contactID, webhookID string, at time.Time) []byte {
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
	return post(url, body, ghlwire.HeaderSignature, sig)
}

func post(url string, body []byte, header, sig string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, sig)
	// A client of its own with a timeout: a receiver that stops answering fails the post
	// instead of hanging the demo or the test that sent it.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot post webhook: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
