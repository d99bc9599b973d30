package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestBinaryValueMatchesJSON checks that a record read back from the schema-3 form equals
// what the schema-2 JSON form gave back, for the edge cases of each field kind: empty and
// nil lists, zero times, times in other zones and with nanoseconds, raw JSON with spaces
// (compacted, as json.Marshal did) and unicode, and no raw at all.
func TestBinaryValueMatchesJSON(t *testing.T) {
	paris := time.FixedZone("", 3600)
	at := time.Date(2025, 3, 1, 9, 30, 15, 123456789, time.UTC)
	tests := []struct {
		name string
		r    record
	}{
		{"full contact", &GHLContact{ID: "c1", Email: "ann@example.com", Phone: "+15550100001", FirstName: "Ann",
			LastName: "Ärcher ✓", Tags: []string{"vip", " Online "}, DateAdded: at, DateUpdated: at.In(paris),
			Raw: json.RawMessage(`{ "id": "c1", "customFields": [ {"id":"x","value":"<b>&amp;</b>"} ] }`), FetchedAt: at}},
		{"minimal contact", &GHLContact{ID: "c2"}},
		{"empty tag list reads back nil", &GHLContact{ID: "c3", Tags: []string{}}},
		{"raw with a line separator", &GHLContact{ID: "c5", Raw: json.RawMessage("{\"a\":\"x\u2028y\", \"b\": \"\\u003c\"}")}},
		{"raw null", &GHLContact{ID: "c4", Raw: json.RawMessage(`null`)}},
		{"task", &GHLTask{ID: "t1", ContactID: "c1", Title: "Call", Body: "line1\nline2", AssignedTo: "u1",
			DueDate: at, Completed: true, Raw: json.RawMessage(`{"id":"t1"}`)}},
		{"note", &GHLNote{ID: "n1", ContactID: "c1", Body: strings.Repeat("long ", 100), DateAdded: at}},
		{"appointment", &GHLAppointment{ID: "a1", ContactID: "c1", Title: "Assessment", Status: "booked",
			StartTime: at, EndTime: at.Add(time.Hour), DateUpdated: at}},
		{"ptd client", &PTDClient{ID: "p1", Email: "a@b.c", Tags: []string{"x"}, Groups: []string{"g1", "g2"},
			Packages: []string{"pk"}, Access: "online", ETag: `W/"3"`, CreatedAt: at, UpdatedAt: at, FetchedAt: at}},
		{"ptd task", &PTDTask{ID: "pt1", ClientID: "p1", Title: "x", DueAt: at, UpdatedAt: at}},
		{"ptd note", &PTDNote{ID: "pn1", ClientID: "p1", Body: "b", CreatedAt: at, UpdatedAt: at}},
		{"ptd appointment", &PTDAppointment{ID: "pa1", ClientID: "p1", ExternalID: "a1", StartAt: at, EndAt: at, Status: "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := encodeValue(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if v[0] != binFormat {
				t.Fatalf("value starts with %#x, want the binary form", v[0])
			}
			got := reflect.New(reflect.TypeOf(tc.r).Elem()).Interface()
			if err := decodeValue(v, got, false); err != nil {
				t.Fatal(err)
			}
			jb, _ := json.Marshal(tc.r)
			wantRec := reflect.New(reflect.TypeOf(tc.r).Elem()).Interface()
			if err := json.Unmarshal(jb, wantRec); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantRec) {
				t.Fatalf("binary round trip differs from JSON's:\n got %+v\nwant %+v", got, wantRec)
			}
			noRaw := reflect.New(reflect.TypeOf(tc.r).Elem()).Interface()
			if err := decodeValue(v, noRaw, true); err != nil {
				t.Fatal(err)
			}
			if raw := *noRaw.(binRecord).rawField(); raw != nil {
				t.Fatalf("skipRaw left Raw = %s", raw)
			}
		})
	}
}

// TestBadValues checks that damaged values and unencodable records give clear errors, never
// a panic or a silently wrong record.
func TestBadValues(t *testing.T) {
	good, err := encodeValue(&GHLContact{ID: "c1", Email: "a@b.c", Tags: []string{"vip"}, DateAdded: time.Unix(1e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < len(good); cut++ {
		if err := decodeValue(good[:cut], new(GHLContact), false); err == nil {
			// A cut inside the raw part is legal (no raw here), inside the header is not.
			t.Errorf("value cut at %d of %d decoded without error", cut, len(good))
		}
	}
	long := append([]byte{binFormat, 0xff, 0xff, 0xff, 0xff, 0x0f}, good[2:]...)
	if err := decodeValue(long, new(GHLContact), false); err == nil {
		t.Error("header length beyond the value decoded without error")
	}
	if _, err := encodeValue(&GHLContact{ID: "c1", Raw: json.RawMessage(`{"a":`)}); err == nil ||
		!strings.Contains(err.Error(), "raw is not valid JSON") {
		t.Errorf("invalid raw: err = %v", err)
	}

	db, err := Open(filepath.Join(t.TempDir(), "m.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *Tx) error {
		if err := tx.PutGHLContact(&GHLContact{ID: "c1", Raw: json.RawMessage(`nope`)}); err == nil ||
			!strings.Contains(err.Error(), `cannot encode ghl.contacts "c1"`) {
			t.Errorf("put with invalid raw: %v", err)
		}
		return tx.btx.Bucket([]byte(GHLContacts)).Put([]byte("c2"), good[:len(good)-3])
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error { _, err := tx.GetGHLContact("c2"); return err })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"c2"`) {
		t.Errorf("get of a truncated value = %v, want ErrCorrupt naming the key", err)
	}
	if err := db.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check of a truncated value = %v, want ErrCorrupt", err)
	}
}
