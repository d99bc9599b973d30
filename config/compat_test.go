package config

import (
	"testing"

	"ptsync/diff"
)

// TestNamesAgreeWithDiff keeps the configuration words accepted here in step with the names the
// diff package parses, so the replicator can hand every Field straight to diff.Parse*.
func TestNamesAgreeWithDiff(t *testing.T) {
	tests := []struct {
		kind  string
		names []string
		parse func(string) error
	}{
		{"direction", []string{DirectionBoth, DirectionGHLToPTD, DirectionPTDToGHL}, func(s string) error { _, err := diff.ParseDirection(s); return err }},
		{"conflict", []string{ConflictNewest, ConflictGHL, ConflictPTD, ConflictManual}, func(s string) error { _, err := diff.ParseRule(s); return err }},
		{"normalizer", []string{NormalizeEmail, NormalizePhone, NormalizeName, NormalizeTime, NormalizeTags, NormalizeNone}, func(s string) error { _, err := diff.ParseNormalizer(s); return err }},
		{"side", []string{SideGHL, SidePTD}, func(s string) error { _, err := diff.ParseSide(s); return err }},
	}
	for _, tc := range tests {
		for _, n := range tc.names {
			t.Run(tc.kind+"/"+n, func(t *testing.T) {
				if err := tc.parse(n); err != nil {
					t.Errorf("diff cannot parse the config %s %q: %v", tc.kind, n, err)
				}
			})
		}
	}
}
