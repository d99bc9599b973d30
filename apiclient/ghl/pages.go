package ghl

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	"ptsync/apiclient/ghlwire"
)

// ListCursor continues GET /contacts/ after a page: both halves are always sent together.
// The zero cursor starts at the first page.
type ListCursor struct {
	StartAfter   int64  `json:"startAfter"`
	StartAfterID string `json:"startAfterId"`
}

// IsZero reports whether the cursor starts at the beginning.
func (c ListCursor) IsZero() bool { return c.StartAfter == 0 && c.StartAfterID == "" }

// String renders the cursor as startAfter/startAfterId, for logs and status output. It holds
// no secret.
func (c ListCursor) String() string {
	return strconv.FormatInt(c.StartAfter, 10) + "/" + c.StartAfterID
}

// ListPage is one page of a GET /contacts/ sweep with the cursor that continues after it.
// Commit Contacts together with Next: resuming ListPages from Next yields the following page.
// Last is set on the final page (Next is then the cursor after it, still valid to store).
type ListPage struct {
	Contacts []ghlwire.Contact
	Total    int // meta.total when present, else the page's count
	Next     ListCursor
	Last     bool
}

// ListPages iterates GET /contacts/ from p's cursor (zero: the beginning), one page per step.
// The cursor comes from meta.startAfter/startAfterId, falling back to the last row's dateAdded
// (epoch ms) and id when meta lacks it; iteration ends after a page with fewer than Limit rows
// or, when meta is present, without meta.startAfterId. A cursor the sweep has already used
// ends the iteration with *RepeatedCursorError (that page is not yielded). Any error is
// yielded once and ends the iteration. Not safe to iterate concurrently with itself.
func (c *Client) ListPages(ctx context.Context, p ListParams) iter.Seq2[ListPage, error] {
	return func(yield func(ListPage, error) bool) {
		if p.Limit <= 0 || p.Limit > 100 {
			p.Limit = 100
		}
		cur := ListCursor{StartAfter: p.StartAfter, StartAfterID: p.StartAfterID}
		seen := map[ListCursor]bool{cur: true}
		for {
			q := p
			q.StartAfter, q.StartAfterID = cur.StartAfter, cur.StartAfterID
			res, err := c.ListContactsPage(ctx, q)
			if err != nil {
				yield(ListPage{}, err)
				return
			}
			page := ListPage{Contacts: res.Contacts, Total: res.Count}
			last := len(res.Contacts) < p.Limit
			next, ok := listNext(res)
			if res.Meta != nil {
				page.Total = res.Meta.Total
				if res.Meta.StartAfterID == nil || *res.Meta.StartAfterID == "" {
					last = true
				}
			}
			if !ok {
				if !last {
					yield(ListPage{}, &OpError{Op: OpGetContacts, Kind: ErrDecode, Detail: "full page without a usable cursor (no meta and no dateAdded/id on the last row)"})
					return
				}
				next = cur
			}
			page.Next, page.Last = next, last
			if !last {
				if seen[next] {
					yield(ListPage{}, &RepeatedCursorError{Op: OpGetContacts, Cursor: next.String()})
					return
				}
				seen[next] = true
			}
			if !yield(page, nil) || last {
				return
			}
			cur = next
		}
	}
}

// listNext derives the cursor after a page.
func listNext(res ListResult) (ListCursor, bool) {
	var cur ListCursor
	if m := res.Meta; m != nil && m.StartAfterID != nil && *m.StartAfterID != "" {
		cur.StartAfterID = *m.StartAfterID
		if m.StartAfter != nil {
			cur.StartAfter = *m.StartAfter
		}
	}
	if len(res.Contacts) > 0 {
		lastRow := res.Contacts[len(res.Contacts)-1]
		if cur.StartAfterID == "" {
			cur.StartAfterID = lastRow.ID
		}
		if cur.StartAfter == 0 {
			if t, err := time.Parse(time.RFC3339Nano, lastRow.DateAdded); err == nil {
				cur.StartAfter = t.UnixMilli()
			}
		}
	}
	return cur, cur.StartAfterID != "" && cur.StartAfter != 0
}

// SearchPage is one page of a POST /contacts/search walk with the searchAfter cursor that
// continues after it (nil on an empty last page).
type SearchPage struct {
	Contacts []ghlwire.Contact
	Total    int
	Next     []any
	Last     bool
	// Sent and Date are the page's request time by our clock and HighLevel's (see SearchResult).
	Sent, Date time.Time
}

// SearchPages iterates POST /contacts/search with searchAfter paging, starting after
// req.SearchAfter (nil: the beginning). Page must not be set. Each step's cursor is the last
// contact's searchAfter; iteration ends after a page with fewer than PageLimit rows. A cursor
// already used ends the iteration with *RepeatedCursorError. Sort the request on a unique,
// stable key (HighLevel appends the id to the sort values) for exactly-once walks.
func (c *Client) SearchPages(ctx context.Context, req ghlwire.SearchRequest) iter.Seq2[SearchPage, error] {
	return func(yield func(SearchPage, error) bool) {
		if req.Page != 0 {
			yield(SearchPage{}, &OpError{Op: OpSearchContacts, Kind: ErrInvalidArgument, Detail: "page and searchAfter cannot be combined"})
			return
		}
		if req.PageLimit <= 0 {
			req.PageLimit = 100
		}
		key := func(v []any) string { b, _ := json.Marshal(v); return string(b) }
		seen := map[string]bool{key(req.SearchAfter): true}
		for {
			res, err := c.SearchContacts(ctx, req)
			if err != nil {
				yield(SearchPage{}, err)
				return
			}
			page := SearchPage{Contacts: res.Contacts, Total: res.Total, Next: req.SearchAfter, Sent: res.Sent, Date: res.Date}
			page.Last = len(res.Contacts) < req.PageLimit
			if n := len(res.Contacts); n > 0 {
				sa := res.Contacts[n-1].SearchAfter
				if len(sa) == 0 {
					if !page.Last {
						yield(SearchPage{}, &OpError{Op: OpSearchContacts, Kind: ErrDecode, Detail: fmt.Sprintf("contact %s at the end of a full page has no searchAfter", res.Contacts[n-1].ID)})
						return
					}
				} else {
					page.Next = sa
				}
			}
			if !page.Last {
				k := key(page.Next)
				if seen[k] {
					yield(SearchPage{}, &RepeatedCursorError{Op: OpSearchContacts, Cursor: k})
					return
				}
				seen[k] = true
			}
			if !yield(page, nil) || page.Last {
				return
			}
			req.SearchAfter = page.Next
		}
	}
}
