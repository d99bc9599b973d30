package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
)

// withAgencyScopes adds the scopes of the agency routes (oauth.readonly to list the installed
// locations, oauth.write to mint their tokens) to the requested ones; it never drops one.
func withAgencyScopes(scopes []string) []string {
	out := slices.Clone(scopes)
	for _, s := range []string{ghlwire.ScopeOAuthReadonly, ghlwire.ScopeOAuthWrite} {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// finishAgencyAuth ends `ptsync auth --agency`: it exchanges the code for the Company token
// pair (user_type=Company), stores it 0600 in the token file under the company id (beside any
// location's pair), and prints what was granted, never a token.
func finishAgencyAuth(ctx context.Context, in ghl.Install, code, tokenFile string, stdout, stderr io.Writer) int {
	tok, err := in.ExchangeCompany(ctx, code)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitFailure
	}
	if err := ghl.NewFileTokenStore(tokenFile).Save(ctx, tok.CompanyID, tok); err != nil {
		fmt.Fprintf(stderr, "ptsync auth: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Authorized agency %s (user type %s).\n", tok.CompanyID, tok.UserType)
	fmt.Fprintf(stdout, "Granted scopes: %s\n", strings.Join(tok.Scopes, " "))
	var missing []string
	for _, s := range []string{ghlwire.ScopeOAuthReadonly, ghlwire.ScopeOAuthWrite} {
		if !slices.Contains(tok.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "Warning: not granted %s: ptsync cannot list the installed locations or mint their tokens with this install.\n", strings.Join(missing, " "))
	}
	if !tok.Expiry.IsZero() {
		fmt.Fprintf(stdout, "Company access token expires %s (refreshed automatically).\n", tok.Expiry.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "Tokens stored in %s under company %s (mode 0600); each installed location's token is minted from them.\n", tokenFile, tok.CompanyID)
	return exitOK
}
