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
	f, code, ok := parseAuthFlags(args, stderr)
	if !ok {
		return code
	}
	in, code, ok := f.install(stderr)
	if !ok {
		return code
	}
	if f.agency {
		in.Scopes = withAgencyScopes(in.Scopes)
	}
	got := f.code
	if got == "" {
		var err error
		if got, err = f.receiveCode(ctx, &in, stdout); err != nil {
			fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
			return exitFailure
		}
	}
	if f.agency {
		return finishAgencyAuth(ctx, in, got, f.tokenFile, stdout, stderr)
	}
	tok, err := in.Exchange(ctx, got)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitFailure
	}
	store := ghl.NewFileTokenStore(f.tokenFile)
	if err := store.Save(ctx, tok.LocationID, tok); err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitFailure
	}
	printGrant(stdout, tok, f.tokenFile)
	return exitOK
}

// authFlags are ptsync auth's settings once the flags and, with --config, the ghl.oauth
// block are read. fromConfig is the block's client secret, zero when a flag or no block
// supplies it.
type authFlags struct {
	baseURL, authorizeURL, clientID, secretFile, scopes string
	listen, redirectURI, tokenFile, code                string
	timeout                                             time.Duration
	fromConfig                                          ghl.Secret
	agency                                              bool // user_type=Company: store the Company pair
}

// parseAuthFlags reads args and, when --config or $PTSYNC_CONFIG names a file, fills every
// setting no flag gave from its ghl.oauth block. On failure it has said why on stderr and
// returns the exit code (exitOK for --help).
func parseAuthFlags(args []string, stderr io.Writer) (authFlags, int, bool) {
	var f authFlags
	fs := flag.NewFlagSet("auth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "take the ghl.oauth settings (client, scopes, token_file, ...) from this configuration (default $PTSYNC_CONFIG)")
	fs.StringVar(&f.baseURL, "base-url", ghl.DefaultBaseURL, "HighLevel API base URL (the token endpoint is <base>/oauth/token)")
	fs.StringVar(&f.authorizeURL, "authorize-url", ghl.DefaultAuthorizeURL, "HighLevel authorize (choose location) page")
	fs.StringVar(&f.clientID, "client-id", "", "OAuth client id of the marketplace app (required)")
	fs.StringVar(&f.secretFile, "client-secret-file", "", "file holding the OAuth client secret (or set PTSYNC_CLIENT_SECRET)")
	fs.StringVar(&f.scopes, "scopes", strings.Join(ghl.DefaultScopes(), " "), "space-separated scopes to request")
	fs.BoolVar(&f.agency, "agency", false, "install at agency level (user_type=Company): store the Company token pair that lists the installed locations and mints their tokens")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "address of the local listener that receives the redirect")
	fs.StringVar(&f.redirectURI, "redirect-uri", "", "redirect URI registered for the app (default http://<listen>/callback)")
	fs.StringVar(&f.tokenFile, "token-file", defaultTokenFile(), "where to store the tokens (mode 0600); the configuration's ghl.oauth.token_file with --config")
	fs.StringVar(&f.code, "code", "", "an authorization code pasted from the redirect, instead of listening")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long to wait for the redirect")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ptsync auth [--config PATH] [--client-id ID] [--client-secret-file FILE] [--token-file FILE] [flags]")
		fs.PrintDefaults()
	}
	terseOnError(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, exitOK, false
		}
		return f, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync auth: unexpected arguments %q\n", fs.Args())
		return f, exitUsage, false
	}
	if *cfgFile != "" || os.Getenv("PTSYNC_CONFIG") != "" {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		if !f.fillFromConfig(*cfgFile, set, stderr) {
			return f, exitUsage, false
		}
	}
	return f, exitOK, true
}

// fillFromConfig takes from the configuration's ghl.oauth block every setting whose flag is
// not in set, and the listen address from its redirect URL when neither --listen nor
// --redirect-uri was given. It reports false, having said why, when the file does not load
// or has no ghl.oauth block.
func (f *authFlags) fillFromConfig(cfgFile string, set map[string]bool, stderr io.Writer) bool {
	cfg, _, ok := loadConfig(cfgFile, os.Getenv, stderr)
	if !ok {
		return false
	}
	o := cfg.GHL.OAuth
	if o == nil {
		fmt.Fprintln(stderr, "ptsync auth: the configuration has no ghl.oauth block (a private token needs no authorization)")
		return false
	}
	for name, v := range map[string]struct {
		dst *string
		val string
	}{"client-id": {&f.clientID, o.ClientID}, "token-file": {&f.tokenFile, o.TokenFile}, "base-url": {&f.baseURL, cfg.GHL.BaseURL},
		"authorize-url": {&f.authorizeURL, o.AuthorizeURL}, "redirect-uri": {&f.redirectURI, o.RedirectURL}, "scopes": {&f.scopes, strings.Join(o.Scopes, " ")}} {
		if !set[name] && v.val != "" {
			*v.dst = v.val
		}
	}
	if !set["client-secret-file"] {
		f.fromConfig = o.ClientSecret
	}
	if u, err := url.Parse(f.redirectURI); err == nil && u.Host != "" && !set["listen"] && !set["redirect-uri"] {
		f.listen = u.Host // receive the redirect where the configuration says it goes
	}
	return true
}

// install checks that the settings make an installation (a client id, a secret, a redirect
// URI for a pasted code) and returns it; on failure it has said why and returns exitUsage.
func (f *authFlags) install(stderr io.Writer) (ghl.Install, int, bool) {
	if f.clientID == "" {
		fmt.Fprintln(stderr, "ptsync auth: --client-id is required (or --config with a ghl.oauth block)")
		return ghl.Install{}, exitUsage, false
	}
	secret := f.fromConfig
	if secret.IsZero() {
		var err error
		if secret, err = readClientSecret(f.secretFile); err != nil {
			fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
			return ghl.Install{}, exitUsage, false
		}
	}
	if f.code != "" && f.redirectURI == "" {
		fmt.Fprintln(stderr, "ptsync auth: --code needs --redirect-uri (the exchange must name the URI the code was issued for)")
		return ghl.Install{}, exitUsage, false
	}
	return ghl.Install{BaseURL: f.baseURL, AuthorizeURL: f.authorizeURL, ClientID: f.clientID, ClientSecret: secret,
		Scopes: strings.Fields(f.scopes), RedirectURL: f.redirectURI}, exitOK, true
}

// receiveCode listens on f.listen, prints the authorize URL, and waits up to f.timeout for
// HighLevel's redirect carrying the code and the state it printed; any other state is
// refused. It sets in.RedirectURL to the listener when none was configured. The listener is
// closed when it returns.
func (f *authFlags) receiveCode(ctx context.Context, in *ghl.Install, stdout io.Writer) (string, error) {
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return "", fmt.Errorf("cannot listen on %s: %w", f.listen, err)
	}
	if in.RedirectURL == "" {
		in.RedirectURL = "http://" + ln.Addr().String() + "/callback"
	}
	state, err := ghl.NewState()
	if err != nil {
		ln.Close()
		return "", err
	}
	fmt.Fprintf(stdout, "Open this URL in a browser and choose the sub-account to install ptsync in:\n\n%s\n\n", in.AuthCodeURL(state))
	fmt.Fprintf(stdout, "Waiting for the redirect on %s ...\n", in.RedirectURL)
	wctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return ghl.ReceiveCode(wctx, ln, state)
}

// printGrant tells the operator what HighLevel granted and where the tokens are, never a
// token itself.
func printGrant(stdout io.Writer, tok ghl.Token, tokenFile string) {
	fmt.Fprintf(stdout, "Authorized location %s (user type %s).\n", tok.LocationID, tok.UserType)
	fmt.Fprintf(stdout, "Granted scopes: %s\n", strings.Join(tok.Scopes, " "))
	if tok.ReadOnly() {
		fmt.Fprintln(stdout, "Read-only: the token grants contacts.readonly only; ptsync will not write to HighLevel.")
	}
	if !tok.Expiry.IsZero() {
		fmt.Fprintf(stdout, "Access token expires %s (refreshed automatically).\n", tok.Expiry.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "Tokens stored in %s (mode 0600).\n", tokenFile)
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
