package ghl

import "ptsync/internal/secret"

// Secret is a credential (an access or refresh token, the OAuth client secret): the project's
// one secret type, see package internal/secret. Every printing path yields "[redacted]", only
// Reveal returns the value, and reflection cannot print it, so logging a *Client, an
// *OAuthSource or a *StaticSource does not leak what they hold. Build one with secret.New.
type Secret = secret.Secret
