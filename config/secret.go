package config

import "ptsync/internal/secret"

// Secret holds a credential read from env(), file() or credential(); its Source names the
// call (for example `env("PTSYNC_X")`). It is the project's one secret type (see package
// internal/secret): every printing path yields "[redacted]", only Reveal returns the value, and
// the value is unreachable by reflection-based printing.
type Secret = secret.Secret
