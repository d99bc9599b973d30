package diff

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Sentinel errors for values that cannot be normalized. Normalizers wrap them, so callers test with
// errors.Is; the wrapping message names the offending value.
var (
	ErrInvalidEmail = errors.New("invalid email address")
	ErrInvalidPhone = errors.New("invalid phone number")
	ErrInvalidTime  = errors.New("invalid time")
)

// ErrUnknownName is wrapped by the Parse functions (ParseNormalizer, ParseDirection, ParseRule,
// ParseSide) when a configuration word is not one they know.
var ErrUnknownName = errors.New("unknown name")

// Locale carries the defaults a normalizer needs for input that does not state them. The zero
// Locale accepts only international phone numbers (with + or 00) and reads zone-less times as UTC.
type Locale struct {
	// Region is the ISO 3166-1 alpha-2 code (e.g. "US", "GB") used for phone numbers written
	// without a country code.
	Region string
	// Location is the time zone of zone-less times such as HighLevel's "2006-01-02 15:04:05";
	// nil means UTC.
	Location *time.Location
}

// Email returns raw lower-cased with all white space removed. The empty string (or white space
// only) normalizes to "" without error. Anything else must look like local@domain with both parts
// non-empty, or an error wrapping ErrInvalidEmail is returned. Email is idempotent.
func Email(raw string) (string, error) {
	s := strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, raw))
	if s == "" {
		return "", nil
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("cannot normalize email %q: want local@domain: %w", raw, ErrInvalidEmail)
	}
	return s, nil
}

// Phone returns raw in E.164 form (+15550101234), reading a number without a country code as one
// of defaultRegion (ISO 3166-1 alpha-2; "" accepts only international numbers). Accepted: any
// punctuation and spacing, a leading + or an international prefix (00, or the region's own such as
// 011 in North America), the national trunk prefix (0 in the UK), "tel:" URIs. Extensions are
// dropped. The empty string normalizes to "" without error. A number that is not a possible number
// for its country (too short, too long, no area code, unknown country code) gets an error wrapping
// ErrInvalidPhone. Validity against allocated ranges is deliberately not checked: fictional
// 555-01xx numbers and newly allocated ranges must still sync. Phone is idempotent.
func Phone(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region == "" {
		region = "ZZ" // libphonenumber's "unknown region": international numbers only
	}
	// "00" is the ITU international prefix almost everywhere. No national number starts with 00,
	// so reading it as "+" is safe even in regions (North America) whose own prefix is 011.
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if out, ok := nanpFast(s, region); ok {
		return out, nil
	}
	return phoneSlow(raw, s, region)
}

// phoneSlow is Phone through libphonenumber's parser; s is raw cleaned of space and "00".
func phoneSlow(raw, s, region string) (string, error) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", fmt.Errorf("cannot normalize phone %q (default region %s): %w: %w", raw, region, ErrInvalidPhone, err)
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
		out := phonenumbers.Format(num, phonenumbers.E164)
		if len(out) > 16 { // E.164 allows 15 digits; libphonenumber knows longer national ones
			return "", fmt.Errorf("cannot normalize phone %q: more than 15 digits: %w", raw, ErrInvalidPhone)
		}
		if out != s && !stableE164(out) {
			return "", fmt.Errorf("cannot normalize phone %q: %q is not a stable E.164 number: %w", raw, out, ErrInvalidPhone)
		}
		return out, nil
	case phonenumbers.TOO_SHORT:
		return "", fmt.Errorf("cannot normalize phone %q: too few digits: %w", raw, ErrInvalidPhone)
	case phonenumbers.TOO_LONG:
		return "", fmt.Errorf("cannot normalize phone %q: too many digits: %w", raw, ErrInvalidPhone)
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "", fmt.Errorf("cannot normalize phone %q: no area code: %w", raw, ErrInvalidPhone)
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", fmt.Errorf("cannot normalize phone %q: unknown country code: %w", raw, ErrInvalidPhone)
	default:
		return "", fmt.Errorf("cannot normalize phone %q: not a possible number: %w", raw, ErrInvalidPhone)
	}
}

// nanpFast normalizes the overwhelmingly common North American forms ("+1 555-010-1234",
// "(555) 010 1234", "1.555.010.1234" in a NANP region) without libphonenumber's parser, which
// costs 50-90 µs a call in its extension-stripping regular expressions. It applies only to digits
// with plain separators and a number whose area code starts with 2-9, where libphonenumber's answer
// is known: "+1" and the ten digits. ok is false when the input is anything else; a differential
// test and FuzzPhone hold the two paths to the same output.
func nanpFast(s, region string) (string, bool) {
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	var d [11]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n == len(d) {
				return "", false
			}
			d[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return "", false
		}
	}
	digits := string(d[:n])
	switch {
	case n == 11 && d[0] == '1' && d[1] >= '2':
		if plus || phonenumbers.GetCountryCodeForRegion(region) == 1 {
			return "+" + digits, true
		}
	case n == 10 && !plus && d[0] >= '2' && phonenumbers.GetCountryCodeForRegion(region) == 1:
		return "+1" + digits, true
	}
	return "", false
}

// stableE164 reports whether out normalizes to itself. Parsing is lenient
// (vanity letters, odd punctuation), so this re-check is what makes Phone idempotent for any input.
func stableE164(out string) bool {
	num, err := phonenumbers.Parse(out, "ZZ")
	return err == nil && phonenumbers.IsPossibleNumberWithReason(num) == phonenumbers.IS_POSSIBLE &&
		phonenumbers.Format(num, phonenumbers.E164) == out
}

// Name trims raw and collapses every inner run of white space (including non-breaking spaces and
// tabs) into one space. Case is never changed: "McDonald" and "van der Berg" are the user's to
// spell. Name is idempotent and never fails.
func Name(raw string) string {
	return strings.Join(strings.Fields(raw), " ")
}

// zonedLayouts carry their own offset; localLayouts are read in Locale.Location.
func zonedLayouts() []string {
	return []string{
		time.RFC3339Nano, // also accepts RFC 3339 without fraction and with milliseconds
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05Z0700",
	}
}

func localLayouts() []string {
	return []string{
		"2006-01-02 15:04:05", // HighLevel appointments
		"2006-01-02T15:04:05",
		"2006-01-02 15:04",
		"2006-01-02",
	}
}

// Time returns raw as a UTC RFC 3339 timestamp with second precision ("2024-03-01T14:00:00Z").
// Accepted: RFC 3339 with or without fractional seconds, offsets with or without a colon,
// "2006-01-02 15:04:05" (HighLevel appointments), "2006-01-02T15:04:05", "2006-01-02 15:04" and
// "2006-01-02"; zone-less forms are read in loc (nil means UTC). Sub-second digits are dropped
// because the two systems store different precisions and a round trip must not look like a change.
// The empty string normalizes to "" without error; anything else unparseable gets an error wrapping
// ErrInvalidTime. Time is idempotent.
func Time(raw string, loc *time.Location) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range zonedLayouts() {
		if t, err := time.Parse(layout, s); err == nil {
			return formatTime(t), nil
		}
	}
	for _, layout := range localLayouts() {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return formatTime(t), nil
		}
	}
	return "", fmt.Errorf("cannot normalize time %q: want RFC 3339, \"2006-01-02 15:04:05\" or \"2006-01-02\": %w", raw, ErrInvalidTime)
}

func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// Tags trims every item, drops empty ones, removes case-insensitive duplicates keeping the first
// spelling seen, and sorts the result case-insensitively so the output is stable. The input slice
// is not modified; the result is never nil. Tags is idempotent.
func Tags(items []string) []string {
	out, _ := normalizeSet(items, NormTags, Locale{})
	return out.items()
}

// Normalizer names the canonical form of a field's values. The zero value is NormNone. Normalizers
// are selected by name in configuration: none, email, phone, name, time, tags.
type Normalizer int

// The normalizers. NormTags is meant for set fields: elements are trimmed and compared
// case-insensitively. On a scalar field NormTags behaves like NormName (ValidateSpecs refuses that
// combination, so it only happens if validation was skipped).
const (
	NormNone Normalizer = iota
	NormEmail
	NormPhone
	NormName
	NormTime
	NormTags
)

func normalizerNames() []string {
	return []string{"none", "email", "phone", "name", "time", "tags"}
}

// ParseNormalizer returns the Normalizer called name (case-insensitive, surrounding space ignored).
// An unknown name gets an error wrapping ErrUnknownName that lists the accepted names.
func ParseNormalizer(name string) (Normalizer, error) {
	i, err := parseName("normalizer", name, normalizerNames())
	return Normalizer(i), err
}

// String returns the configuration name of n.
func (n Normalizer) String() string { return nameOf(int(n), normalizerNames(), "normalizer") }

// MarshalText encodes n by name, so it reads well in JSON history and plans.
func (n Normalizer) MarshalText() ([]byte, error) {
	return marshalName(int(n), normalizerNames(), "normalizer")
}

// UnmarshalText decodes a name produced by MarshalText or written in configuration.
func (n *Normalizer) UnmarshalText(b []byte) error {
	v, err := ParseNormalizer(string(b))
	if err == nil {
		*n = v
	}
	return err
}

// Apply normalizes one scalar value under n, using loc for phone regions and zone-less times.
// The empty string always normalizes to "" without error. Errors wrap ErrInvalidEmail,
// ErrInvalidPhone or ErrInvalidTime. Apply is idempotent: Apply(Apply(x)) == Apply(x).
func (n Normalizer) Apply(raw string, loc Locale) (string, error) {
	switch n {
	case NormEmail:
		return Email(raw)
	case NormPhone:
		return Phone(raw, loc.Region)
	case NormName, NormTags:
		return Name(raw), nil
	case NormTime:
		return Time(raw, loc.Location)
	default:
		return raw, nil
	}
}

// normSet is a normalized set: items sorted by key, one item per key.
type normSet struct {
	keys  []string          // sorted, unique
	byKey map[string]string // key -> spelling
}

func (s normSet) items() []string {
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = s.byKey[k]
	}
	return out
}

func (s normSet) has(k string) bool { _, ok := s.byKey[k]; return ok }

func (s normSet) equal(o normSet) bool {
	if len(s.keys) != len(o.keys) {
		return false
	}
	for i := range s.keys {
		if s.keys[i] != o.keys[i] {
			return false
		}
	}
	return true
}

// normalizeSet normalizes every element with n, drops empty elements and duplicates (by key:
// lower case under NormTags, the normalized element otherwise), keeping the first spelling.
func normalizeSet(items []string, n Normalizer, loc Locale) (normSet, error) {
	s := normSet{byKey: make(map[string]string, len(items))}
	var errs []error
	for _, raw := range items {
		v, err := strings.TrimSpace(raw), error(nil) // tags keep their inner spacing, as stored
		if n != NormTags {
			v, err = n.Apply(raw, loc)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v == "" {
			continue
		}
		k := v
		if n == NormTags {
			k = strings.ToLower(v)
		}
		if _, dup := s.byKey[k]; dup {
			continue
		}
		s.byKey[k] = v
		s.keys = append(s.keys, k)
	}
	sort.Strings(s.keys)
	return s, errors.Join(errs...)
}

// parseName finds name in names, case-insensitively.
func parseName(kind, name string, names []string) (int, error) {
	w := strings.ToLower(strings.TrimSpace(name))
	for i, n := range names {
		if n == w {
			return i, nil
		}
	}
	return 0, fmt.Errorf("cannot parse %s %q: want one of %s: %w", kind, name, strings.Join(names, ", "), ErrUnknownName)
}

func nameOf(i int, names []string, kind string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("%s(%d)", kind, i)
}

func marshalName(i int, names []string, kind string) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("cannot marshal %s %d: out of range: %w", kind, i, ErrUnknownName)
	}
	return []byte(names[i]), nil
}
