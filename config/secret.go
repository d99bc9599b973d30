package config

import (
	"fmt"
	"log/slog"
)

// redacted is what every printing path shows instead of a secret's value.
const redacted = "[redacted]"

// Secret holds a credential read from env(), file() or credential(). Every way of printing
// it — fmt with any verb (%v, %+v, %#v, %s, %q, %x, %d), json.Marshal, encoding.TextMarshaler,
// slog and hclog — yields "[redacted]"; only Reveal returns the value. The value sits behind a
// closure so that even reflection-based printers that cannot call methods (an unexported field
// holding a Secret) print an address, not the text. The zero Secret is empty and also prints
// "[redacted]". Secret is immutable, comparable and safe for concurrent use.
type Secret struct {
	v *secretValue
}

// secretValue keeps the value inside a closure: fmt's fallback printers (a bad verb on an
// unexported field walks pointers and struct fields by reflection) print a func as an
// address, never as text.
type secretValue struct {
	value  func() string
	source string
}

// NewSecret wraps value; source says where it came from (for example `env("PTSYNC_X")`) and is
// safe to log. Use it in tests and for secrets built in code (the demo).
func NewSecret(value, source string) Secret {
	return Secret{v: &secretValue{value: func() string { return value }, source: source}}
}

// Reveal returns the secret's value. Call it only where the value is sent to the upstream
// that needs it (an Authorization header, an HMAC key); never pass the result to a logger.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.value()
}

// IsZero reports whether no value was configured.
func (s Secret) IsZero() bool { return s.v == nil || s.v.value() == "" }

// Source names where the value came from, e.g. `credential("ghl-pit")`; it never contains
// the value and may be logged.
func (s Secret) Source() string {
	if s.v == nil {
		return ""
	}
	return s.v.source
}

// String implements fmt.Stringer and always returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer and always returns "[redacted]".
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb, not just %v and %s, prints "[redacted]".
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler and always yields the JSON string "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler and always yields "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer and always yields "[redacted]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
