package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "s3cr3t-token-value"
	s := NewSecret(value, `env("PTSYNC_X")`)
	type exported struct {
		Name  string
		Token Secret
	}
	type unexported struct {
		name  string
		token Secret
	}
	holders := map[string]any{
		"bare":                 s,
		"pointer":              &s,
		"exported field":       exported{"a", s},
		"unexported field":     unexported{"a", s},
		"pointer to struct":    &exported{"a", s},
		"slice":                []Secret{s},
		"map":                  map[string]Secret{"k": s},
		"config with secret":   &Config{GHL: GHL{PrivateToken: s}},
		"zapier hook pointers": PTD{Zapier: &PTDZapier{AddClient: s}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"}
	for hname, h := range holders {
		for _, verb := range verbs {
			t.Run("fmt "+verb+" "+hname, func(t *testing.T) {
				if out := fmt.Sprintf(verb, h); strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
					t.Errorf("fmt %s leaked the secret: %s", verb, out)
				}
			})
		}
		t.Run("json "+hname, func(t *testing.T) {
			b, err := json.Marshal(h)
			if err != nil {
				// unexported holders marshal to {}; a marshal error is fine as long as nothing leaks
				t.Logf("json.Marshal: %v", err)
			}
			if strings.Contains(string(b), value) {
				t.Errorf("json leaked the secret: %s", b)
			}
		})
	}

	t.Run("redacted text", func(t *testing.T) {
		checks := []struct{ name, got, want string }{
			{"String", s.String(), "[redacted]"},
			{"GoString", s.GoString(), "[redacted]"},
			{"Sprint", fmt.Sprint(s), "[redacted]"},
			{"json", mustJSON(t, s), `"[redacted]"`},
			{"Reveal", s.Reveal(), value},
			{"Source", s.Source(), `env("PTSYNC_X")`},
			{"zero Reveal", Secret{}.Reveal(), ""},
			{"zero String", Secret{}.String(), "[redacted]"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
	})

	for _, format := range []struct {
		name string
		json bool
	}{{"hclog text", false}, {"hclog json", true}} {
		t.Run(format.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: format.json, Level: hclog.Trace})
			log.Info("token loaded", "token", s, "holder", exported{"a", s}, "ptr", &s, "list", []Secret{s})
			log.With("token", s).Warn("derived logger")
			if buf.Len() == 0 {
				t.Fatal("hclog wrote nothing")
			}
			if strings.Contains(buf.String(), value) {
				t.Errorf("hclog leaked the secret: %s", buf.String())
			}
			if !strings.Contains(buf.String(), "[redacted]") {
				t.Errorf("hclog output has no placeholder: %s", buf.String())
			}
		})
	}

	t.Run("slog", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("token loaded", "token", s)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("token loaded", "token", s)
		if strings.Contains(buf.String(), value) || !strings.Contains(buf.String(), "[redacted]") {
			t.Errorf("slog output: %s", buf.String())
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
