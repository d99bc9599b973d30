package ghl

import (
	"context"
	"fmt"

	"ptsync/apiclient/ghlwire"
)

// ExchangeCompany trades a code for the agency's Company token pair (user_type=Company), the
// pair an Agency refreshes and mints location tokens with; store it under its CompanyID.
// An answer that is not a Company token (a location was chosen instead of the agency) is an
// error saying so, since only a Company token can list and mint.
func (in Install) ExchangeCompany(ctx context.Context, code string) (Token, error) {
	tok, err := in.exchange(ctx, code, ghlwire.UserTypeCompany)
	if err != nil {
		return Token{}, err
	}
	if tok.UserType != ghlwire.UserTypeCompany || tok.CompanyID == "" {
		return Token{}, fmt.Errorf("cannot use the token: the response is a %q token for location %q, not a Company token (install from the agency view, or run `ptsync auth` without --agency)", tok.UserType, tok.LocationID)
	}
	tok.LocationID = ""
	return tok, nil
}
