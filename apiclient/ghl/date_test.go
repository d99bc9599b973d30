package ghl

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/internal/secret"
	"ptsync/sim/ghlsim"
)

// TestSearchPagesCarryBothClocks: each search page carries HighLevel's clock from the
// answer's Date header and ours from when the request left, the two inputs of the cursor's
// bound (store.NewSignpost); an answer without a Date header gives a zero Date.
func TestSearchPagesCarryBothClocks(t *testing.T) {
	simNow := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ours := simNow.Add(-time.Hour) // our clock an hour behind HighLevel's
	sim := ghlsim.New(ghlsim.Options{Seed: 3, Now: func() time.Time { return simNow }, Limits: ghlsim.Limits{Disabled: true}})
	sim.Seed(3)
	withDate := httptest.NewServer(sim)
	t.Cleanup(withDate.Close)
	noDate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // net/http adds none then
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"contacts":[],"total":0}`))
	}))
	t.Cleanup(noDate.Close)
	tok := sim.IssuePIT()
	for _, tc := range []struct {
		name     string
		url      string
		wantDate time.Time
	}{
		{"highlevel's Date header", withDate.URL, simNow},
		{"no Date header", noDate.URL, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Options{BaseURL: tc.url, LocationID: sim.LocationID(), Clock: func() time.Time { return ours },
				Credentials: NewStaticSource(sim.LocationID(), secret.New(tok), nil)})
			if err != nil {
				t.Fatal(err)
			}
			for page, err := range c.SearchPages(context.Background(), ghlwire.SearchRequest{PageLimit: 10}) {
				if err != nil {
					t.Fatal(err)
				}
				if !page.Date.Equal(tc.wantDate) || !page.Sent.Equal(ours) {
					t.Errorf("page date %s sent %s, want date %s sent %s", page.Date, page.Sent, tc.wantDate, ours)
				}
			}
		})
	}
}
