package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"ptsync/apiclient/ghlwire"
)

// replayServer answers POST /contacts/search with answers recorded from a HighLevel
// simulator, byte for byte, headers included (the rate-limit headers the client's limiter
// reads). It exists for the ingest and memory sections: the simulator scans every contact
// for each search page (O(n) per page, ~10 s of CPU for a 100,000-contact walk, on a 2-core
// machine shared with the child it serves), so a child syncing from it measures the
// simulator. Replayed, the server's cost is a map lookup and a write: what the child spends
// is ptsync's own (HTTP, decoding, normalization, the mirror), which is what those sections
// compare with bbolt. A request that the recording does not hold (another page size, a
// filter, an unknown cursor) is refused with 400, so a drift fails the run instead of
// measuring something else.
type replayServer struct {
	srv   *http.Server
	url   string
	loc   string
	token string
	pages map[string]recordedAnswer // by the request's searchAfter, as JSON ("null": the first)
}

type recordedAnswer struct {
	header http.Header
	body   []byte
}

// recordSearch walks the search of the endpoint at base (pages of ingestPage, dateUpdated
// ascending, as ptsync and the baselines ask) and returns every answer by cursor, and the
// contacts seen.
func recordSearch(ctx context.Context, base, loc, tok string) (map[string]recordedAnswer, int, error) {
	hc := &http.Client{Timeout: time.Minute}
	pages := map[string]recordedAnswer{}
	var after []any
	contacts := 0
	for {
		ans, err := searchRaw(ctx, hc, base, loc, tok, after)
		if err != nil {
			return nil, 0, fmt.Errorf("cannot record search: %w", err)
		}
		pages[cursorKey(after)] = ans
		var page rawSearchPage
		if err := json.Unmarshal(ans.body, &page); err != nil {
			return nil, 0, fmt.Errorf("cannot record search: %w", err)
		}
		contacts += len(page.Contacts)
		if len(page.Contacts) < ingestPage {
			return pages, contacts, nil
		}
		if after, err = lastSearchAfter(page.Contacts); err != nil {
			return nil, 0, err
		}
	}
}

// cursorKey is how the client and the recording both name a searchAfter (the client's own
// repeated-cursor key, ghl.SearchPages).
func cursorKey(after []any) string {
	b, _ := json.Marshal(after)
	return string(b)
}

// startReplay serves pages on loopback.
func startReplay(pages map[string]recordedAnswer, loc, token string) (*replayServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start replay server: %w", err)
	}
	r := &replayServer{url: "http://" + ln.Addr().String(), loc: loc, token: token, pages: pages}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *replayServer) close() error { return r.srv.Close() }

// ServeHTTP answers a search request the recording holds; anything else is refused.
func (r *replayServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/contacts/search" {
		http.Error(w, "the replay serves POST /contacts/search only", http.StatusNotFound)
		return
	}
	if req.Header.Get(ghlwire.HeaderAuthorization) != "Bearer "+r.token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	var sr ghlwire.SearchRequest
	if err := json.NewDecoder(req.Body).Decode(&sr); err != nil {
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return
	}
	ans, ok := r.pages[cursorKey(sr.SearchAfter)]
	if err := replayable(sr, r.loc); err != nil || !ok {
		if err == nil {
			err = errors.New("no recorded answer for searchAfter " + cursorKey(sr.SearchAfter))
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for k, v := range ans.header {
		w.Header()[k] = v
	}
	_, _ = w.Write(ans.body)
}

// replayable refuses a request whose answer is not the recorded one.
func replayable(sr ghlwire.SearchRequest, loc string) error {
	switch {
	case sr.LocationID != loc:
		return fmt.Errorf("location %q, recorded %q", sr.LocationID, loc)
	case sr.PageLimit != ingestPage:
		return fmt.Errorf("pageLimit %d, recorded %d", sr.PageLimit, ingestPage)
	case len(sr.Filters) > 0 || sr.Query != "" || sr.Page != 0:
		return errors.New("filters, query and page are not recorded")
	case len(sr.Sort) != 1 || sr.Sort[0].Field != "dateUpdated" || sr.Sort[0].Direction != "asc":
		return errors.New("only dateUpdated ascending is recorded")
	}
	return nil
}
