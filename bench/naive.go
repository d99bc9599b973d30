package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"ptsync/apiclient/ghlwire"
)

// naivePoller is the baseline: what a user of HighLevel's official SDK writes to copy a
// location — list the contacts a page of 100 at a time, then for each contact fetch its
// tasks, notes and appointments one request after another, and on a 429 wait the interval
// the X-RateLimit-Interval-Milliseconds header names (the SDK's documented advice) and
// retry. Plain net/http, one request at a time, no limiter, everything kept in memory.
type naivePoller struct {
	base, location, token string
	hc                    *http.Client

	requests, rateLimited int64
	contacts, children    int64
}

func newNaivePoller(base, location, token string) *naivePoller {
	return &naivePoller{base: base, location: location, token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// get sends one GET, retrying 429s, and decodes the 200 body into out.
func (n *naivePoller) get(ctx context.Context, path string, q url.Values, out any) error {
	u := n.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("cannot build request: %w", err)
		}
		req.Header.Set(ghlwire.HeaderAuthorization, "Bearer "+n.token)
		req.Header.Set(ghlwire.HeaderVersion, ghlwire.APIVersion)
		req.Header.Set("Accept", "application/json")
		resp, err := n.hc.Do(req)
		n.requests++
		if err != nil {
			return fmt.Errorf("cannot get %s: %w", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", path, err)
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests && attempt < 10:
			n.rateLimited++
			wait := 10 * time.Second
			if ms, err := strconv.Atoi(resp.Header.Get(ghlwire.HeaderRateLimitIntervalMillis)); err == nil && ms > 0 {
				wait = time.Duration(ms) * time.Millisecond
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("cannot get %s: status %d: %.200s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("cannot decode %s: %w", path, err)
		}
		return nil
	}
}

// backfill copies every contact and its children, sequentially.
func (n *naivePoller) backfill(ctx context.Context) error {
	q := url.Values{"locationId": {n.location}, "limit": {"100"}}
	for {
		var page ghlwire.ListContactsResponse
		if err := n.get(ctx, "/contacts/", q, &page); err != nil {
			return err
		}
		for _, c := range page.Contacts {
			n.contacts++
			var tasks ghlwire.TasksResponse
			if err := n.get(ctx, "/contacts/"+c.ID+"/tasks", nil, &tasks); err != nil {
				return err
			}
			var notes ghlwire.NotesResponse
			if err := n.get(ctx, "/contacts/"+c.ID+"/notes", nil, &notes); err != nil {
				return err
			}
			var appts ghlwire.AppointmentsResponse
			if err := n.get(ctx, "/contacts/"+c.ID+"/appointments", nil, &appts); err != nil {
				return err
			}
			n.children += int64(len(tasks.Tasks) + len(notes.Notes) + len(appts.Events))
		}
		if len(page.Contacts) < 100 || page.Meta == nil || page.Meta.StartAfterID == nil || page.Meta.StartAfter == nil {
			return nil
		}
		q.Set("startAfterId", *page.Meta.StartAfterID)
		q.Set("startAfter", strconv.FormatInt(*page.Meta.StartAfter, 10))
	}
}
