package ghlwire

import (
	"encoding/json"
	"testing"
)

// FuzzWireTypes decodes arbitrary JSON into every wire type HighLevel sends us. Properties: no
// panic; ErrorBody.Messages always answers (a string, an array, or the raw text); whatever
// decodes re-encodes and decodes again to the same encoding (the types have no lossy custom
// marshalling that could corrupt a record kept in the mirror).
func FuzzWireTypes(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":400,"message":"Bad Request","error":"Bad Request","traceId":"t1"}`,
		`{"statusCode":422,"message":["email must be an email","phone must be a string"]}`,
		`{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"c9","contactName":"Ann","matchingField":"email"}}`,
		`{"error":"invalid_grant","error_description":"refresh token is invalid"}`,
		`{"message":{"nested":true}}`,
		`{"contact":{"id":"c1","email":"ann@example.com","tags":["vip"],"customFields":[{"id":"cf","value":[1,"x",null]}],"dnd":true,"dndSettings":{"Email":{"status":"active"}}}}`,
		`{"contacts":[{"id":"c1","searchAfter":[1700000000000,"c1"]}],"total":1}`,
		`{"contacts":[],"count":0,"meta":{"startAfter":1700000000000,"startAfterId":"c1","total":0,"nextPageUrl":"x"}}`,
		`{"tasks":[{"id":"t1","title":"Call","dueDate":"2025-01-02T03:04:05Z","completed":true}]}`,
		`{"notes":[{"id":"n1","body":"hi","userId":"u1"}]}`,
		`{"events":[{"id":"a1","startTime":"2025-01-02 10:00:00","endTime":"2025-01-02 11:00:00"}]}`,
		`{"access_token":"a","refresh_token":"r","expires_in":86399,"scope":"contacts.readonly","userType":"Location","locationId":"loc1"}`,
		`{"type":"ContactUpdate","locationId":"loc1","id":"c1","timestamp":"2025-01-02T03:04:05.000Z","webhookId":"w1"}`,
		`{"type":"AppointmentCreate","locationId":"loc1","appointment":{"id":"a1","contactId":"c1"}}`,
		`null`, `[]`, `"x"`, `{"message":null}`, `{"message":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil {
			_ = eb.Messages()
		}
		targets := []func() any{
			func() any { return new(ErrorBody) },
			func() any { return new(ContactResponse) },
			func() any { return new(ListContactsResponse) },
			func() any { return new(SearchResponse) },
			func() any { return new(TasksResponse) },
			func() any { return new(TaskResponse) },
			func() any { return new(NotesResponse) },
			func() any { return new(NoteResponse) },
			func() any { return new(AppointmentsResponse) },
			func() any { return new(UpsertContactResponse) },
			func() any { return new(TagsResponse) },
			func() any { return new(TokenResponse) },
			func() any { return new(WebhookEvent) },
		}
		for _, mk := range targets {
			v := mk()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T decoded but does not encode: %v", v, err)
			}
			w := mk()
			if err := json.Unmarshal(enc, w); err != nil {
				t.Fatalf("%T: own encoding does not decode: %v\n%s", v, err, enc)
			}
			enc2, err := json.Marshal(w)
			if err != nil || string(enc2) != string(enc) {
				t.Fatalf("%T: encoding is not stable:\n%s\n%s", v, enc, enc2)
			}
		}
	})
}
