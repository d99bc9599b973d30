package reconcile_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"ptsync/replicator/reconcile"
	"ptsync/store"
	"ptsync/store/query"
)

// TestAdminRoutesRequests: the reconcile admin routes check their input (400 with the
// problem), answer 404 for unknown records, 503 for plan and resolve without an engine, and
// sit behind the admin token like the query routes.
func TestAdminRoutesRequests(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "mirror.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const token = "t0ken"
	srv := httptest.NewServer(query.Handler(db, append([]query.HandlerOption{query.WithToken(token)}, reconcile.AdminRoutes(db, nil)...)...))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, method, path, body string
		token                    string
		status                   int
		want                     string // substring of the body
	}{
		{"outbox lists nothing", "GET", reconcile.AdminOutboxPath, "", token, 200, "[]"},
		{"conflicts lists nothing", "GET", reconcile.AdminConflictsPath + "?all=true", "", token, 200, "[]"},
		{"a flag must be a boolean", "GET", reconcile.AdminOutboxPath + "?dead=maybe", "", token, 400, `dead=\"maybe\"`},
		{"plan without an engine", "POST", reconcile.AdminPlanPath, "{}", token, 503, "without a reconcile engine"},
		{"resolve needs a valid take", "POST", reconcile.AdminResolvePath, `{"link":"L1","field":"phone","take":"both"}`, token, 400, `take \"both\"`},
		{"resolve needs link and field", "POST", reconcile.AdminResolvePath, `{"take":"ghl"}`, token, 400, "needs link and field"},
		{"resolve without an engine", "POST", reconcile.AdminResolvePath, `{"link":"L1","field":"phone","take":"ghl"}`, token, 503, "without a reconcile engine"},
		{"retry names nothing", "POST", reconcile.AdminRetryPath, `{}`, token, 400, "no outbox entry named"},
		{"retry names both", "POST", reconcile.AdminRetryPath, `{"seq":3,"allDead":true}`, token, 400, "not both"},
		{"drop takes no allDead", "POST", reconcile.AdminDropPath, `{"allDead":true}`, token, 400, "one entry number"},
		{"drop of a missing entry", "POST", reconcile.AdminDropPath, `{"seq":9}`, token, 404, "outbox entry 9: not found"},
		{"retry of no dead entries", "POST", reconcile.AdminRetryPath, `{"allDead":true}`, token, 200, `"retried":0`},
		{"unknown body field", "POST", reconcile.AdminHistoryPath, `{"ref":"x","extra":1}`, token, 400, "unknown field"},
		{"history needs a ref", "POST", reconcile.AdminHistoryPath, `{}`, token, 400, "needs ref"},
		{"history of an unknown record", "POST", reconcile.AdminHistoryPath, `{"ref":"nobody@example.com"}`, token, 404, "not found"},
		{"no token", "GET", reconcile.AdminOutboxPath, "", "", 401, "admin token"},
		{"wrong token", "POST", reconcile.AdminDropPath, `{"seq":9}`, "nope", 401, "admin token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}
}
