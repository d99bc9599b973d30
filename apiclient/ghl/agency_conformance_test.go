package ghl

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// The agency routes against apps/oauth.json: every request the Agency sends (the installed
// locations pages, the mints, the Company pair's refresh) and every answer of the simulator
// (200s, the 401 that triggers the refresh, the 400 of a mint on an uninstalled location)
// validate against the official spec.
func TestAgencyConformanceWithOfficialSpec(t *testing.T) {
	rec := &recorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	env := newAgencyEnv(t, 3, 1, rec)
	ops := map[string]bool{OpGetInstalledLocations: true, OpGetLocationToken: true, OpGetAccessToken: true}
	router := specRouter(t, "oauth.json", env.url, ops)
	ctx := context.Background()
	locs, err := env.agency.InstalledLocations(ctx, InstalledQuery{PageSize: 2, Name: "sim"})
	if err != nil || len(locs) != 4 {
		t.Fatalf("listing: %d locations, %v", len(locs), err)
	}
	for _, l := range locs[:3] {
		if _, err := env.agency.MintLocationToken(ctx, l.ID); err != nil {
			t.Fatal(err)
		}
	}
	env.co.ExpireAccessTokens() // the next agency call gets 401, refreshes the Company pair, retries
	if _, err := env.agency.InstalledLocations(ctx, InstalledQuery{OnlyInstalled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.agency.MintLocationToken(ctx, locs[3].ID); !errors.Is(err, ErrMintRefused) {
		t.Fatalf("mint on the location without the app: %v; want ErrMintRefused", err)
	}
	seen := validateExchanges(t, router, rec.log, deviations)
	statuses := map[int]bool{}
	for _, x := range rec.log {
		statuses[x.status] = true
	}
	for op := range ops {
		if !seen[op] {
			t.Errorf("no recorded exchange for %s", op)
		}
	}
	if !statuses[401] || !statuses[400] {
		t.Errorf("statuses seen %v; want the 401 before the refresh and the 400 of the refused mint", statuses)
	}
}
