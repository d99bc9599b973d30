package diff

import (
	"fmt"
	"sort"
	"strings"
)

// Summary renders r as one human line that names fields but never values, so it is safe for logs
// (values are contact data): `to ghl: phone, tags +vip -lead; to ptd: email; conflict: first_name;
// invalid: phone@ptd`. A plan with nothing to do reads "in sync".
func (r Result) Summary() string {
	var parts []string
	if s := writesSummary(r.ToGHL); s != "" {
		parts = append(parts, "to ghl: "+s)
	}
	if s := writesSummary(r.ToPTD); s != "" {
		parts = append(parts, "to ptd: "+s)
	}
	if len(r.Conflicts) > 0 {
		names := make([]string, len(r.Conflicts))
		for i, c := range r.Conflicts {
			names[i] = c.Field
		}
		parts = append(parts, plural(len(names), "conflict")+": "+strings.Join(names, ", "))
	}
	if len(r.Invalid) > 0 {
		names := make([]string, len(r.Invalid))
		for i, iv := range r.Invalid {
			names[i] = iv.Field + "@" + iv.Side.String()
		}
		parts = append(parts, "invalid: "+strings.Join(names, ", "))
	}
	if len(parts) == 0 {
		return "in sync"
	}
	return strings.Join(parts, "; ")
}

// writesSummary lists written fields in name order; set fields show their delta. Tags are labels
// chosen by the coach, not contact data, so they are shown.
func writesSummary(w Writes) string {
	fields := make([]string, 0, len(w))
	for f := range w {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for i, f := range fields {
		if wr := w[f]; wr.Value.IsSet {
			fields[i] = f + " " + deltaString(wr.Delta)
		}
	}
	return strings.Join(fields, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
