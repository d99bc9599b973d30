package plan

import (
	"maps"
	"testing"

	"ptsync/diff"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// TestNewBase pins the one rule contacts and children share for the base a merge leaves: a
// settled field takes the merged value now, a written field carries it on the write (the
// push stores it), a dropped field keeps its old base, fields outside the specs are kept.
func TestNewBase(t *testing.T) {
	specs := []diff.FieldSpec{{Name: "first"}, {Name: "email"}, {Name: "phone"}, {Name: "tags", Set: true, Normalizer: diff.NormTags}}
	res := diff.Result{Base: diff.Snapshot{Values: diff.Values{
		"first": diff.Scalar("Ann"), "email": diff.Scalar("ann@x.io"), "phone": diff.Scalar("+15550100"),
		"tags": diff.SetOf("vip", "Alpha"),
	}}}
	old := &store.Base{Fields: map[string]string{"first": "Anne", "email": "old@x.io", "phone": "+15550199", "legacy": "kept"}}
	cases := []struct {
		name        string
		old         *store.Base
		toGHL       []string
		toPTD       []string
		dropped     []string
		wantFields  map[string]string
		wantWritten map[string]string // field -> Base carried on its write(s)
		wantChanged bool
	}{
		{name: "settled fields take the merged value", old: old,
			wantFields:  map[string]string{"first": "Ann", "email": "ann@x.io", "phone": "+15550100", "tags": `["Alpha","vip"]`, "legacy": "kept"},
			wantChanged: true},
		{name: "written fields wait for the push", old: old, toGHL: []string{"first"}, toPTD: []string{"first", "tags"},
			wantFields:  map[string]string{"first": "Anne", "email": "ann@x.io", "phone": "+15550100", "legacy": "kept"},
			wantWritten: map[string]string{"first": "Ann", "tags": `["Alpha","vip"]`}, wantChanged: true},
		{name: "dropped fields keep the old base", old: old, dropped: []string{"email", "phone", "tags"},
			wantFields: map[string]string{"first": "Ann", "email": "old@x.io", "phone": "+15550199", "legacy": "kept"}, wantChanged: true},
		{name: "no change is no new base",
			old:         &store.Base{Fields: map[string]string{"first": "Ann", "email": "ann@x.io", "phone": "+15550100", "tags": `["Alpha","vip"]`}},
			wantFields:  map[string]string{"first": "Ann", "email": "ann@x.io", "phone": "+15550100", "tags": `["Alpha","vip"]`},
			wantChanged: false},
		{name: "a first merge always stores", toPTD: []string{"email"},
			wantFields:  map[string]string{"first": "Ann", "phone": "+15550100", "tags": `["Alpha","vip"]`},
			wantWritten: map[string]string{"email": "ann@x.io"}, wantChanged: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, dropped := newWrites(), map[string]bool{}
			for _, f := range tc.toGHL {
				w.toGHL[f] = outbox.FieldWrite{Wire: f}
			}
			for _, f := range tc.toPTD {
				w.toPTD[f] = outbox.FieldWrite{Wire: f}
			}
			for _, f := range tc.dropped {
				dropped[f] = true
			}
			var before map[string]string
			if tc.old != nil {
				before = maps.Clone(tc.old.Fields)
			}
			fields, changed := newBase(tc.old, specs, res, w, dropped)
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if !sameFields(fields, tc.wantFields) {
				t.Errorf("fields %v, want %v", fields, tc.wantFields)
			}
			for _, side := range []map[string]outbox.FieldWrite{w.toGHL, w.toPTD} {
				for f, fw := range side {
					if fw.Base == nil || *fw.Base != tc.wantWritten[f] {
						t.Errorf("write of %s carries base %v, want %q", f, fw.Base, tc.wantWritten[f])
					}
				}
			}
			if tc.old != nil && !sameFields(before, tc.old.Fields) {
				t.Errorf("the old base was modified: %v, was %v", tc.old.Fields, before)
			}
		})
	}
}
