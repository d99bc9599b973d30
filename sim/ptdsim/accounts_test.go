package ptdsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ptdsim"
)

// Many accounts on one listener: each key lists only its own clients, reaches no client of
// another account (404 in its own), and a key no account owns gets 401, counted.
func TestAccountsRouteByKey(t *testing.T) {
	accts := ptdsim.NewAccounts(nil)
	a, err := accts.Add(ptdsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := accts.Add(ptdsim.Options{APIKey: "coach-b"})
	if _, err := accts.Add(ptdsim.Options{APIKey: "coach-b"}); !errors.Is(err, ptdsim.ErrKeyTaken) {
		t.Fatalf("duplicate key: %v; want ErrKeyTaken", err)
	}
	ca, _ := a.CreateClient(ptdwire.ClientInput{Email: ptr("ann@a.example"), FirstName: ptr("Ann")})
	cb, _ := b.CreateClient(ptdwire.ClientInput{Email: ptr("bob@b.example"), FirstName: ptr("Bob")})
	srv, err := accts.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	get := func(key, path string) (int, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, body
	}
	for _, tc := range []struct {
		name, key, path string
		status          int
		want            string
	}{
		{"a lists a", a.APIKey(), "/v1/clients", 200, "ann@a.example"},
		{"b lists b", "coach-b", "/v1/clients", 200, "bob@b.example"},
		{"a reads a", a.APIKey(), "/v1/clients/" + ca.ID, 200, "Ann"},
		{"b cannot read a", "coach-b", "/v1/clients/" + ca.ID, 404, ptdwire.CodeNotFound},
		{"control by key", "coach-b", "/_sim/stats", 200, "requests"},
		{"unknown key", "nobody", "/v1/clients", 401, ptdwire.CodeUnauthorized},
		{"no key", "", "/v1/clients/" + cb.ID, 401, ptdwire.CodeUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(tc.key, tc.path)
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%d %s; want %d with %q", status, body, tc.status, tc.want)
			}
		})
	}
	var page ptdwire.ClientPage
	_, body := get(a.APIKey(), "/v1/clients")
	json.Unmarshal(body, &page)
	if len(page.Clients) != 1 {
		t.Fatalf("account a lists %d clients; want 1", len(page.Clients))
	}
	if n := accts.UnknownKeyRequests(); n != 2 {
		t.Fatalf("UnknownKeyRequests = %d; want 2", n)
	}
	if got := b.Stats().Requests["GET /v1/clients/{id}"]; got != 1 {
		t.Fatalf("b counted %d item reads; want its own 1", got)
	}
}
