package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var canonSeeds = []string{
	`{}`, `[]`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"x"}`, `"s"`, `0`, `-0.5e+10`, `1E3`, `true`, `false`, `null`,
	`{"a": 1}`, ` {}`, `{} `, `{"a":"<b>"}`, `{"a":"&amp;"}`, "{\"a\":\"x\u2028y\"}", `{"a":"\u003c"}`, `{"a":"\"\\\/\b\f\n\r\t"}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}",
	`{"a":1,}`, `[1,]`, `{"a"}`, `{,}`, `[`, `"`, `{"a":1}{}`, `{"a":"é✓"}`, "\"\xff\"", strings.Repeat("[", 300) + strings.Repeat("]", 300),
}

// TestCanonicalJSON: canonicalJSON says yes exactly for values json.Marshal leaves unchanged
// among the seeds (it may say no to more, never yes to less).
func TestCanonicalJSON(t *testing.T) {
	want := map[string]bool{`{}`: true, `[]`: true, `{"a":1}`: true, `{"a":[1,2,{"b":null}],"c":"x"}`: true, `"s"`: true,
		`0`: true, `-0.5e+10`: true, `1E3`: true, `true`: true, `false`: true, `null`: true, `{"a":"\u003c"}`: true,
		`{"a":"\"\\\/\b\f\n\r\t"}`: true, `{"a":"é✓"}`: true, "\"\xff\"": true}
	for _, s := range canonSeeds {
		t.Run(s[:min(len(s), 30)], func(t *testing.T) {
			if got := canonicalJSON([]byte(s)); got != want[s] {
				t.Fatalf("canonicalJSON(%q) = %v, want %v", s, got, want[s])
			}
			checkCanon(t, []byte(s))
		})
	}
}

func checkCanon(t *testing.T, b []byte) {
	t.Helper()
	if !canonicalJSON(b) {
		return
	}
	out, err := json.Marshal(json.RawMessage(b))
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("canonicalJSON(%q) = true but json.Marshal gives %q, %v", b, out, err)
	}
}

// FuzzCanonicalJSON: whatever canonicalJSON accepts, json.Marshal accepts and leaves as is.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range canonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkCanon(t, b) })
}
