package ptdsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ptdsim"
)

// TestFutureStamps covers the two future-stamp faults through HTTP. StampFuture (a bad import)
// stores the stamp without moving the server's clock: a later edit of another client is
// stamped now and lists before it. FutureStampRate restamps the first client of a listing
// answer only: the stored client and the page's cursor keep the true stamp. Every answer's
// Date header is the simulator's clock.
func TestFutureStamps(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second); return now }
	sim := ptdsim.New(ptdsim.Options{Clock: clock})
	srv, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(t.Context()) })
	var ids []string
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		c, err := sim.CreateClient(ptdwire.ClientInput{Email: &e, FirstName: ptr("X")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	list := func(limit string) (ptdwire.ClientPage, time.Time) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/clients?limit="+limit, nil)
		req.Header.Set("Authorization", "Bearer "+sim.APIKey())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		var page ptdwire.ClientPage
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		d, err := http.ParseTime(res.Header.Get("Date"))
		if err != nil {
			t.Fatalf("Date header %q: %v", res.Header.Get("Date"), err)
		}
		return page, d
	}
	if err := sim.StampFuture(ids[0], ptdsim.FutureStamp); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.EditClient(ids[1], ptdwire.ClientInput{FirstName: ptr("Later")}); err != nil {
		t.Fatal(err)
	}
	page, date := list("10")
	var order []string
	for _, c := range page.Clients {
		order = append(order, c.ID+"@"+c.UpdatedAt)
	}
	if want := []string{ids[2], ids[1], ids[0]}; len(page.Clients) != 3 || page.Clients[0].ID != want[0] ||
		page.Clients[1].ID != want[1] || page.Clients[2].ID != want[2] || page.Clients[2].UpdatedAt != "2030-01-01T00:00:00.000Z" {
		t.Errorf("listing after the import and a later edit: %s; want %v with the imported client last, stamped 2030", strings.Join(order, " "), want)
	}
	if date.Year() != 2026 {
		t.Errorf("Date header %s is not the simulator's clock", date)
	}

	rate := `{"futureStampRate":1}`
	req, _ := http.NewRequest("PUT", srv.URL+"/_sim/faults", strings.NewReader(rate))
	req.Header.Set("Authorization", "Bearer "+sim.APIKey())
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("set futureStampRate: %v %v", res, err)
	}
	faulty, _ := list("1")
	sim.SetFaults(ptdsim.Faults{})
	truth, _ := list("1")
	if faulty.Clients[0].UpdatedAt != "2030-01-01T00:00:00.000Z" || faulty.Clients[0].ID != truth.Clients[0].ID {
		t.Errorf("faulty first client %+v, want %s stamped 2030", faulty.Clients[0], truth.Clients[0].ID)
	}
	if faulty.NextCursor != truth.NextCursor || truth.Clients[0].UpdatedAt == faulty.Clients[0].UpdatedAt {
		t.Errorf("the fault changed the cursor (%q vs %q) or the stored client (%s)", faulty.NextCursor, truth.NextCursor, truth.Clients[0].UpdatedAt)
	}
}
