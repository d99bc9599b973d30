package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"ptsync/internal/secret"
)

// TestSecretNeverPrintsInConfig checks the configuration's own holders; the Secret type itself
// is tested in internal/secret.
func TestSecretNeverPrintsInConfig(t *testing.T) {
	const value = "s3cr3t-token-value"
	s := secret.FromSource(value, `env("PTSYNC_X")`)
	holders := []struct {
		name string
		v    any
	}{
		{"config with secret", &Config{GHL: GHL{PrivateToken: s}}},
		{"zapier hook pointers", PTD{Settings: &PTDZapier{AddClient: s}}},
		{"oauth", &GHL{OAuth: &OAuth{ClientSecret: s}}},
	}
	for _, h := range holders {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			t.Run("fmt "+verb+" "+h.name, func(t *testing.T) {
				if out := fmt.Sprintf(verb, h.v); strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
					t.Errorf("fmt %s leaked the secret: %s", verb, out)
				}
			})
		}
		t.Run("json "+h.name, func(t *testing.T) {
			b, err := json.Marshal(h.v)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if strings.Contains(string(b), value) {
				t.Errorf("json leaked the secret: %s", b)
			}
		})
	}
}
