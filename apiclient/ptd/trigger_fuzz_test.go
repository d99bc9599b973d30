package ptd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
)

// FuzzTriggerHandler posts arbitrary bodies and secret headers to the Zapier trigger
// handler. Properties: no panic; only the right shared secret gets past 401; Handle is called
// exactly for 202 answers, with a trigger that ParseTrigger accepts again unchanged (its
// email normalized: lower-case, one '@', no spaces); an oversized body is 413 and never
// handled; every refusal is a JSON ptdwire.Error.
func FuzzTriggerHandler(f *testing.F) {
	const shared = "s3cret-shared-with-zapier"
	for _, s := range []struct {
		body   string
		secret string
	}{
		{`{"trigger":"client_added","email":"Ann@Example.com","first_name":"Ann","last_name":"Archer"}`, shared},
		{`{"trigger":"client_added_to_group","email":"a@x.io","group":"VIP"}`, shared},
		{`{"trigger":"package_sign_up","email":"p@x.io","package":"Starter","at":"2025-03-01T10:00:00Z","id":"z1"}`, shared},
		{`{"trigger":"client_added","email":"a@x.io"} {"trigger":"client_added"}`, shared},
		{`{"trigger":"client_added","e-mail":"a@x.io"}`, shared},
		{`{"trigger":"client_added","email":" A@X.IO "}`, shared},
		{`{"trigger":"client_added","email":"a@@x"}`, shared},
		{`{"trigger":"client_added","email":"a@x.io","at":"yesterday"}`, shared},
		{`{"trigger":"client_added","email":"a@x.io"}`, "s3cret-shared-with-zapieR"},
		{`{"trigger":"client_added","email":"a@x.io"}`, ""},
		{`{"trigger":"client_added","email":"a@x.io","first_name":"` + strings.Repeat("x", 600) + `"}`, shared},
		{`null`, shared}, {``, shared}, {`[]`, shared},
	} {
		f.Add([]byte(s.body), s.secret)
	}
	const maxBody = 512
	var handled []ptd.Event
	h, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: secret.New(shared), MaxBodyBytes: maxBody,
		Handle: func(_ context.Context, ev ptd.Event) error { handled = append(handled, ev); return nil }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, hdr string) {
		handled = handled[:0]
		req := httptest.NewRequest(http.MethodPost, "/triggers/ptd", bytes.NewReader(body))
		req.Header.Set(ptd.TriggerSecretHeader, hdr)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		gotSecret := req.Header.Get(ptd.TriggerSecretHeader) // as the handler saw it
		switch {
		case gotSecret != shared:
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("wrong secret %q answered %d", gotSecret, rec.Code)
			}
		case len(body) > maxBody:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body (cap %d) answered %d", len(body), maxBody, rec.Code)
			}
		}
		if rec.Code == http.StatusAccepted {
			if len(handled) != 1 {
				t.Fatalf("202 with %d Handle calls", len(handled))
			}
			ev := handled[0]
			tr, err := ptd.ParseTrigger(body)
			if err != nil {
				t.Fatalf("202 for a body ParseTrigger refuses: %v", err)
			}
			if again, err := ptd.ParseTrigger(mustJSON(t, tr)); err != nil || again != tr {
				t.Fatalf("handled trigger does not re-validate: %+v -> %+v, %v", tr, again, err)
			}
			if string(ev.Kind) != tr.Trigger || ev.ID != tr.ID || ev.Email != tr.Email || ev.FirstName != tr.FirstName ||
				ev.LastName != tr.LastName || ev.Group != tr.Group || ev.Package != tr.Package || (tr.At == "") != ev.At.IsZero() {
				t.Fatalf("event %+v does not carry trigger %+v", ev, tr)
			}
			if ev.Email != strings.ToLower(strings.TrimSpace(ev.Email)) || strings.Count(ev.Email, "@") < 1 {
				t.Fatalf("email not normalized: %q", ev.Email)
			}
			return
		}
		if len(handled) != 0 {
			t.Fatalf("answer %d but Handle was called", rec.Code)
		}
		var e ptdwire.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" {
			t.Fatalf("refusal %d is not a ptdwire.Error: %q", rec.Code, rec.Body)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
