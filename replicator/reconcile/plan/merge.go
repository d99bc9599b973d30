package plan

import (
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// writes are what one merge sends to each side, by mapping field name: the fields the merge
// changed on that side that the planner did not drop (held by a conflict, refused by the
// side, read-only).
type writes struct {
	toGHL, toPTD map[string]outbox.FieldWrite
}

func newWrites() writes {
	return writes{toGHL: map[string]outbox.FieldWrite{}, toPTD: map[string]outbox.FieldWrite{}}
}

// any reports whether anything is written to either side.
func (w writes) any() bool { return len(w.toGHL) > 0 || len(w.toPTD) > 0 }

// direction is the history direction of field f: "both", "ptd->ghl", "ghl->ptd" or "local"
// (nothing written: the sides agreed, or the write was dropped).
func (w writes) direction(f string) string {
	_, g := w.toGHL[f]
	_, p := w.toPTD[f]
	switch {
	case g && p:
		return "both"
	case g:
		return "ptd->ghl"
	case p:
		return "ghl->ptd"
	}
	return "local"
}

// newBase is the base a merge result leaves for one link, contacts and children alike: the
// old base's fields; each field of specs the merge settled without a write takes its merged
// value now (res.Base); a field written to either side keeps its old base and carries the
// merged value as each write's Base instead, which the push's success stores (until then an
// echo of the write must not read as agreement); a dropped field keeps its old base, so the
// next merge sees the same difference again. It sets the writes' Base in w. changed reports
// whether the fields differ from old's (always, without an old base): only then is a new
// base worth storing.
func newBase(old *store.Base, specs []diff.FieldSpec, res diff.Result, w writes, dropped map[string]bool) (fields map[string]string, changed bool) {
	fields = map[string]string{}
	if old != nil {
		for k, v := range old.Fields {
			fields[k] = v
		}
	}
	for _, spec := range specs {
		f := spec.Name
		v, ok := res.Base.Values[f]
		if !ok || dropped[f] {
			continue
		}
		enc := mapping.EncodeValue(v)
		g, wg := w.toGHL[f]
		pt, wp := w.toPTD[f]
		if !wg && !wp {
			fields[f] = enc
			continue
		}
		if wg {
			g.Base = &enc
			w.toGHL[f] = g
		}
		if wp {
			pt.Base = &enc
			w.toPTD[f] = pt
		}
	}
	return fields, old == nil || !sameFields(old.Fields, fields)
}

// decisionHistory is one history line per field the merge decided and the planner did not
// drop, with its direction; invalid values and manual conflicts are left out (a conflict has
// its own line when it is recorded).
func decisionHistory(kind, recordID string, res diff.Result, w writes, dropped map[string]bool) []store.HistoryEntry {
	var out []store.HistoryEntry
	for _, d := range res.Decisions {
		if dropped[d.Field] || d.Rule == diff.ReasonInvalid || d.Rule == diff.ReasonManual {
			continue
		}
		out = append(out, store.HistoryEntry{RecordKind: kind, RecordID: recordID, Field: d.Field,
			Old: mapping.EncodeValue(d.Old), New: mapping.EncodeValue(d.New), Direction: w.direction(d.Field), Rule: string(d.Rule)})
	}
	return out
}

// sameFields reports whether two bases hold the same fields with the same values.
func sameFields(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
