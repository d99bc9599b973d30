package config

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// minRSABits refuses RSA keys too short to trust; HighLevel's published key has 4096 bits.
const minRSABits = 2048

// WebhookKey is one public key HighLevel signs its webhooks with. Its type decides the header
// it verifies: an Ed25519 key checks x-ghl-signature (what HighLevel sends since 2026-07-01), an
// RSA key checks the legacy x-wh-signature (RSA PKCS#1 v1.5 over SHA-256 of the raw body).
type WebhookKey struct {
	// Key is an ed25519.PublicKey or an *rsa.PublicKey.
	Key crypto.PublicKey
}

// Scheme is "ed25519" or "rsa" (the scheme label of ptsync_webhooks_total).
func (k WebhookKey) Scheme() string {
	if _, ok := k.Key.(*rsa.PublicKey); ok {
		return "rsa"
	}
	return "ed25519"
}

// Header is the request header the key verifies.
func (k WebhookKey) Header() string {
	if k.Scheme() == "rsa" {
		return "x-wh-signature"
	}
	return "x-ghl-signature"
}

// String names the key without printing it: its kind (with the RSA size) and the SHA-256
// fingerprint of its PKIX encoding, e.g. "rsa-4096 SHA256:3q2+7w...". Public keys are not
// secret; the fingerprint only keeps log lines short.
func (k WebhookKey) String() string {
	kind := "ed25519"
	if r, ok := k.Key.(*rsa.PublicKey); ok {
		kind = fmt.Sprintf("rsa-%d", r.N.BitLen())
	}
	der, err := x509.MarshalPKIXPublicKey(k.Key)
	if err != nil {
		return kind + " (unencodable)"
	}
	sum := sha256.Sum256(der)
	return kind + " SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// MarshalText renders String, so a configuration dump names the keys.
func (k WebhookKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// webhookKeys reads ghl_public_key: one key, or a list of keys so that an Ed25519 and an RSA
// key (or an old and a new key) can be trusted at once during a changeover. Each key may be a
// literal or come from env(), file() or credential(); a bad entry is reported at its own
// position.
func (d *decoder) webhookKeys(attrs hcl.Attributes, name string, dst *[]WebhookKey) {
	attr, ok := attrs[name]
	if !ok {
		return
	}
	exprs := []hcl.Expression{attr.Expr}
	if tup, isList := attr.Expr.(*hclsyntax.TupleConsExpr); isList {
		if len(tup.Exprs) == 0 {
			d.errorAt(attr.Expr.Range(), "Invalid "+name, "%s must name at least one key; remove it to refuse HighLevel webhooks", name)
			return
		}
		exprs = exprs[:0]
		for _, e := range tup.Exprs {
			exprs = append(exprs, e)
		}
	}
	var keys []WebhookKey
	seen := map[string]hcl.Range{}
	for _, expr := range exprs {
		s, ok := d.stringExpr(expr, name)
		if !ok {
			continue
		}
		key, err := parseWebhookKey(s)
		if err != nil {
			d.errorAt(expr.Range(), "Invalid public key", "%s: %v", name, err)
			continue
		}
		id := key.String()
		if first, dup := seen[id]; dup {
			d.errorAt(expr.Range(), "Duplicate public key", "%s lists the key %s twice (first at line %d)", name, id, first.Start.Line)
			continue
		}
		seen[id] = expr.Range()
		keys = append(keys, key)
	}
	*dst = keys
}

// stringExpr evaluates one expression of attribute name to a string, resolving a whole-value
// env(), file() or credential() call.
func (d *decoder) stringExpr(expr hcl.Expression, name string) (string, bool) {
	v, ok := d.evalExpr(expr, name)
	if !ok || v.IsNull() {
		return "", false
	}
	cv, err := convert.Convert(v, cty.String)
	if err != nil {
		d.errorAt(expr.Range(), "Incorrect value type", "%s must be a string or a list of strings: %s", name, err)
		return "", false
	}
	return cv.AsString(), true
}

// parseWebhookKey reads an Ed25519 or RSA public key: PEM ("PUBLIC KEY", i.e. PKIX, or
// "RSA PUBLIC KEY", i.e. PKCS#1), the base64 of either DER encoding, or an Ed25519 key as its
// 32 raw bytes in base64 or hex.
func parseWebhookKey(s string) (WebhookKey, error) {
	s = strings.TrimSpace(s)
	if block, rest := pem.Decode([]byte(s)); block != nil {
		if len(bytes.TrimSpace(rest)) > 0 {
			return WebhookKey{}, errors.New("one PEM block per key; list several keys as [key1, key2]")
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return WebhookKey{}, fmt.Errorf("cannot parse PEM public key: %w", err)
			}
			return checkWebhookKey(k)
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return WebhookKey{}, fmt.Errorf("cannot parse PEM RSA public key: %w", err)
			}
			return checkWebhookKey(k)
		}
		return WebhookKey{}, fmt.Errorf("PEM block %q is not a public key (want PUBLIC KEY or RSA PUBLIC KEY)", block.Type)
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return WebhookKey{Key: ed25519.PublicKey(b)}, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) == ed25519.PublicKeySize {
			return WebhookKey{Key: ed25519.PublicKey(b)}, nil
		}
		if k, err := x509.ParsePKIXPublicKey(b); err == nil {
			return checkWebhookKey(k)
		}
		if k, err := x509.ParsePKCS1PublicKey(b); err == nil {
			return checkWebhookKey(k)
		}
	}
	return WebhookKey{}, errors.New("not an Ed25519 or RSA public key: expected PEM, the base64 of its DER encoding, or an Ed25519 key's 32 raw bytes in base64 or hex")
}

// checkWebhookKey accepts an Ed25519 key or an RSA key of at least minRSABits.
func checkWebhookKey(k any) (WebhookKey, error) {
	switch pk := k.(type) {
	case ed25519.PublicKey:
		return WebhookKey{Key: pk}, nil
	case *rsa.PublicKey:
		if n := pk.N.BitLen(); n < minRSABits {
			return WebhookKey{}, fmt.Errorf("RSA key has %d bits; at least %d are required", n, minRSABits)
		}
		return WebhookKey{Key: pk}, nil
	}
	return WebhookKey{}, fmt.Errorf("PEM key is a %T; HighLevel signs with Ed25519 (x-ghl-signature) or RSA (x-wh-signature)", k)
}
