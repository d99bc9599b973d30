package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/config"
	"ptsync/internal/secret"
)

// cmdAuth installs ptsync in a HighLevel location through OAuth: it prints the authorize URL,
// receives the redirect on a local listener (or takes a pasted --code), checks state,
// exchanges the code and stores the tokens 0600. It prints what was granted, never a token.
//
// With --config (or $PTSYNC_CONFIG) the ghl.oauth block supplies every setting a flag does
// not, the token file included, so `ptsync run` with the same file finds the tokens. Without
// one, the token file defaults to where a configuration without token_file and store.path
// looks: /var/lib/ptsync/ghl-token.json.
func cmdAuth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "take the ghl.oauth settings (client, scopes, token_file, ...) from this configuration (default $PTSYNC_CONFIG)")
	baseURL := fs.String("base-url", ghl.DefaultBaseURL, "HighLevel API base URL (the token endpoint is <base>/oauth/token)")
	authorizeURL := fs.String("authorize-url", ghl.DefaultAuthorizeURL, "HighLevel authorize (choose location) page")
	clientID := fs.String("client-id", "", "OAuth client id of the marketplace app (required)")
	secretFile := fs.String("client-secret-file", "", "file holding the OAuth client secret (or set PTSYNC_CLIENT_SECRET)")
	scopes := fs.String("scopes", strings.Join(ghl.DefaultScopes(), " "), "space-separated scopes to request")
	listen := fs.String("listen", "127.0.0.1:0", "address of the local listener that receives the redirect")
	redirectURI := fs.String("redirect-uri", "", "redirect URI registered for the app (default http://<listen>/callback)")
	tokenFile := fs.String("token-file", defaultTokenFile(), "where to store the tokens (mode 0600); the configuration's ghl.oauth.token_file with --config")
	code := fs.String("code", "", "an authorization code pasted from the redirect, instead of listening")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the redirect")
	agency := fs.Bool("agency", false, "install at agency level (user_type=Company): store the Company token pair that lists the installed locations and mints their tokens")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ptsync auth [--config PATH] [--client-id ID] [--client-secret-file FILE] [--token-file FILE] [flags]")
		fs.PrintDefaults()
	}
	terseOnError(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync auth: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	var fromConfig ghl.Secret
	if *cfgFile != "" || os.Getenv("PTSYNC_CONFIG") != "" {
		cfg, _, ok := loadConfig(*cfgFile, os.Getenv, stderr)
		if !ok {
			return exitUsage
		}
		o := cfg.GHL.OAuth
		if o == nil {
			fmt.Fprintln(stderr, "ptsync auth: the configuration has no ghl.oauth block (a private token needs no authorization)")
			return exitUsage
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]struct {
			dst *string
			val string
		}{"client-id": {clientID, o.ClientID}, "token-file": {tokenFile, o.TokenFile}, "base-url": {baseURL, cfg.GHL.BaseURL},
			"authorize-url": {authorizeURL, o.AuthorizeURL}, "redirect-uri": {redirectURI, o.RedirectURL}, "scopes": {scopes, strings.Join(o.Scopes, " ")}} {
			if !set[name] && v.val != "" {
				*v.dst = v.val
			}
		}
		if !set["client-secret-file"] {
			fromConfig = o.ClientSecret
		}
		if u, err := url.Parse(*redirectURI); err == nil && u.Host != "" && !set["listen"] && !set["redirect-uri"] {
			*listen = u.Host // receive the redirect where the configuration says it goes
		}
	}
	if *clientID == "" {
		fmt.Fprintln(stderr, "ptsync auth: --client-id is required (or --config with a ghl.oauth block)")
		return exitUsage
	}
	secret := fromConfig
	if secret.IsZero() {
		var err error
		if secret, err = readClientSecret(*secretFile); err != nil {
			fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
			return exitUsage
		}
	}
	if *code != "" && *redirectURI == "" {
		fmt.Fprintln(stderr, "ptsync auth: --code needs --redirect-uri (the exchange must name the URI the code was issued for)")
		return exitUsage
	}
	in := ghl.Install{BaseURL: *baseURL, AuthorizeURL: *authorizeURL, ClientID: *clientID, ClientSecret: secret,
		Scopes: strings.Fields(*scopes), RedirectURL: *redirectURI}
	if *agency {
		in.Scopes = withAgencyScopes(in.Scopes)
	}

	got := *code
	if got == "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintf(stderr, "ptsync auth: cannot listen on %s: %v\n", *listen, err)
			return exitFailure
		}
		if in.RedirectURL == "" {
			in.RedirectURL = "http://" + ln.Addr().String() + "/callback"
		}
		state, err := ghl.NewState()
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "Open this URL in a browser and choose the sub-account to install ptsync in:\n\n%s\n\n", in.AuthCodeURL(state))
		fmt.Fprintf(stdout, "Waiting for the redirect on %s ...\n", in.RedirectURL)
		wctx, cancel := context.WithTimeout(ctx, *timeout)
		got, err = ghl.ReceiveCode(wctx, ln, state)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
			return exitFailure
		}
	}
	if *agency {
		return finishAgencyAuth(ctx, in, got, *tokenFile, stdout, stderr)
	}
	tok, err := in.Exchange(ctx, got)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitFailure
	}
	store := ghl.NewFileTokenStore(*tokenFile)
	if err := store.Save(ctx, tok.LocationID, tok); err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Authorized location %s (user type %s).\n", tok.LocationID, tok.UserType)
	fmt.Fprintf(stdout, "Granted scopes: %s\n", strings.Join(tok.Scopes, " "))
	if tok.ReadOnly() {
		fmt.Fprintln(stdout, "Read-only: the token grants contacts.readonly only; ptsync will not write to HighLevel.")
	}
	if !tok.Expiry.IsZero() {
		fmt.Fprintf(stdout, "Access token expires %s (refreshed automatically).\n", tok.Expiry.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "Tokens stored in %s (mode 0600).\n", *tokenFile)
	return exitOK
}

// defaultTokenFile is where a configuration that sets neither ghl.oauth.token_file nor
// store.path keeps the tokens: beside the default mirror.
func defaultTokenFile() string {
	return filepath.Join(filepath.Dir(config.DefaultStorePath), "ghl-token.json")
}

// readClientSecret reads the secret from a file (trailing newline trimmed) or from
// PTSYNC_CLIENT_SECRET; it is never taken from a flag value, so it cannot leak via ps.
func readClientSecret(path string) (ghl.Secret, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return ghl.Secret{}, fmt.Errorf("cannot read client secret file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return ghl.Secret{}, fmt.Errorf("client secret file %s is empty", path)
		}
		return secret.FromSource(s, "file "+path), nil
	}
	if s := strings.TrimSpace(os.Getenv("PTSYNC_CLIENT_SECRET")); s != "" {
		return secret.FromSource(s, "env PTSYNC_CLIENT_SECRET"), nil
	}
	return ghl.Secret{}, errors.New("no client secret: pass --client-secret-file or set PTSYNC_CLIENT_SECRET")
}
