package sweepguard

import (
	"fmt"
	"strings"
	"testing"
)

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%d", i)
	}
	return out
}

func TestJudge(t *testing.T) {
	b := Bounds{MaxShare: 0.5, MaxCount: 50}
	for _, tc := range []struct {
		name   string
		ev     Evidence
		reason string // "" believed
	}{
		{"nothing missing", Evidence{Mirrored: 300, Listed: 300, Reported: 300}, ""},
		{"3 of 300 deleted", Evidence{Mirrored: 300, Listed: 297, Reported: 297, Missing: ids(3)}, ""},
		{"empty listing, total 0", Evidence{Mirrored: 345, Listed: 0, Reported: 0, Missing: ids(345)}, "empty listing while the mirror holds 345"},
		{"empty listing of one contact", Evidence{Mirrored: 1, Listed: 0, Reported: 0, Missing: ids(1)}, "empty listing while the mirror holds 1"},
		{"rows fewer than meta.total", Evidence{Mirrored: 300, Listed: 100, Reported: 300, Missing: ids(200)}, "reports 300 records but returned 100"},
		{"over max_count, under max_share", Evidence{Mirrored: 1000, Listed: 949, Reported: -1, Missing: ids(51)}, "more than max_count 50"},
		{"over max_share", Evidence{Mirrored: 20, Listed: 9, Reported: -1, Missing: ids(11)}, "11 of 20 mirrored records (55%)"},
		{"exactly max_share", Evidence{Mirrored: 20, Listed: 10, Reported: -1, Missing: ids(10)}, ""},
		{"children: two of two deleted", Evidence{Mirrored: 2, Listed: 0, Reported: -1, Missing: ids(2), Floor: ChildFloor}, ""},
		{"children: five of five gone", Evidence{Mirrored: 5, Listed: 0, Reported: -1, Missing: ids(5), Floor: ChildFloor}, "empty listing while the mirror holds 5"},
		{"children: three of four gone", Evidence{Mirrored: 4, Listed: 1, Reported: -1, Missing: ids(3), Floor: ChildFloor}, "3 of 4 mirrored records"},
		{"zero bounds take the defaults", Evidence{Mirrored: 10, Listed: 2, Reported: -1, Missing: ids(8)}, "more than max_share 0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bounds := b
			if strings.HasPrefix(tc.name, "zero bounds") {
				bounds = Bounds{}
			}
			v := Judge(bounds, tc.ev)
			switch {
			case tc.reason == "" && v.Suspect:
				t.Errorf("held (%s), want believed", v.Reason)
			case tc.reason != "" && !v.Suspect:
				t.Errorf("believed, want held for %q", tc.reason)
			case tc.reason != "" && !strings.Contains(v.Reason, tc.reason):
				t.Errorf("reason %q, want it to say %q", v.Reason, tc.reason)
			}
		})
	}
}
