package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/config"
	"ptsync/sim/ghlsim"
)

// Acceptance 10: `ptsync auth` completes end to end against the simulator's authorize page:
// the test follows the printed URL with an http.Client, which the simulator redirects to the
// command's listener; the tokens land in a 0600 file and the output names the grant but no
// token or secret.
func TestAuthCommandEndToEnd(t *testing.T) {
	cases := []struct {
		name       string
		scopes     string
		readOnly   bool
		fromConfig bool // --config only: the tokens must land where `ptsync run` reads them
	}{
		{"read and write", "contacts.readonly contacts.write", false, false},
		{"read only", "contacts.readonly", true, false},
		{"from the configuration", "contacts.readonly contacts.write", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := ghlsim.New(ghlsim.Options{Seed: 1})
			srv := httptest.NewServer(sim)
			defer srv.Close()
			id, secret := sim.ClientCredentials()
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "secret")
			os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
			tokenFile := filepath.Join(dir, "tokens.json")
			args := []string{"--base-url", srv.URL, "--authorize-url", srv.URL + "/v2/oauth/chooselocation",
				"--client-id", id, "--client-secret-file", secretFile, "--scopes", tc.scopes, "--token-file", tokenFile}
			if tc.fromConfig {
				cfgFile := filepath.Join(dir, "config.hcl")
				os.WriteFile(filepath.Join(dir, "ptd-key"), []byte("k\n"), 0o600)
				os.WriteFile(cfgFile, []byte(`ghl {
  base_url    = "`+srv.URL+`"
  location_id = "`+sim.LocationID()+`"
  oauth {
    client_id     = "`+id+`"
    client_secret = file("secret")
    authorize_url = "`+srv.URL+`/v2/oauth/chooselocation"
  }
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:1"
    api_key  = file("ptd-key")
  }
}
store { path = "`+filepath.Join(dir, "state", "mirror.db")+`" }
`), 0o600)
				cfg, err := config.Load(cfgFile)
				if err != nil {
					t.Fatal(err)
				}
				tokenFile = cfg.GHL.OAuth.TokenFile // what `ptsync run --config` reads
				os.MkdirAll(filepath.Dir(tokenFile), 0o700)
				args = []string{"--config", cfgFile}
			}

			pr, pw := io.Pipe()
			var stderr strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			codeCh := make(chan int, 1)
			go func() {
				codeCh <- cmdAuth(ctx, args, pw, &stderr)
				pw.Close()
			}()
			var out strings.Builder
			sc := bufio.NewScanner(pr)
			followed := false
			for sc.Scan() {
				line := sc.Text()
				out.WriteString(line + "\n")
				if !followed && strings.HasPrefix(line, srv.URL+"/v2/oauth/chooselocation?") {
					followed = true
					go func() {
						resp, err := http.Get(line) // the simulator redirects to the listener
						if err != nil {
							t.Errorf("following the authorize URL: %v", err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							t.Errorf("redirect landed with status %d", resp.StatusCode)
						}
					}()
				}
			}
			if code := <-codeCh; code != exitOK {
				t.Fatalf("exit %d; stderr: %s; stdout: %s", code, stderr.String(), out.String())
			}
			text := out.String()
			for _, want := range []string{"Authorized location " + sim.LocationID(), "Granted scopes: " + tc.scopes, "(mode 0600)", "state="} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "Read-only") != tc.readOnly {
				t.Errorf("read-only notice wrong:\n%s", text)
			}
			st, err := os.Stat(tokenFile)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("token file %v %v", st, err)
			}
			tok, err := ghl.NewFileTokenStore(tokenFile).Load(ctx, sim.LocationID())
			if err != nil || tok.AccessToken.IsZero() || tok.RefreshToken.IsZero() {
				t.Fatalf("stored token %v err %v", tok, err)
			}
			for _, s := range []string{tok.AccessToken.Reveal(), tok.RefreshToken.Reveal(), secret} {
				if strings.Contains(text+stderr.String(), s) {
					t.Fatal("a secret was printed")
				}
			}
			if sim.Counters().TokenGrants != 1 {
				t.Fatalf("token grants %d", sim.Counters().TokenGrants)
			}
		})
	}
}

// TestAuthDefaultTokenFileIsTheConfigs: without flags, auth writes the tokens where a
// configuration that sets neither token_file nor store.path makes `ptsync run` look (#17: it
// wrote ptsync-tokens.json in the working directory, which run never reads).
func TestAuthDefaultTokenFileIsTheConfigs(t *testing.T) {
	cfg, err := config.Parse([]byte(`ghl {
  location_id = "loc"
  oauth {
    client_id     = "id"
    client_secret = env("S")
  }
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:1"
    api_key  = env("S")
  }
}
`), "c.hcl", config.Env{LookupEnv: func(string) (string, bool) { return "x", true }})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := defaultTokenFile(), cfg.GHL.OAuth.TokenFile; got != want {
		t.Errorf("auth stores tokens in %s by default, run reads %s", got, want)
	}
}

func TestAuthCommandUsage(t *testing.T) {
	t.Setenv("PTSYNC_CLIENT_SECRET", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no client id", []string{}, "--client-id is required"},
		{"no secret", []string{"--client-id", "x"}, "no client secret"},
		{"code without redirect", []string{"--client-id", "x", "--code", "abc", "--client-secret-file", "/dev/null"}, "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := cmdAuth(context.Background(), tc.args, io.Discard, &stderr); code != exitUsage {
				t.Fatalf("exit %d", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}
