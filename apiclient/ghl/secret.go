package ghl

import (
	"fmt"
	"io"
)

// redacted is what every formatting path of a Secret prints.
const redacted = "[redacted]"

// Secret is a string that must never reach a log, an error message or a JSON document:
// String, GoString, Format (every fmt verb) and MarshalJSON print a placeholder. Call Reveal
// where the value is genuinely needed (an Authorization header, a token request).
// The zero value is the empty secret.
type Secret string

// Reveal returns the secret itself. Callers must not log or persist the result except
// through a store that is meant to hold secrets.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer with a placeholder.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer with a placeholder.
func (s Secret) GoString() string { return `ghl.Secret("` + s.String() + `")` }

// Format implements fmt.Formatter so that no verb (%s %v %q %x %#v ...) prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = io.WriteString(f, s.GoString())
			return
		}
	case 'q':
		_, _ = fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalJSON writes the placeholder; a Secret never appears in JSON by accident.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText writes the placeholder (used by encoders such as hclog's JSON format).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
