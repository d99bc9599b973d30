package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/internal/secret"
)

// cmdAuth installs ptsync in a HighLevel location through OAuth: it prints the authorize URL,
// receives the redirect on a local listener (or takes a pasted --code), checks state,
// exchanges the code and stores the tokens 0600. It prints what was granted, never a token.
func cmdAuth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("base-url", ghl.DefaultBaseURL, "HighLevel API base URL (the token endpoint is <base>/oauth/token)")
	authorizeURL := fs.String("authorize-url", ghl.DefaultAuthorizeURL, "HighLevel authorize (choose location) page")
	clientID := fs.String("client-id", "", "OAuth client id of the marketplace app (required)")
	secretFile := fs.String("client-secret-file", "", "file holding the OAuth client secret (or set PTSYNC_CLIENT_SECRET)")
	scopes := fs.String("scopes", strings.Join(ghl.DefaultScopes, " "), "space-separated scopes to request")
	listen := fs.String("listen", "127.0.0.1:0", "address of the local listener that receives the redirect")
	redirectURI := fs.String("redirect-uri", "", "redirect URI registered for the app (default http://<listen>/callback)")
	tokenFile := fs.String("token-file", "ptsync-tokens.json", "where to store the tokens (mode 0600)")
	code := fs.String("code", "", "an authorization code pasted from the redirect, instead of listening")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the redirect")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync auth: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if *clientID == "" {
		fmt.Fprintln(stderr, "ptsync auth: --client-id is required")
		return exitUsage
	}
	secret, err := readClientSecret(*secretFile)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitUsage
	}
	if *code != "" && *redirectURI == "" {
		fmt.Fprintln(stderr, "ptsync auth: --code needs --redirect-uri (the exchange must name the URI the code was issued for)")
		return exitUsage
	}
	in := ghl.Install{BaseURL: *baseURL, AuthorizeURL: *authorizeURL, ClientID: *clientID, ClientSecret: secret,
		Scopes: strings.Fields(*scopes), RedirectURL: *redirectURI}

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
