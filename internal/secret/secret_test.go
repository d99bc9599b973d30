package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// holder mimics a client or driver: the secret in an unexported field, reached by fmt only
// through reflection, where Secret's methods cannot run.
type holder struct {
	name  string
	token Secret
	next  *holder
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "s3cr3t-token-value"
	s := FromSource(value, `env("PTSYNC_X")`)
	type exported struct {
		Name  string
		Token Secret
	}
	leaks := func(out string) bool {
		return strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) ||
			strings.Contains(out, fmt.Sprintf("%X", value)) || strings.Contains(out, fmt.Sprintf("%q", value))
	}
	holders := []struct {
		name string
		v    any
	}{
		{"bare", s},
		{"pointer", &s},
		{"exported field", exported{"a", s}},
		{"unexported field", holder{name: "a", token: s}},
		{"pointer to struct with unexported field", &holder{name: "a", token: s}},
		{"nested pointer with unexported field", &holder{name: "a", next: &holder{token: s}}},
		{"pointer to struct", &exported{"a", s}},
		{"slice", []Secret{s}},
		{"map value", map[string]Secret{"k": s}},
		{"map of unexported holders", map[string]holder{"k": {token: s}}},
		{"any field", struct{ v any }{s}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10.3s"}
	for _, h := range holders {
		for _, verb := range verbs {
			t.Run("fmt "+verb+" "+h.name, func(t *testing.T) {
				if out := fmt.Sprintf(verb, h.v); leaks(out) {
					t.Errorf("fmt %s leaked the secret: %s", verb, out)
				}
			})
		}
		t.Run("json "+h.name, func(t *testing.T) {
			b, err := json.Marshal(h.v)
			if err != nil {
				// holders with only unexported fields marshal to {}; an error is fine as long as nothing leaks
				t.Logf("json.Marshal: %v", err)
			}
			if leaks(string(b)) {
				t.Errorf("json leaked the secret: %s", b)
			}
		})
	}

	t.Run("accessors and redacted text", func(t *testing.T) {
		checks := []struct{ name, got, want string }{
			{"String", s.String(), Redacted},
			{"GoString", s.GoString(), Redacted},
			{"Sprint", fmt.Sprint(s), Redacted},
			{"Sprintf %q", fmt.Sprintf("%q", s), Redacted},
			{"json", mustJSON(t, s), `"[redacted]"`},
			{"text", mustText(t, s), Redacted},
			{"error wrapping", fmt.Errorf("cannot x: %v", s).Error(), "cannot x: " + Redacted},
			{"Reveal", s.Reveal(), value},
			{"Source", s.Source(), `env("PTSYNC_X")`},
			{"New Reveal", New(value).Reveal(), value},
			{"New Source", New(value).Source(), ""},
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
			log.Info("token loaded", "token", s, "holder", exported{"a", s}, "ptr", &s, "list", []Secret{s},
				"unexported", &holder{name: "a", token: s})
			log.With("token", s).Warn("derived logger")
			if buf.Len() == 0 {
				t.Fatal("hclog wrote nothing")
			}
			if leaks(buf.String()) {
				t.Errorf("hclog leaked the secret: %s", buf.String())
			}
			if !strings.Contains(buf.String(), Redacted) {
				t.Errorf("hclog output has no placeholder: %s", buf.String())
			}
		})
	}

	t.Run("slog", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("token loaded", "token", s, "holder", &holder{token: s})
		slog.New(slog.NewTextHandler(&buf, nil)).Info("token loaded", "token", s, "holder", &holder{token: s})
		if leaks(buf.String()) || !strings.Contains(buf.String(), Redacted) {
			t.Errorf("slog output: %s", buf.String())
		}
	})
}

func TestSecretZeroAndEmpty(t *testing.T) {
	cases := []struct {
		name       string
		s          Secret
		zero       bool
		reveal     string
		source     string
		printsText string
	}{
		{"zero value", Secret{}, true, "", "", Redacted},
		{"New empty", New(""), true, "", "", Redacted},
		{"FromSource empty value keeps its source", FromSource("", `env("UNSET")`), true, "", `env("UNSET")`, Redacted},
		{"New value", New("abcdef"), false, "abcdef", "", Redacted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.IsZero(); got != c.zero {
				t.Errorf("IsZero = %v, want %v", got, c.zero)
			}
			if got := c.s.Reveal(); got != c.reveal {
				t.Errorf("Reveal = %q, want %q", got, c.reveal)
			}
			if got := c.s.Source(); got != c.source {
				t.Errorf("Source = %q, want %q", got, c.source)
			}
			if got := fmt.Sprintf("%v|%s|%#v", c.s, c.s, c.s); got != c.printsText+"|"+c.printsText+"|"+c.printsText {
				t.Errorf("printed %q, want the placeholder three times", got)
			}
		})
	}
}

func TestSecretEqual(t *testing.T) {
	cases := []struct {
		name string
		a, b Secret
		want bool
	}{
		{"same value, separate constructions", New("token-1"), New("token-1"), true},
		{"same value, different sources", FromSource("token-1", "a"), FromSource("token-1", "b"), true},
		{"different values", New("token-1"), New("token-2"), false},
		{"prefix", New("token"), New("token-1"), false},
		{"zero and New empty", Secret{}, New(""), true},
		{"zero and empty with a source", Secret{}, FromSource("", "env"), true},
		{"zero and value", Secret{}, New("x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.a.Equal(c.b); got != c.want {
				t.Errorf("a.Equal(b) = %v, want %v", got, c.want)
			}
			if got := c.b.Equal(c.a); got != c.want {
				t.Errorf("b.Equal(a) = %v, want %v", got, c.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustText(t *testing.T, s Secret) string {
	t.Helper()
	b, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
