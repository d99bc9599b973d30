package ghl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestDecodeContactsKeepsOrderAndFirstError: a page large enough to be decoded on several
// goroutines comes back in order, each contact with its own raw bytes, and a page with
// malformed contacts reports the first of them, as decoding in order does.
func TestDecodeContactsKeepsOrderAndFirstError(t *testing.T) {
	for _, n := range []int{1, 99, 250, 501} {
		raws := make([]json.RawMessage, n)
		for i := range raws {
			raws[i] = json.RawMessage(fmt.Sprintf(`{"id":"c%04d","email":"u%d@example.com","tags":["t%d"]}`, i, i, i%3))
		}
		got, err := decodeContacts(OpSearchContacts, raws)
		if err != nil || len(got) != n {
			t.Fatalf("%d contacts: %d decoded, %v", n, len(got), err)
		}
		for i, c := range got {
			if c.ID != fmt.Sprintf("c%04d", i) || string(c.Raw) != string(raws[i]) {
				t.Fatalf("%d contacts: contact %d is %s (raw %s)", n, i, c.ID, c.Raw)
			}
		}
		if n < 3 {
			continue
		}
		bad := []int{n - 1, n / 2}
		for _, i := range bad {
			raws[i] = json.RawMessage(`{"id":`)
		}
		_, err = decodeContacts(OpSearchContacts, raws)
		if want := fmt.Sprintf("contact %d:", n/2); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("%d contacts, %v malformed: error %v, want it to start with %q", n, bad, err, want)
		}
	}
}
