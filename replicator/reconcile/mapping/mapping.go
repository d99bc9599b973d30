// Package mapping is the configured field mapping of the reconcile stages: how a mirrored
// HighLevel contact and PT Distinction client read as merge values (diff.Snapshot) under the
// mapping's field names, how values are encoded in bases and history, and how written values
// turn back into mirror records and request bodies. It is pure: no I/O, no clock of its own
// (callers pass the time), and a Mapping never changes after New, so the planner, the pusher
// and the PTD poll share one without locks.
package mapping

import (
	"errors"
	"fmt"

	"ptsync/config"
	"ptsync/diff"
)

// Mapping is the mapping ready to merge: one diff.FieldSpec per mapping field (Specs, in the
// configuration's order), the mapping field of each spec name (Fields: its wire name on each
// side) and the merge options (initial winner, phone region, time zone of zone-less times).
// Read-only after New; safe for concurrent use. Callers must not modify the slices or maps.
type Mapping struct {
	Specs   []diff.FieldSpec
	Fields  map[string]config.Field
	Options diff.Options
}

// New builds the Mapping of m (which config.Parse has validated and defaulted). The error
// lists every unusable field; nothing is built then.
func New(m config.Mapping) (*Mapping, error) {
	specs, fields, err := Specs(m)
	if err != nil {
		return nil, err
	}
	winner := diff.SidePTD
	if m.InitialWinner == config.SideGHL {
		winner = diff.SideGHL
	}
	return &Mapping{Specs: specs, Fields: fields,
		Options: diff.Options{InitialWinner: winner, Locale: diff.Locale{Region: m.PhoneRegion, Location: m.Location}}}, nil
}

// Specs turns the configuration's mapping into diff field specs, keyed by mapping field
// name, and the mapping fields by the same name (config.DefaultFields when the mapping names
// none). List fields (tags, groups, packages) always merge as sets. The error lists every
// unusable field; the specs returned with it are partial and must not be used.
func Specs(m config.Mapping) ([]diff.FieldSpec, map[string]config.Field, error) {
	var specs []diff.FieldSpec
	fmap := map[string]config.Field{}
	var errs []error
	fields := m.Fields
	if len(fields) == 0 {
		fields = config.DefaultFields(m.DefaultConflict)
	}
	for _, f := range fields {
		dir, err := diff.ParseDirection(f.Direction)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", f.Name, err))
		}
		rule, err := diff.ParseRule(f.Conflict)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", f.Name, err))
		}
		norm, err := diff.ParseNormalizer(f.Normalizer)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", f.Name, err))
		}
		set := IsSetField(f.GHL) || IsSetField(f.PTD)
		if set && norm != diff.NormTags {
			norm = diff.NormTags
		}
		specs = append(specs, diff.FieldSpec{Name: f.Name, Direction: dir, Rule: rule, Normalizer: norm, AllowEmpty: f.AllowEmpty, Set: set})
		fmap[f.Name] = f
	}
	if err := diff.ValidateSpecs(specs); err != nil {
		errs = append(errs, err)
	}
	return specs, fmap, errors.Join(errs...)
}

// IsSetField reports whether a wire field holds a list that merges as a set (tags, PTD
// groups and packages).
func IsSetField(name string) bool { return name == "tags" || name == "groups" || name == "packages" }

// Spec returns the spec of mapping field name, nil when the mapping has none.
func (m *Mapping) Spec(name string) *diff.FieldSpec {
	for i := range m.Specs {
		if m.Specs[i].Name == name {
			return &m.Specs[i]
		}
	}
	return nil
}

// Normalize is s as field name's normalizer renders it (whatever the normalizer answers for
// a value it rejects, often ""); s unchanged when the field is not in the mapping. For
// comparisons only: a value to write is normalized with its error checked.
func (m *Mapping) Normalize(name, s string) string {
	if spec := m.Spec(name); spec != nil {
		n, _ := spec.Normalizer.Apply(s, m.Options.Locale)
		return n
	}
	return s
}

// SameValues reports whether two value maps hold the same encoded value for every field of
// the mapping (fields outside it are not compared).
func (m *Mapping) SameValues(a, b diff.Values) bool {
	for _, spec := range m.Specs {
		if EncodeValue(a[spec.Name]) != EncodeValue(b[spec.Name]) {
			return false
		}
	}
	return true
}

// UnwritableOnUpdate reports whether HighLevel drops HighLevel field wire from
// PUT /contacts/{id} (the client removes it), so a write of it would never land and would
// repeat forever: such a field flows one way only.
func UnwritableOnUpdate(wire string) bool { return wire == "gender" || wire == "companyName" }
