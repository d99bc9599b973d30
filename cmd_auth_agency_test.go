package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ptsync/apiclient/ghl"
	"ptsync/sim/ghlsim"
)

// `ptsync auth --agency` against a company simulator: the code is exchanged with
// user_type=Company, the Company pair lands in the token file under the company id with the
// agency scopes asked for, and the output names the grant but no token or secret.
func TestAuthAgencyStoresCompanyPair(t *testing.T) {
	co := ghlsim.NewCompany(ghlsim.CompanyOptions{Seed: 5})
	for i := 0; i < 2; i++ {
		s, _ := co.AddLocation(ghlsim.Options{})
		co.Install(s.LocationID())
	}
	srv := httptest.NewServer(co)
	defer srv.Close()
	id, secret := co.ClientCredentials()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	tokenFile := filepath.Join(dir, "tokens.json")
	redirect := "http://127.0.0.1:9/callback"

	// The operator's browser gets a code for the scopes the command asks for; it is pasted
	// with --code.
	scopes := strings.Join(withAgencyScopes(ghl.DefaultScopes()), " ")

	var stdout, stderr strings.Builder
	code := cmdAuth(context.Background(), []string{"--agency", "--base-url", srv.URL, "--client-id", id, "--client-secret-file", secretFile,
		"--token-file", tokenFile, "--redirect-uri", redirect, "--code", browserCode(t, srv.URL, id, redirect, scopes)}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	tok, err := ghl.NewFileTokenStore(tokenFile).Load(context.Background(), co.ID())
	if err != nil {
		t.Fatal(err)
	}
	if tok.UserType != "Company" || tok.CompanyID != co.ID() || tok.LocationID != "" || tok.RefreshToken.IsZero() {
		t.Fatalf("stored %v (user type %q, company %q)", tok, tok.UserType, tok.CompanyID)
	}
	text := stdout.String()
	for _, want := range []string{"Authorized agency " + co.ID(), "oauth.readonly oauth.write", "(mode 0600)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Warning") || strings.Contains(text, tok.AccessToken.Reveal()) || strings.Contains(text, secret) {
		t.Errorf("output warns or leaks a secret:\n%s", text)
	}
	if got := withAgencyScopes([]string{"contacts.readonly", "oauth.write"}); strings.Join(got, " ") != "contacts.readonly oauth.write oauth.readonly" {
		t.Errorf("withAgencyScopes = %q", got)
	}
	// Waiting for the redirect, the command prints the authorize URL it asks the operator to
	// open: with --agency it asks for the agency scopes (nobody opens it; the wait times out).
	stdout.Reset()
	cmdAuth(context.Background(), []string{"--agency", "--base-url", srv.URL, "--client-id", id, "--client-secret-file", secretFile,
		"--token-file", tokenFile, "--timeout", "50ms"}, &stdout, &stderr)
	if want := "scope=" + url.QueryEscape(scopes); !strings.Contains(stdout.String(), want) {
		t.Errorf("authorize URL lacks %q:\n%s", want, stdout.String())
	}
}

// Without --agency the same company code gives a location pair, as before: --agency is what
// asks for user_type=Company.
func TestAuthWithoutAgencyStaysLocation(t *testing.T) {
	co := ghlsim.NewCompany(ghlsim.CompanyOptions{Seed: 6})
	s, _ := co.AddLocation(ghlsim.Options{})
	co.Install(s.LocationID())
	srv := httptest.NewServer(co)
	defer srv.Close()
	id, secret := co.ClientCredentials()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte(secret), 0o600)
	redirect := "http://127.0.0.1:9/callback"
	var stdout, stderr strings.Builder
	if code := cmdAuth(context.Background(), []string{"--base-url", srv.URL, "--client-id", id, "--client-secret-file", filepath.Join(dir, "secret"),
		"--token-file", filepath.Join(dir, "t.json"), "--redirect-uri", redirect, "--code", browserCode(t, srv.URL, id, redirect, "")}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Authorized location "+s.LocationID()) {
		t.Fatalf("output:\n%s", stdout.String())
	}
}

// browserCode opens the simulator's authorize page as the operator's browser would and
// returns the code its redirect carries.
func browserCode(t *testing.T, base, clientID, redirect, scopes string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(base + "/v2/oauth/chooselocation?response_type=code&client_id=" + clientID +
		"&redirect_uri=" + url.QueryEscape(redirect) + "&scope=" + url.QueryEscape(scopes))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirect %q: %v", res.Header.Get("Location"), err)
	}
	return loc.Query().Get("code")
}
