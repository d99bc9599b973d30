package config

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ptsync/internal/secrettest"
)

// testSecrets are every secret value testEnv can hand to Parse.
var testSecrets = []string{
	"pit-secret-value", "ptd-secret-value", "client-secret-value", "trigger-secret-value",
	"https://hooks.zapier.example/hooks/catch/1/add", "https://hooks.zapier.example/hooks/catch/1/group",
	"https://hooks.zapier.example/hooks/catch/1/package", "https://hooks.zapier.example/hooks/catch/1/print",
	"https://hooks.zapier.example/hooks/catch/1/remind",
	"pit-from-credential", "client-secret-from-credential", "ptd-key-from-credential", "ptd-key-from-file",
	"zap-hook-not-a-url-secret", "literal-secret-in-the-file",
}

// secretEnv is testEnv plus a hook variable holding a non-URL secret.
func secretEnv(t *testing.T) Env {
	env := testEnv(t, nil)
	base := env.LookupEnv
	env.LookupEnv = func(name string) (string, bool) {
		if name == "PTSYNC_BAD_HOOK" {
			return "zap-hook-not-a-url-secret", true
		}
		return base(name)
	}
	return env
}

// TestSecurityConfigSecretsNeverPrint parses configurations holding every kind of secret the
// file can reference (OAuth client secret, PIT, PTD API key, Zapier hook URLs, trigger
// secret), then prints the result every way a caller might: hclog text and JSON, fmt verbs,
// encoding/json. None may show a secret value.
func TestSecurityConfigSecretsNeverPrint(t *testing.T) {
	for _, name := range []string{"oauth_credentials.hcl", "zapier_routes.hcl", "minimal.hcl"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "good", name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(src, path, secretEnv(t))
			if err != nil {
				t.Fatal(err)
			}
			sink := secrettest.NewSink(t, testSecrets...)
			held := 0
			for _, s := range []Secret{cfg.GHL.PrivateToken, oauthSecret(cfg), restKey(cfg), zapHook(cfg), zapTrigger(cfg)} {
				if !s.IsZero() {
					held++
					sink.Check("Secret.Source", s.Source())
				}
			}
			if held == 0 {
				t.Fatal("the fixture holds no secret; the test proves nothing")
			}
			for _, log := range []interface{ Info(string, ...any) }{sink.Logger(), sink.JSONLogger()} {
				log.Info("configuration loaded", "config", cfg, "ghl", cfg.GHL, "ptd", cfg.PTD, "oauth", cfg.GHL.OAuth,
					"zapier", cfg.PTD.Zapier(), "rest", cfg.PTD.REST())
			}
			sink.Check("fmt", fmt.Sprintf("%v %+v %#v %+v %#v %v", cfg, cfg, cfg, cfg.PTD, cfg.GHL, *cfg))
			if b, err := json.Marshal(cfg); err == nil {
				sink.Check("JSON", string(b))
			} else {
				sink.Check("JSON error", err.Error())
			}
			if sink.Lines() < 2 {
				t.Fatalf("only %d log lines checked", sink.Lines())
			}
		})
	}
}

func oauthSecret(c *Config) Secret {
	if c.GHL.OAuth == nil {
		return Secret{}
	}
	return c.GHL.OAuth.ClientSecret
}
func restKey(c *Config) Secret {
	if c.PTD.REST() == nil {
		return Secret{}
	}
	return c.PTD.REST().APIKey
}
func zapHook(c *Config) Secret {
	if c.PTD.Zapier() == nil {
		return Secret{}
	}
	return c.PTD.Zapier().AddClient
}
func zapTrigger(c *Config) Secret {
	if c.PTD.Zapier() == nil {
		return Secret{}
	}
	return c.PTD.Zapier().TriggerSecret
}

// TestSecurityConfigErrorsNeverEchoSecrets: diagnostics about secret attributes say what is
// wrong without the value, whether it came from the environment or sat literally in the file.
func TestSecurityConfigErrorsNeverEchoSecrets(t *testing.T) {
	head := "ghl {\n  location_id = \"loc1\"\n  private_token = env(\"PTSYNC_GHL_PIT\")\n}\n"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"hook that is not a URL", head + `ptd {
  driver = "zapier"
  zapier { add_client = env("PTSYNC_BAD_HOOK") }
}
`, "Invalid hook URL"},
		{"literal secret", "ghl {\n  location_id = \"loc1\"\n  private_token = \"literal-secret-in-the-file\"\n}\nptd {\n  driver = \"rest\"\n  rest {\n    base_url = \"http://127.0.0.1:1\"\n    api_key = \"literal-secret-in-the-file\"\n  }\n}\n", "Literal secret"},
		{"trigger secret without webhooks", head + `ptd {
  driver = "zapier"
  zapier {
    add_client     = env("PTSYNC_ZAP_ADD_CLIENT")
    trigger_secret = env("PTSYNC_ZAP_TRIGGER_SECRET")
  }
}
`, "Missing webhooks block"},
		{"bad base_url beside an api key", head + `ptd {
  driver = "rest"
  rest {
    base_url = "not a url"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
`, "Invalid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "sec.hcl", secretEnv(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			sink := secrettest.NewSink(t, testSecrets...)
			sink.Check("diagnostic", err.Error())
			sink.Logger().Error("bad configuration", "error", err)
		})
	}
}

// TestSecurityListenersLoopbackByDefault: without metrics, admin and webhooks blocks every
// listener binds loopback; the admin address refuses anything but loopback (it has a token
// but no TLS), including the wildcard forms.
func TestSecurityListenersLoopbackByDefault(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "good", "minimal.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(src, "minimal.hcl", testEnv(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"metrics": cfg.Metrics.Listen, "admin": cfg.Admin.Listen, "webhooks": cfg.Webhooks.Listen} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("default %s listen address %q is not loopback", name, addr)
		}
	}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8913", true},
		{"[::1]:8913", true},
		{"localhost:8913", true},
		{"0.0.0.0:8913", false},
		{":8913", false},
		{"[::]:8913", false},
		{"192.168.1.10:8913", false},
		{"admin.example.com:8913", false},
	} {
		t.Run("admin "+tc.addr, func(t *testing.T) {
			file := string(src) + "admin {\n  listen = \"" + tc.addr + "\"\n}\n"
			cfg, err := Parse([]byte(file), "admin.hcl", testEnv(t, nil))
			if tc.ok {
				if err != nil || cfg.Admin.Listen != tc.addr {
					t.Fatalf("loopback %q refused: %v", tc.addr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "Non-loopback admin address") || !strings.Contains(err.Error(), "admin.hcl:") {
				t.Fatalf("non-loopback %q: err = %v, want a positioned Non-loopback admin address error", tc.addr, err)
			}
		})
	}
}
