package diff

import (
	"errors"
	"fmt"
	"strings"
)

// Side names one of the two systems (or, in decisions, both or neither). The zero value is SideNone.
type Side int

// The sides. SideBoth is the winner of a set merge that combined both sides' edits and of an
// agreement; SideBase appears only in Result.Invalid, for a stored base value that no longer
// normalizes.
const (
	SideNone Side = iota
	SideGHL
	SidePTD
	SideBoth
	SideBase
)

func sideNames() []string {
	return []string{"none", "ghl", "ptd", "both", "base"}
}

// ParseSide returns the Side called name ("ghl" or "ptd" in configuration; every String form is
// accepted). An unknown name gets an error wrapping ErrUnknownName.
func ParseSide(name string) (Side, error) {
	i, err := parseName("side", name, sideNames())
	return Side(i), err
}

// String returns the lower-case name of s.
func (s Side) String() string { return nameOf(int(s), sideNames(), "side") }

// MarshalText encodes s by name.
func (s Side) MarshalText() ([]byte, error) { return marshalName(int(s), sideNames(), "side") }

// UnmarshalText decodes a name produced by MarshalText.
func (s *Side) UnmarshalText(b []byte) error {
	v, err := ParseSide(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Direction says which way a field may flow. The zero value is Both.
type Direction int

// The directions. A one-way field never writes to its source side; its destination is kept equal
// to the source (see Merge).
const (
	Both Direction = iota
	GHLToPTD
	PTDToGHL
)

func directionNames() []string {
	return []string{"both", "ghl-to-ptd", "ptd-to-ghl"}
}

// ParseDirection returns the Direction called name: "both", "ghl-to-ptd" or "ptd-to-ghl"
// (underscores are accepted for dashes). An unknown name gets an error wrapping ErrUnknownName.
func ParseDirection(name string) (Direction, error) {
	i, err := parseName("direction", strings.ReplaceAll(name, "_", "-"), directionNames())
	return Direction(i), err
}

// String returns the configuration name of d.
func (d Direction) String() string { return nameOf(int(d), directionNames(), "direction") }

// MarshalText encodes d by name.
func (d Direction) MarshalText() ([]byte, error) {
	return marshalName(int(d), directionNames(), "direction")
}

// UnmarshalText decodes a name produced by MarshalText or written in configuration.
func (d *Direction) UnmarshalText(b []byte) error {
	v, err := ParseDirection(string(b))
	if err == nil {
		*d = v
	}
	return err
}

// writes reports whether d allows writing to side.
func (d Direction) writes(side Side) bool {
	switch d {
	case GHLToPTD:
		return side == SidePTD
	case PTDToGHL:
		return side == SideGHL
	default:
		return true
	}
}

// Rule is a field's conflict rule: what decides when both sides changed a scalar field to different
// values since base. The zero value is Newest. Set fields never conflict (edits are combined).
type Rule int

// The conflict rules.
const (
	// Newest takes the side whose record UpdatedAt is later; a tie (including two zero times) goes
	// to HighLevel, the CRM of record, so the outcome is deterministic.
	Newest Rule = iota
	// PreferGHL always takes HighLevel's value.
	PreferGHL
	// PreferPTD always takes PT Distinction's value.
	PreferPTD
	// Manual writes nothing, keeps base, and reports a Conflict for the operator.
	Manual
)

func ruleNames() []string {
	return []string{"newest", "ghl", "ptd", "manual"}
}

// ParseRule returns the Rule called name: "newest", "ghl", "ptd" or "manual". An unknown name gets
// an error wrapping ErrUnknownName.
func ParseRule(name string) (Rule, error) {
	i, err := parseName("conflict rule", name, ruleNames())
	return Rule(i), err
}

// String returns the configuration name of r.
func (r Rule) String() string { return nameOf(int(r), ruleNames(), "rule") }

// MarshalText encodes r by name.
func (r Rule) MarshalText() ([]byte, error) { return marshalName(int(r), ruleNames(), "rule") }

// UnmarshalText decodes a name produced by MarshalText or written in configuration.
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	if err == nil {
		*r = v
	}
	return err
}

// FieldSpec declares how one mapped field is reconciled. Name is the key of the field in the
// Values of all three snapshots (the reconciler maps each side's own field names onto it).
type FieldSpec struct {
	Name       string
	Direction  Direction
	Rule       Rule
	Normalizer Normalizer
	// AllowEmpty lets a deliberate clearing (a non-empty base emptied on one side) flow to the
	// other side. Without it an empty value never overwrites a non-empty one. Even with it, an
	// empty value never wins when there is no base, because then nothing shows it was deliberate.
	AllowEmpty bool
	// Set marks a set-valued field (tags, groups): values are Value sets, edits from both sides
	// are combined, writes carry a SetDelta.
	Set bool
}

// ErrInvalidSpec is wrapped by every error ValidateSpecs returns.
var ErrInvalidSpec = errors.New("invalid field spec")

// SpecError reports what is wrong with the spec at Index (0-based, in the slice given to
// ValidateSpecs). It unwraps to ErrInvalidSpec.
type SpecError struct {
	Index  int
	Field  string
	Reason string
}

// Error says which spec is wrong and why.
func (e *SpecError) Error() string {
	return fmt.Sprintf("cannot use field spec %d (%q): %s", e.Index, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidSpec.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// Validate checks one spec on its own: a non-empty name, known enum values, and the tags
// normalizer only on set fields. The error is a *SpecError with Index 0.
func (s FieldSpec) Validate() error {
	reason := ""
	switch {
	case strings.TrimSpace(s.Name) == "":
		reason = "empty field name"
	case s.Direction < Both || s.Direction > PTDToGHL:
		reason = fmt.Sprintf("unknown direction %d", int(s.Direction))
	case s.Rule < Newest || s.Rule > Manual:
		reason = fmt.Sprintf("unknown conflict rule %d", int(s.Rule))
	case s.Normalizer < NormNone || s.Normalizer > NormTags:
		reason = fmt.Sprintf("unknown normalizer %d", int(s.Normalizer))
	case s.Normalizer == NormTags && !s.Set:
		reason = "normalizer \"tags\" needs a set field"
	}
	if reason == "" {
		return nil
	}
	return &SpecError{Field: s.Name, Reason: reason}
}

// ValidateSpecs checks every spec and that no field name repeats. It returns nil or the
// errors.Join of one *SpecError per problem, in order. Merge skips (and reports) specs that fail
// these checks, so configuration should call ValidateSpecs and refuse to start instead.
func ValidateSpecs(specs []FieldSpec) error {
	var errs []error
	seen := make(map[string]int, len(specs))
	for i, s := range specs {
		if err := s.Validate(); err != nil {
			se := err.(*SpecError)
			se.Index = i
			errs = append(errs, se)
			continue
		}
		if j, dup := seen[s.Name]; dup {
			errs = append(errs, &SpecError{Index: i, Field: s.Name, Reason: fmt.Sprintf("duplicates spec %d", j)})
			continue
		}
		seen[s.Name] = i
	}
	return errors.Join(errs...)
}
