package ghlsim

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// TestRoutes exercises every route's success and its documented errors over real HTTP.
func TestRoutes(t *testing.T) {
	h := newHarness(t, Options{Seed: 3})
	loc := h.sim.LocationID()
	c := h.create(ghlwire.ContactInput{FirstName: ptr("Ada"), LastName: ptr("Lovelace"), Email: ptr("ada@example.com"), Phone: ptr("(555) 010 1234"), Tags: []string{"VIP", " lead "}})
	task, _ := h.sim.AddTask(c.ID, ghlwire.TaskInput{Title: ptr("Call"), DueDate: ptr("2026-06-02T10:00:00Z"), Completed: ptr(false)})
	note, _ := h.sim.AddNote(c.ID, ghlwire.NoteInput{Body: ptr("likes mornings")})
	if _, err := h.sim.AddAppointment(c.ID, ghlwire.Appointment{Title: "PT session", StartTime: "2026-06-03T09:00:00.000Z"}); err != nil {
		t.Fatal(err)
	}
	cp := "/contacts/" + c.ID
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		want   []string // substrings of the body
	}{
		{"get contact", "GET", cp, nil, 200, []string{`"contact":{`, `"phone":"+15550101234"`, `"tags":["vip","lead"]`}},
		{"get unknown contact", "GET", "/contacts/nope", nil, 404, []string{`"statusCode":404`, `"message":"Contact not found"`}},
		{"list tasks", "GET", cp + "/tasks", nil, 200, []string{`"tasks":[{`, task.ID}},
		{"list tasks unknown contact", "GET", "/contacts/nope/tasks", nil, 404, []string{"Contact not found"}},
		{"get task", "GET", cp + "/tasks/" + task.ID, nil, 200, []string{`"task":{`, `"title":"Call"`}},
		{"get unknown task", "GET", cp + "/tasks/nope", nil, 404, []string{"Task not found"}},
		{"create task", "POST", cp + "/tasks", map[string]any{"title": "Email", "dueDate": "2026-07-01T00:00:00Z", "completed": false}, 201, []string{`"task":{`, `"title":"Email"`}},
		{"create task missing fields", "POST", cp + "/tasks", map[string]any{"body": "x"}, 422, []string{`"message":["title should not be empty","dueDate must be a valid ISO 8601 date string","completed must be a boolean value"]`}},
		{"update task", "PUT", cp + "/tasks/" + task.ID, map[string]any{"title": "Call back"}, 200, []string{`"title":"Call back"`}},
		{"complete task", "PUT", cp + "/tasks/" + task.ID + "/completed", map[string]any{"completed": true}, 200, []string{`"completed":true`}},
		{"complete task without flag", "PUT", cp + "/tasks/" + task.ID + "/completed", map[string]any{}, 422, []string{"completed must be a boolean value"}},
		{"list notes", "GET", cp + "/notes", nil, 200, []string{`"notes":[{`, note.ID}},
		{"get note", "GET", cp + "/notes/" + note.ID, nil, 200, []string{`"note":{`, "likes mornings"}},
		{"get unknown note", "GET", cp + "/notes/nope", nil, 404, []string{"Note not found"}},
		{"create note", "POST", cp + "/notes", map[string]any{"body": "second"}, 201, []string{`"note":{`, `"body":"second"`}},
		{"create note without body", "POST", cp + "/notes", map[string]any{"title": "t"}, 422, []string{`["body should not be empty"]`}},
		{"update note", "PUT", cp + "/notes/" + note.ID, map[string]any{"body": "edited"}, 200, []string{`"body":"edited"`}},
		{"appointments", "GET", cp + "/appointments", nil, 200, []string{`"events":[{`, `"title":"PT session"`}},
		{"appointments unknown contact", "GET", "/contacts/nope/appointments", nil, 404, nil},
		{"add tags", "POST", cp + "/tags", map[string]any{"tags": []string{"Client"}}, 201, []string{`{"tags":["vip","lead","client"]}`}},
		{"add tags without tags", "POST", cp + "/tags", map[string]any{}, 422, []string{"tags must be an array"}},
		{"remove tags (DELETE with body)", "DELETE", cp + "/tags", map[string]any{"tags": []string{"lead"}}, 200, []string{`{"tags":["vip","client"]}`}},
		{"update contact", "PUT", cp, map[string]any{"city": "Leeds"}, 200, []string{`"succeded":true`, `"city":"Leeds"`}},
		{"update unknown contact", "PUT", "/contacts/nope", map[string]any{"city": "Leeds"}, 404, nil},
		{"update unknown property", "PUT", cp, map[string]any{"shoeSize": 9}, 422, []string{`["property shoeSize should not exist"]`}},
		{"malformed body", "PUT", cp, `{"city":`, 400, []string{`"statusCode":400`}},
		{"create contact missing location", "POST", "/contacts/", map[string]any{"firstName": "X"}, 422, []string{`["locationId should not be empty"]`}},
		{"create contact other location", "POST", "/contacts/", map[string]any{"locationId": "other", "firstName": "X"}, 403, nil},
		{"create contact bad email", "POST", "/contacts/", map[string]any{"locationId": loc, "email": "not-an-email"}, 422, []string{"email must be an email"}},
		{"upsert updates by email", "POST", "/contacts/upsert", map[string]any{"locationId": loc, "email": "ADA@example.com", "lastName": "King"}, 200, []string{`"new":false`, `"lastName":"King"`, `"traceId":"`}},
		{"upsert creates", "POST", "/contacts/upsert", map[string]any{"locationId": loc, "email": "grace@example.com"}, 200, []string{`"new":true`}},
		{"duplicate search by email", "GET", "/contacts/search/duplicate?locationId=" + loc + "&email=Ada%40Example.com", nil, 200, []string{`"contact":{"id":"` + c.ID}},
		{"duplicate search by number", "GET", "/contacts/search/duplicate?locationId=" + loc + "&number=%2B15550101234", nil, 200, []string{c.ID}},
		{"duplicate search miss", "GET", "/contacts/search/duplicate?locationId=" + loc + "&email=none%40x.io", nil, 200, []string{`"contact":null`}},
		{"duplicate search missing location", "GET", "/contacts/search/duplicate?email=a%40b.c", nil, 422, nil},
		{"business contacts", "GET", "/contacts/business/none?locationId=" + loc, nil, 200, []string{`"contacts":[]`, `"count":0`}},
		{"business bad limit", "GET", "/contacts/business/none?locationId=" + loc + "&limit=abc", nil, 422, nil},
		{"delete note", "DELETE", cp + "/notes/" + note.ID, nil, 200, []string{`{"succeded":true}`}},
		{"delete note again", "DELETE", cp + "/notes/" + note.ID, nil, 404, nil},
		{"delete task", "DELETE", cp + "/tasks/" + task.ID, nil, 200, []string{`{"succeded":true}`}},
		{"unknown route", "PATCH", cp, nil, 404, []string{"Cannot PATCH"}},
		{"delete contact", "DELETE", cp, nil, 200, []string{`{"succeded":true}`}},
		{"delete contact again", "DELETE", cp, nil, 404, nil},
		{"children of deleted contact", "GET", cp + "/notes", nil, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("body lacks %s:\n%s", w, r.body)
				}
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if r.status >= 400 {
				e := r.errBody(t)
				if e.StatusCode != tc.status || e.TraceID == "" {
					t.Errorf("error body %+v lacks statusCode or traceId", e)
				}
				var arr []string
				isArray := json.Unmarshal(e.Message, &arr) == nil
				if isArray != (tc.status == 422) {
					t.Errorf("message %s: array=%v for status %d (only 422 uses an array)", e.Message, isArray, tc.status)
				}
			}
		})
	}
	// Every route must have been exercised.
	for _, route := range h.sim.Routes() {
		if h.sim.Requests()[route] == 0 && route != "GET /contacts/" && route != "POST /contacts/search" {
			t.Errorf("route %s never called", route)
		}
	}
}

func TestDuplicates(t *testing.T) {
	tests := []struct {
		name      string
		allow     bool
		in        ghlwire.ContactInput
		status    int
		wantField string
	}{
		{"email differs only in case and space", false, ghlwire.ContactInput{Email: ptr("  JOHN@Example.com")}, 400, "email"},
		{"phone in another format", false, ghlwire.ContactInput{Phone: ptr("+1 555-010-9999")}, 400, "phone"},
		{"no match", false, ghlwire.ContactInput{Email: ptr("other@example.com")}, 201, ""},
		{"duplicates allowed", true, ghlwire.ContactInput{Email: ptr("john@example.com")}, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{AllowDuplicates: tc.allow})
			first := h.create(ghlwire.ContactInput{FirstName: ptr("John"), LastName: ptr("Doe"), Email: ptr("john@example.com"), Phone: ptr("5550109999")})
			tc.in.LocationID = h.sim.LocationID()
			r := h.call("POST", "/contacts/", tc.in)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 400 {
				return
			}
			e := r.errBody(t)
			if got := e.Messages(); len(got) != 1 || got[0] != ghlwire.MsgDuplicateContact {
				t.Errorf("message %v", got)
			}
			if e.Meta == nil || e.Meta.ContactID != first.ID || e.Meta.MatchingField != tc.wantField || e.Meta.ContactName != "John Doe" {
				t.Errorf("meta %+v, want contact %s field %s", e.Meta, first.ID, tc.wantField)
			}
			if n := h.sim.ContactCount(); n != 1 {
				t.Errorf("%d contacts after a refused duplicate", n)
			}
		})
	}
}

func TestVersionHeader(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.create(ghlwire.ContactInput{FirstName: ptr("V")})
	tests := []struct {
		name    string
		version string
		status  int
	}{
		{"missing", "", 400},
		{"sdk default", "2023-02-21", 400},
		{"documented", ghlwire.APIVersion, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("GET", "/contacts/"+c.ID, nil, "Version", tc.version)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
}

func TestDateUpdatedMoves(t *testing.T) {
	tests := []struct {
		name      string
		childBump bool
		write     func(h *harness, id string) resp
		moves     bool
	}{
		{"put", false, func(h *harness, id string) resp {
			return h.call("PUT", "/contacts/"+id, map[string]any{"city": "Austin"})
		}, true},
		{"add tag", false, func(h *harness, id string) resp {
			return h.call("POST", "/contacts/"+id+"/tags", map[string]any{"tags": []string{"x"}})
		}, true},
		{"remove tag", false, func(h *harness, id string) resp {
			return h.call("DELETE", "/contacts/"+id+"/tags", map[string]any{"tags": []string{"vip"}})
		}, true},
		{"note by default", false, func(h *harness, id string) resp {
			return h.call("POST", "/contacts/"+id+"/notes", map[string]any{"body": "n"})
		}, false},
		{"task by default", false, func(h *harness, id string) resp {
			return h.call("POST", "/contacts/"+id+"/tasks", map[string]any{"title": "t", "dueDate": "2026-06-05T00:00:00Z", "completed": false})
		}, false},
		{"note with ChildWritesBumpContact", true, func(h *harness, id string) resp {
			return h.call("POST", "/contacts/"+id+"/notes", map[string]any{"body": "n"})
		}, true},
		{"read", false, func(h *harness, id string) resp { return h.call("GET", "/contacts/"+id, nil) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{ChildWritesBumpContact: tc.childBump})
			c := h.create(ghlwire.ContactInput{FirstName: ptr("D"), Tags: []string{"vip"}})
			h.clock.Advance(time.Second)
			if r := tc.write(h, c.ID); r.status >= 300 {
				t.Fatalf("write: %d %s", r.status, r.body)
			}
			after, _ := h.sim.Contact(c.ID)
			if moved := after.DateUpdated != c.DateUpdated; moved != tc.moves {
				t.Fatalf("dateUpdated %s -> %s: moved=%v, want %v", c.DateUpdated, after.DateUpdated, moved, tc.moves)
			}
			if after.DateAdded != c.DateAdded {
				t.Errorf("dateAdded changed")
			}
		})
	}
	t.Run("strictly increasing on a frozen clock", func(t *testing.T) {
		h := newHarness(t, Options{})
		c := h.create(ghlwire.ContactInput{FirstName: ptr("F")})
		prev := c.DateUpdated
		for i := range 3 {
			r := h.call("PUT", "/contacts/"+c.ID, map[string]any{"city": strings.Repeat("x", i+1)})
			var out ghlwire.UpdateContactResponse
			r.decode(t, &out)
			if out.Contact.DateUpdated <= prev {
				t.Fatalf("dateUpdated %s not after %s", out.Contact.DateUpdated, prev)
			}
			prev = out.Contact.DateUpdated
		}
	})
}

func TestPutTagsReplaces(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.create(ghlwire.ContactInput{FirstName: ptr("T"), Tags: []string{"a", "b"}})
	tests := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"without tags keeps them", map[string]any{"city": "X"}, []string{"a", "b"}},
		{"tags replace all", map[string]any{"tags": []string{"C", "d"}}, []string{"c", "d"}},
		{"empty tags clear", map[string]any{"tags": []string{}}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("PUT", "/contacts/"+c.ID, tc.body)
			var out ghlwire.UpdateContactResponse
			r.decode(t, &out)
			if !slices.Equal(out.Contact.Tags, tc.want) {
				t.Fatalf("tags %v, want %v", out.Contact.Tags, tc.want)
			}
		})
	}
}
