// Package secret holds the one credential type of ptsync. A Secret is a value (an API key, an
// OAuth token, a Zapier hook URL) that must never reach a log line, an error text, a JSON
// document or a metric label: every printing path yields "[redacted]" and only Reveal returns
// the value.
//
// The value sits behind a closure rather than in a string field. fmt (and hclog, which uses it)
// prints the unexported fields of a struct by reflection without calling their methods, so a
// `type Secret string` inside an unexported field is printed in full when the struct holding
// it is logged; reflection can only print a func as an address.
package secret

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Redacted is what every printing path shows instead of a secret's value, empty or not.
const Redacted = "[redacted]"

// Secret holds a credential. Every way of printing it — fmt with any verb (%v, %+v, %#v, %s,
// %q, %x, %d), json.Marshal, encoding.TextMarshaler, slog and hclog — yields "[redacted]";
// only Reveal returns the value. The zero Secret is empty, usable, and also prints
// "[redacted]".
//
// A Secret is immutable and safe for concurrent use. It is deliberately not comparable with ==
// (identity would be the wrong question, and a plain comparison leaks timing): use Equal.
type Secret struct {
	_ [0]func() // makes Secret incomparable: == does not compile
	v *value
}

// value keeps the text inside a closure: fmt's reflection-based printers (an unexported field,
// a bad verb on a nested pointer) print a func as an address, never as text.
type value struct {
	reveal func() string
	source string
}

// New wraps v. New("") is the zero Secret.
func New(v string) Secret { return FromSource(v, "") }

// FromSource wraps v and records where it came from (for example `env("PTSYNC_X")` or
// `credential("ghl-pit")`); source is meant to be logged and must not contain the value.
func FromSource(v, source string) Secret {
	if v == "" && source == "" {
		return Secret{}
	}
	return Secret{v: &value{reveal: func() string { return v }, source: source}}
}

// Reveal returns the secret's value ("" for the zero Secret). Call it only where the value is
// sent to the upstream that needs it (an Authorization header, an HMAC key, the token file);
// never pass the result to a logger or an error.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.reveal()
}

// IsZero reports whether the value is empty (whether or not a source was recorded).
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// Equal reports whether s and o hold the same value, in time independent of where they differ
// (it still depends on the lengths).
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

// Source names where the value came from, e.g. `credential("ghl-pit")`, or "" when the secret
// was built in code; it never contains the value and may be logged.
func (s Secret) Source() string {
	if s.v == nil {
		return ""
	}
	return s.v.source
}

// String implements fmt.Stringer and always returns "[redacted]".
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer and always returns "[redacted]".
func (s Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb, not just %v and %s, prints "[redacted]".
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler and always yields the JSON string "[redacted]". Code
// that must persist the value (the token file) copies Reveal into its own plain field.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler and always yields "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue implements slog.LogValuer and always yields "[redacted]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
