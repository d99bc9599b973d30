package query_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"ptsync/store"
	"ptsync/store/query"
	"ptsync/store/storetest"
)

// TestSecurityAdminEndpoint: the admin endpoint wants the bearer token from the admin file on
// every route, refuses a body over its documented 1 MiB limit with 400 (its documented status
// for a bad request) without answering the query, and its address file refuses anything but
// loopback.
func TestSecurityAdminEndpoint(t *testing.T) {
	db, _, _ := storetest.Open(t)
	const token = "admin-token-0123456789abcdef"
	srv := httptest.NewServer(query.Handler(db, query.WithToken(token), query.WithClock(storetest.Now)))
	defer srv.Close()
	small := `{"kind":"contacts","fields":["id"]}`
	huge := `{"kind":"contacts","where":"` + strings.Repeat(" ", 2<<20) + `true"}`
	for _, tc := range []struct {
		name   string
		method string
		path   string
		auth   string
		body   string
		chunk  bool
		status int
	}{
		{"query with token", "POST", "/admin/query", "Bearer " + token, small, false, http.StatusOK},
		{"query without token", "POST", "/admin/query", "", small, false, http.StatusUnauthorized},
		{"query with wrong token", "POST", "/admin/query", "Bearer admin-token-0123456789abcdeX", small, false, http.StatusUnauthorized},
		{"token without Bearer", "POST", "/admin/query", token, small, false, http.StatusUnauthorized},
		{"backup without token", "GET", "/admin/backup", "", "", false, http.StatusUnauthorized},
		{"show without token", "POST", "/admin/show", "", `{"contact":"c-ann"}`, false, http.StatusUnauthorized},
		{"oversized query", "POST", "/admin/query", "Bearer " + token, huge, false, http.StatusRequestEntityTooLarge},
		{"oversized chunked query", "POST", "/admin/query", "Bearer " + token, huge, true, http.StatusRequestEntityTooLarge},
		{"oversized without token", "POST", "/admin/query", "", huge, false, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunk {
				body = io.MultiReader(body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tc.status, b)
			}
			if tc.status != http.StatusOK && bytes.Contains(b, []byte(`"rows"`)) {
				t.Fatalf("refused request still answered the query: %.200s", b)
			}
			if bytes.Contains(b, []byte(token)) {
				t.Fatal("the response echoes the admin token")
			}
		})
	}
	t.Run("admin file refuses non-loopback", func(t *testing.T) {
		dir := t.TempDir()
		for _, addr := range []string{"0.0.0.0:8913", "[::]:8913", "192.0.2.1:8913", ":8913"} {
			if err := store.WriteAdminAddr(filepath.Join(dir, "m.db"), store.AdminInfo{Addr: addr, Token: token}); err == nil {
				t.Errorf("admin file accepted %s", addr)
			}
		}
		if err := store.WriteAdminAddr(filepath.Join(dir, "m.db"), store.AdminInfo{Addr: "127.0.0.1:8913", Token: token}); err != nil {
			t.Errorf("loopback refused: %v", err)
		}
	})
}
