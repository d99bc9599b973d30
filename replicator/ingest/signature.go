package ingest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"ptsync/apiclient/ghlwire"
	"ptsync/metrics"
)

// webhookVerifier checks HighLevel's webhook signatures. HighLevel has signed with two
// schemes: x-ghl-signature (Ed25519, the only one it sends since 2026-07-01) and the legacy
// x-wh-signature (RSA PKCS#1 v1.5 over SHA-256), each verified against the raw body with the
// keys of its kind. Several keys of a kind are allowed (a rotation); a delivery passes when one
// of them verifies. It is immutable and safe for concurrent use.
type webhookVerifier struct {
	ed  []ed25519.PublicKey
	rsa []*rsa.PublicKey
}

// newWebhookVerifier sorts keys by kind; a key of any other kind is an error.
func newWebhookVerifier(keys []crypto.PublicKey) (webhookVerifier, error) {
	var v webhookVerifier
	for _, k := range keys {
		switch pk := k.(type) {
		case ed25519.PublicKey:
			if len(pk) != ed25519.PublicKeySize {
				return v, fmt.Errorf("cannot use webhook key: Ed25519 key has %d bytes, want %d", len(pk), ed25519.PublicKeySize)
			}
			v.ed = append(v.ed, pk)
		case *rsa.PublicKey:
			v.rsa = append(v.rsa, pk)
		default:
			return v, fmt.Errorf("cannot use webhook key: a %T verifies neither x-ghl-signature nor x-wh-signature", k)
		}
	}
	return v, nil
}

// Schemes lists the signature schemes the configured keys verify (metrics.Scheme*).
func (v webhookVerifier) Schemes() []string {
	var out []string
	if len(v.ed) > 0 {
		out = append(out, metrics.SchemeEd25519)
	}
	if len(v.rsa) > 0 {
		out = append(out, metrics.SchemeRSA)
	}
	return out
}

// claimedScheme is the scheme a delivery's headers announce, before anything is verified:
// x-ghl-signature first, then x-wh-signature, else SchemeNone.
func claimedScheme(h http.Header) string {
	switch {
	case h.Get(ghlwire.HeaderSignature) != "":
		return metrics.SchemeEd25519
	case h.Get(ghlwire.HeaderLegacySignature) != "":
		return metrics.SchemeRSA
	}
	return metrics.SchemeNone
}

// verify checks body against every signature header that has keys of its kind, Ed25519 first.
// It returns the scheme that verified, or on failure the first scheme it tried (the claimed
// one when no header had a key), for the scheme label.
func (v webhookVerifier) verify(h http.Header, body []byte) (scheme string, ok bool) {
	tried := ""
	if sig := h.Get(ghlwire.HeaderSignature); sig != "" && len(v.ed) > 0 {
		if v.verifyEd25519(sig, body) {
			return metrics.SchemeEd25519, true
		}
		tried = metrics.SchemeEd25519
	}
	if sig := h.Get(ghlwire.HeaderLegacySignature); sig != "" && len(v.rsa) > 0 {
		if v.verifyRSA(sig, body) {
			return metrics.SchemeRSA, true
		}
		if tried == "" {
			tried = metrics.SchemeRSA
		}
	}
	if tried == "" {
		tried = claimedScheme(h)
	}
	return tried, false
}

func (v webhookVerifier) verifyEd25519(header string, body []byte) bool {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	for _, k := range v.ed {
		if ed25519.Verify(k, body, sig) {
			return true
		}
	}
	return false
}

func (v webhookVerifier) verifyRSA(header string, body []byte) bool {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	digest := sha256.Sum256(body)
	for _, k := range v.rsa {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil {
			return true
		}
	}
	return false
}
