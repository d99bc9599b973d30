package ghlsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

func (h *harness) tokenRequest(form url.Values) (int, ghlwire.TokenResponse, ghlwire.ErrorBody) {
	h.t.Helper()
	res, err := http.PostForm(h.base+"/oauth/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var tok ghlwire.TokenResponse
	var e ghlwire.ErrorBody
	if res.StatusCode == 200 {
		json.Unmarshal(data, &tok)
	} else {
		json.Unmarshal(data, &e)
	}
	return res.StatusCode, tok, e
}

func (h *harness) creds(v url.Values) url.Values {
	id, secret := h.sim.ClientCredentials()
	v.Set("client_id", id)
	v.Set("client_secret", secret)
	return v
}

func TestOAuthInstallAndRefresh(t *testing.T) {
	h := newHarness(t, Options{AccessTokenTTL: time.Hour})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	id, _ := h.sim.ClientCredentials()
	authURL := h.base + "/v2/oauth/chooselocation?" + url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"scope": {"contacts.readonly contacts.write"}, "state": {"xyz"},
	}.Encode()
	res, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != 302 || loc.Host != "127.0.0.1:9" || loc.Query().Get("code") == "" || loc.Query().Get("state") != "xyz" {
		t.Fatalf("authorize: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	code := loc.Query().Get("code")

	var tok ghlwire.TokenResponse
	t.Run("code exchange", func(t *testing.T) {
		st, got, e := h.tokenRequest(h.creds(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "user_type": {"Location"}}))
		if st != 200 {
			t.Fatalf("%d %+v", st, e)
		}
		if got.TokenType != "Bearer" || got.ExpiresIn != 3599 || got.UserType != "Location" || got.LocationID != h.sim.LocationID() ||
			got.Scope != "contacts.readonly contacts.write" || got.RefreshToken == "" || got.UserID == "" || got.CompanyID == "" {
			t.Fatalf("token response %+v", got)
		}
		tok = got
	})
	t.Run("code is single-use", func(t *testing.T) {
		st, _, e := h.tokenRequest(h.creds(url.Values{"grant_type": {"authorization_code"}, "code": {code}}))
		if st != 400 || e.Error != ghlwire.OAuthErrInvalidGrant {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("access token works", func(t *testing.T) {
		h.token = tok.AccessToken
		if r := h.call("GET", "/contacts/?locationId="+h.sim.LocationID(), nil); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	var rotated ghlwire.TokenResponse
	t.Run("refresh rotates", func(t *testing.T) {
		st, got, e := h.tokenRequest(h.creds(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "user_type": {"Location"}}))
		if st != 200 || got.RefreshToken == tok.RefreshToken || got.AccessToken == tok.AccessToken {
			t.Fatalf("%d %+v %+v", st, got, e)
		}
		rotated = got
	})
	t.Run("reused refresh token is refused", func(t *testing.T) {
		st, _, e := h.tokenRequest(h.creds(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
		if st != 400 || e.Error != ghlwire.OAuthErrInvalidGrant || e.ErrorDescription != "refresh token is invalid" ||
			e.Messages()[0] != ghlwire.MsgInvalidRefreshToken || e.StatusCode != 400 {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("unknown refresh token is refused", func(t *testing.T) {
		st, _, e := h.tokenRequest(h.creds(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"bogus"}}))
		if st != 400 || e.Error != ghlwire.OAuthErrInvalidGrant {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("bad client secret", func(t *testing.T) {
		v := h.creds(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rotated.RefreshToken}})
		v.Set("client_secret", "wrong")
		st, _, e := h.tokenRequest(v)
		if st != 401 || e.Error != ghlwire.OAuthErrInvalidClient {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("missing fields 422", func(t *testing.T) {
		st, _, e := h.tokenRequest(url.Values{"grant_type": {"refresh_token"}})
		if st != 422 || len(e.Messages()) != 2 {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("access token expires", func(t *testing.T) {
		h.token = rotated.AccessToken
		h.clock.Advance(time.Hour)
		r := h.call("GET", "/contacts/?locationId="+h.sim.LocationID(), nil)
		e := r.errBody(t)
		if r.status != 401 || e.Messages()[0] != ghlwire.MsgInvalidToken || e.Error != "Unauthorized" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	c := h.sim.Counters()
	if c.Refreshes != 1 || c.TokenGrants != 1 || c.TokenRefused != 4 {
		t.Errorf("counters: refreshes %d grants %d refused %d", c.Refreshes, c.TokenGrants, c.TokenRefused)
	}
}

func TestTokenHelpers(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/contacts/?locationId=" + h.sim.LocationID()
	tests := []struct {
		name  string
		setup func() string // returns the token to use
		codes []int         // statuses of successive calls
	}{
		{"PIT never expires", func() string { return h.sim.IssuePIT() }, []int{200, 200}},
		{"missing token", func() string { return "" }, []int{401}},
		{"ExpireAccessTokens", func() string {
			tok := h.sim.IssueToken().AccessToken
			h.sim.ExpireAccessTokens()
			return tok
		}, []int{401}},
		{"ExpireEvery(2)", func() string {
			h.sim.ExpireEvery(2)
			return h.sim.IssueToken().AccessToken
		}, []int{200, 200, 401}},
		{"PIT ignores ExpireEvery", func() string {
			h.sim.ExpireEvery(1)
			return h.sim.IssuePIT()
		}, []int{200, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.sim.ExpireEvery(0)
			tok := tc.setup()
			for i, want := range tc.codes {
				var r resp
				if tok == "" {
					r = h.call("GET", path, nil, "Authorization", "")
				} else {
					r = h.call("GET", path, nil, "Authorization", "Bearer "+tok)
				}
				if r.status != want {
					t.Fatalf("call %d: %d, want %d: %s", i, r.status, want, r.body)
				}
			}
		})
	}
	if !strings.HasPrefix(h.sim.IssuePIT(), "pit-") {
		t.Error("PIT lacks the pit- prefix")
	}
}

// TestScopeRefusal: a read-only token is refused every write with the documented 401 and
// nothing is applied.
func TestScopeRefusal(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.create(ghlwire.ContactInput{FirstName: ptr("S"), Tags: []string{"keep"}})
	task, _ := h.sim.AddTask(c.ID, ghlwire.TaskInput{Title: ptr("t"), DueDate: ptr("2026-06-01T00:00:00Z"), Completed: ptr(false)})
	before, _ := h.sim.Contact(c.ID)
	h.token = h.sim.IssueToken(ghlwire.ScopeContactsReadonly).AccessToken
	h.sim.ResetCounters()
	cp := "/contacts/" + c.ID
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/contacts/", map[string]any{"locationId": h.sim.LocationID(), "firstName": "X"}},
		{"POST", "/contacts/upsert", map[string]any{"locationId": h.sim.LocationID(), "firstName": "X"}},
		{"PUT", cp, map[string]any{"city": "X"}},
		{"DELETE", cp, nil},
		{"POST", cp + "/tags", map[string]any{"tags": []string{"x"}}},
		{"DELETE", cp + "/tags", map[string]any{"tags": []string{"keep"}}},
		{"POST", cp + "/tasks", map[string]any{"title": "x", "dueDate": "2026-06-01T00:00:00Z", "completed": false}},
		{"PUT", cp + "/tasks/" + task.ID, map[string]any{"title": "x"}},
		{"PUT", cp + "/tasks/" + task.ID + "/completed", map[string]any{"completed": true}},
		{"DELETE", cp + "/tasks/" + task.ID, nil},
		{"POST", cp + "/notes", map[string]any{"body": "x"}},
	}
	for _, w := range writes {
		t.Run(w.method+" "+w.path, func(t *testing.T) {
			r := h.call(w.method, w.path, w.body)
			e := r.errBody(t)
			if r.status != 401 || e.Messages()[0] != ghlwire.MsgScopeNotAuthorized || e.Error != "Unauthorized" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	after, _ := h.sim.Contact(c.ID)
	if after.DateUpdated != before.DateUpdated || h.sim.ContactCount() != 1 || len(h.sim.Tasks(c.ID)) != 1 || h.sim.Tasks(c.ID)[0].Title != "t" {
		t.Fatalf("a refused write changed data: %+v", after)
	}
	ctr := h.sim.Counters()
	if ctr.Writes != 0 || ctr.RefusedWrites != int64(len(writes)) || ctr.ScopeRefused != int64(len(writes)) {
		t.Fatalf("counters %+v", ctr)
	}
	t.Run("reads still allowed", func(t *testing.T) {
		if r := h.call("POST", "/contacts/search", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 1}); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
