package ghlsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// rawCall sends a create and returns the response and the error reading it, without
// failing on transport errors (faults produce them on purpose).
func (h *harness) rawCreate(t *testing.T) (*http.Response, []byte, error) {
	t.Helper()
	body := `{"locationId":"` + h.sim.LocationID() + `","firstName":"F"}`
	req, _ := http.NewRequest("POST", h.base+"/contacts/", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Version", ghlwire.APIVersion)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return res, data, err
}

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		name    string
		kind    FaultKind
		applied bool // does the write still happen?
		check   func(t *testing.T, res *http.Response, body []byte, err error)
	}{
		{"500", Fault500, false, wantStatus(500)},
		{"502", Fault502, false, wantStatus(502)},
		{"503", Fault503, false, wantStatus(503)},
		{"reset", FaultReset, false, func(t *testing.T, res *http.Response, body []byte, err error) {
			if err == nil {
				t.Fatalf("no transport error; got %d %s", res.StatusCode, body)
			}
		}},
		{"slow body", FaultSlowBody, true, func(t *testing.T, res *http.Response, body []byte, err error) {
			var out ghlwire.ContactResponse
			if err != nil || res.StatusCode != 201 || json.Unmarshal(body, &out) != nil || out.Contact.ID == "" {
				t.Fatalf("slow body not delivered whole: %v %s", err, body)
			}
		}},
		{"malformed", FaultMalformed, true, func(t *testing.T, res *http.Response, body []byte, err error) {
			var v any
			if err != nil || res.StatusCode != 201 || json.Unmarshal(body, &v) == nil {
				t.Fatalf("body is valid JSON or unreadable: %v %s", err, body)
			}
		}},
		{"truncated", FaultTruncated, true, func(t *testing.T, res *http.Response, body []byte, err error) {
			if err == nil && res != nil {
				t.Fatalf("truncated body read without error: %s", body)
			}
			if res != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v, want unexpected EOF", err)
			}
		}},
		{"wrong content type", FaultWrongContentType, true, func(t *testing.T, res *http.Response, body []byte, err error) {
			if err != nil || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html>") {
				t.Fatalf("%v %q %s", err, res.Header.Get("Content-Type"), body)
			}
		}},
		{"oversized", FaultOversized, true, func(t *testing.T, res *http.Response, body []byte, err error) {
			var out ghlwire.ContactResponse
			if err != nil || len(body) < 1<<16 || json.Unmarshal(body, &out) != nil || out.Contact.ID == "" {
				t.Fatalf("oversized body: %v, %d bytes", err, len(body))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Faults: Faults{SlowBodyDelay: time.Millisecond, OversizedBytes: 1 << 16}})
			h.sim.InjectNext(tc.kind)
			res, body, err := h.rawCreate(t)
			tc.check(t, res, body, err)
			if got := h.sim.ContactCount() == 1; got != tc.applied {
				t.Errorf("write applied = %v, want %v", got, tc.applied)
			}
			if n := h.sim.Counters().Faults[tc.kind]; n != 1 {
				t.Errorf("fault counter %d", n)
			}
			// The fault is used up: the next request is clean.
			if res, _, err := h.rawCreate(t); err != nil || res.StatusCode != 201 {
				t.Fatalf("next request: %v", err)
			}
		})
	}
}

func wantStatus(code int) func(t *testing.T, res *http.Response, body []byte, err error) {
	return func(t *testing.T, res *http.Response, body []byte, err error) {
		t.Helper()
		if err != nil || res.StatusCode != code {
			t.Fatalf("got %v %v, want %d", err, res, code)
		}
		var e ghlwire.ErrorBody
		if json.Unmarshal(body, &e) != nil || e.StatusCode != code {
			t.Errorf("body %s", body)
		}
	}
}

// TestFaultRatesDeterministic: the same seed and rates give the same sequence.
func TestFaultRatesDeterministic(t *testing.T) {
	run := func(seed int64) []int {
		h := newHarness(t, Options{Seed: seed, Faults: Faults{ErrorRate: 0.3, LatencyMin: time.Microsecond, LatencyMax: 2 * time.Microsecond}})
		var codes []int
		for range 40 {
			codes = append(codes, h.call("GET", "/contacts/?locationId="+h.sim.LocationID(), nil).status)
		}
		return codes
	}
	a, b, c := run(9), run(9), run(10)
	if fmtInts(a) != fmtInts(b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	fails := 0
	for _, s := range a {
		if s >= 500 {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Fatalf("error rate 0.3 gave %d/%d failures", fails, len(a))
	}
	if fmtInts(a) == fmtInts(c) {
		t.Errorf("different seeds gave the same faults: %v", a)
	}
}

func fmtInts(xs []int) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(" ")
		b.WriteString(http.StatusText(x))
	}
	return b.String()
}

func TestFaultsOnOAuth(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{IncludeOAuth: true}})
	h.sim.InjectNext(Fault503)
	tok := h.sim.IssueToken()
	st, _, _ := h.tokenRequest(h.creds(map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
	if st != 503 {
		t.Fatalf("status %d, want 503", st)
	}
	st, _, _ = h.tokenRequest(h.creds(map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
	if st != 200 {
		t.Fatalf("refresh after a 503 must still work (the token was not consumed): %d", st)
	}
}
