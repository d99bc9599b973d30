package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"ptsync/store"
	"ptsync/store/query"
	"ptsync/store/storetest"
)

func ids(res query.Result, field string) string {
	var out []string
	for _, r := range res.Rows {
		out = append(out, r[field].(string))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestQueryForms(t *testing.T) {
	db, _, _ := storetest.Open(t)
	tests := []struct {
		name     string
		req      query.Request
		idField  string
		want     string
		plan     string
		maxScans int // 0: no bound (a scan)
	}{
		{"email uses the index and is normalized", query.Request{Kind: "contacts", Email: "  ANN@Example.com "}, "id", "c-ann", "index:email", 1},
		{"phone is normalized to E.164", query.Request{Kind: "contacts", Phone: "+44 7700 900003"}, "id", "c-carol", "index:phone", 1},
		{"phone with region", query.Request{Kind: "contacts", Phone: "(555) 010-0002", Region: "US"}, "id", "c-bob", "index:phone", 1},
		{"tag", query.Request{Kind: "contacts", Tag: "VIP"}, "id", "c-005,c-010,c-015,c-020,c-ann,c-bob", "index:tag", 6},
		{"tag with where on derived field", query.Request{Kind: "contacts", Tag: "vip", Where: "overdueTasks > 0"}, "id", "c-ann", "index:tag", 6},
		{"updated since duration", query.Request{Kind: "contacts", UpdatedSince: "48h"}, "id", "c-ann,c-carol", "index:updated-since", 2},
		{"updated since date", query.Request{Kind: "contacts", UpdatedSince: "2025-03-08"}, "id", "c-ann,c-carol", "index:updated-since", 2},
		{"email and tag combine", query.Request{Kind: "contacts", Email: "carol@example.org", Tag: "vip"}, "id", "", "index:email", 1},
		{"where scan", query.Request{Kind: "contacts", Where: `contains(tags, "lead") || startswith(lower(firstName), "da")`}, "id", "c-carol,c-dave", "scan", 0},
		{"where on times", query.Request{Kind: "contacts", Where: `dateAdded > timeadd(now(), "-6d")`}, "id", "c-carol,c-dave", "scan", 0},
		{"where with date() and regex", query.Request{Kind: "contacts", Where: `dateUpdated >= date("2025-03-09") && can(regex("^c-", id))`}, "id", "c-carol", "scan", 0},
		{"linked contacts", query.Request{Kind: "contacts", Where: `linked`}, "id", "c-ann,c-carol", "scan", 0},
		{"tasks due before", query.Request{Kind: "tasks", DueBefore: "0s"}, "id", "t-ann-1,t-ann-3,t-carol-1", "index:due-before", 3},
		{"open overdue tasks", query.Request{Kind: "tasks", DueBefore: "0s", Where: "!completed"}, "id", "t-ann-1,t-carol-1", "index:due-before", 3},
		{"tasks due within 3 days", query.Request{Kind: "tasks", Where: `!completed && dueDate > 0 && dueDate < now() + duration("3d")`}, "id", "t-ann-1,t-ann-2,t-carol-1", "scan", 0},
		{"notes", query.Request{Kind: "notes", Where: `strlen(body) > 25`}, "id", "n-carol-1", "scan", 0},
		{"appointments", query.Request{Kind: "appointments"}, "id", "a-ann-1", "scan", 0},
		{"ptd clients by tag", query.Request{Kind: "ptd-clients", Tag: "lead"}, "id", "p-carol", "index:tag", 1},
		{"unlinked ptd clients", query.Request{Kind: "ptd-clients", Where: "!linked"}, "id", "p-erin", "scan", 0},
		{"ptd tasks due", query.Request{Kind: "ptd-tasks", DueBefore: "2025-03-10T00:00:00Z"}, "id", "pt-ann-1", "index:due-before", 1},
		{"ptd notes", query.Request{Kind: "ptd-notes"}, "id", "pn-ann-1", "scan", 0},
		{"links by match", query.Request{Kind: "links", Where: `matchedBy == "phone"`}, "ghlId", "c-carol", "scan", 0},
		{"dead outbox", query.Request{Kind: "outbox", Where: "dead"}, "op", "tags.add", "scan", 0},
		{"open conflicts", query.Request{Kind: "conflicts", Where: "!resolved"}, "field", "lastName", "scan", 0},
		{"history of a field", query.Request{Kind: "history", Where: `field == "tags"`}, "new", `["online","vip"]`, "scan", 0},
		{"quarantine", query.Request{Kind: "quarantine"}, "id", "p-gone", "scan", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res query.Result
			err := db.View(func(tx *store.Tx) error {
				var err error
				if tc.req.Fields == nil {
					tc.req.Fields = []string{tc.idField}
				}
				res, err = query.Run(tx, tc.req, storetest.Now())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res, tc.idField); got != tc.want {
				t.Errorf("rows = %q, want %q", got, tc.want)
			}
			if res.Plan != tc.plan {
				t.Errorf("plan = %q, want %q", res.Plan, tc.plan)
			}
			if tc.maxScans > 0 && res.Scanned > tc.maxScans {
				t.Errorf("scanned %d records, an index lookup should read at most %d", res.Scanned, tc.maxScans)
			}
		})
	}
}

func TestIndexFlagsDoNotScan(t *testing.T) {
	db, _, f := storetest.Open(t)
	var scan, idx query.Result
	_ = db.View(func(tx *store.Tx) error {
		scan, _ = query.Run(tx, query.Request{Kind: "contacts", Where: `email == "ann@example.com"`}, storetest.Now())
		idx, _ = query.Run(tx, query.Request{Kind: "contacts", Email: "ann@example.com"}, storetest.Now())
		return nil
	})
	if scan.Scanned != f.Contacts || scan.Plan != "scan" {
		t.Fatalf("where-only query: plan %s scanned %d, want scan of %d", scan.Plan, scan.Scanned, f.Contacts)
	}
	if idx.Scanned != 1 || len(idx.Rows) != 1 {
		t.Fatalf("email query scanned %d (rows %d), want 1", idx.Scanned, len(idx.Rows))
	}
}

func TestOutputValues(t *testing.T) {
	db, _, _ := storetest.Open(t)
	var res query.Result
	err := db.View(func(tx *store.Tx) error {
		var err error
		res, err = query.Run(tx, query.Request{Kind: "contacts", Email: "ann@example.com",
			Fields: []string{"id", "tags", "dateUpdated", "openTasks", "overdueTasks", "linked", "ptdId", "childrenFetchedAt"}}, storetest.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	want := map[string]any{"id": "c-ann", "dateUpdated": "2025-03-08T12:00:00Z", "openTasks": int64(2), "overdueTasks": int64(1),
		"linked": true, "ptdId": "p-ann", "childrenFetchedAt": ""}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %#v, want %#v", k, row[k], v)
		}
	}
	if tags := row["tags"].([]string); strings.Join(tags, ",") != "vip,online" {
		t.Errorf("tags = %v", tags)
	}
	if strings.Join(res.Fields, ",") != "id,tags,dateUpdated,openTasks,overdueTasks,linked,ptdId,childrenFetchedAt" {
		t.Errorf("fields order = %v", res.Fields)
	}
}

func TestLimitTruncates(t *testing.T) {
	db, _, _ := storetest.Open(t)
	_ = db.View(func(tx *store.Tx) error {
		res, err := query.Run(tx, query.Request{Kind: "contacts", Tag: "newsletter", Limit: 3}, storetest.Now())
		if err != nil || len(res.Rows) != 3 || !res.Truncated {
			t.Errorf("rows %d truncated %v err %v", len(res.Rows), res.Truncated, err)
		}
		return nil
	})
}

func TestBadRequests(t *testing.T) {
	db, _, _ := storetest.Open(t)
	tests := []struct {
		name  string
		req   query.Request
		wants []string
	}{
		{"malformed where points at the column", query.Request{Kind: "contacts", Where: `overdueTasks > > 0`}, []string{"<where>:1:16"}},
		{"unclosed string", query.Request{Kind: "contacts", Where: `email == "ann`}, []string{"<where>:1:"}},
		{"unknown field lists known ones", query.Request{Kind: "contacts", Where: `overdue > 0`},
			[]string{`unknown field "overdue"`, "<where>:1:1", "known: id, email", "overdueTasks"}},
		{"unknown field in fields", query.Request{Kind: "tasks", Fields: []string{"id", "due"}}, []string{`unknown field "due"`, "dueDate"}},
		{"non-boolean where", query.Request{Kind: "contacts", Where: `firstName`}, []string{"true/false", "string"}},
		{"type error caught before reading", query.Request{Kind: "contacts", Where: `tags > 2`}, []string{"<where>:1:1"}},
		{"unknown kind", query.Request{Kind: "deals"}, []string{`unknown kind "deals"`, "ptd-clients"}},
		{"flag not for kind", query.Request{Kind: "tasks", Email: "a@b.c"}, []string{"--email does not apply to tasks", "--due-before"}},
		{"bad email", query.Request{Kind: "contacts", Email: "not-an-email"}, []string{"--email"}},
		{"bad phone", query.Request{Kind: "contacts", Phone: "12"}, []string{"--phone"}},
		{"bad time", query.Request{Kind: "contacts", UpdatedSince: "yesterday"}, []string{"--updated-since", "RFC 3339"}},
		{"bad function argument", query.Request{Kind: "contacts", Where: `dateAdded > date("March")`}, []string{"YYYY-MM-DD"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := db.View(func(tx *store.Tx) error {
				_, err := query.Run(tx, tc.req, storetest.Now())
				return err
			})
			if !errors.Is(err, query.ErrBadRequest) {
				t.Fatalf("err = %v, want ErrBadRequest", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// section counts the records of the view's section under heading (-1: no such section).
func section(v query.ContactView, heading string) int {
	for _, s := range v.Children {
		if s.Heading == heading {
			return len(s.Records)
		}
	}
	return -1
}

// The admin endpoint answers a remote ptsync show with the view's JSON: the child sections
// are members named by their heading, where the fixed fields were, and read back whole.
func TestContactViewJSONKeepsItsShape(t *testing.T) {
	db, _, f := storetest.Open(t)
	var v query.ContactView
	if err := db.View(func(tx *store.Tx) (err error) { v, err = query.ShowContact(tx, f.AnnID); return err }); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	_, _ = dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"contact", "dirty", "tasks", "notes", "appointments", "link", "client", "base", "outbox", "conflicts", "history"}
	if !slices.Equal(keys, want) {
		t.Fatalf("members %v, want %v", keys, want)
	}
	var back query.ContactView
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Children, v.Children) || back.Link == nil || back.Link.ID != v.Link.ID {
		t.Fatalf("read back\n%+v\nwant\n%+v", back.Children, v.Children)
	}
}

func TestShowContact(t *testing.T) {
	db, _, f := storetest.Open(t)
	_ = db.View(func(tx *store.Tx) error {
		for _, ref := range []string{f.AnnID, "Ann@Example.com"} {
			v, err := query.ShowContact(tx, ref)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			if v.Contact.ID != f.AnnID || section(v, "tasks") != 3 || section(v, "notes") != 1 || section(v, "appointments") != 1 ||
				v.Link == nil || v.Client == nil || v.Base == nil || len(v.Outbox) != 2 || len(v.Conflicts) != 1 || len(v.History) != 2 {
				t.Errorf("%s: incomplete view: %+v", ref, v)
			}
		}
		if _, err := query.ShowContact(tx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown contact: %v", err)
		}
		return nil
	})
}

func TestHandlerAndClient(t *testing.T) {
	db, _, f := storetest.Open(t)
	srv := httptest.NewServer(query.Handler(db, query.WithToken("tok"), query.WithClock(storetest.Now)))
	defer srv.Close()
	info := store.AdminInfo{Addr: strings.TrimPrefix(srv.URL, "http://"), Token: "tok"}
	c := query.NewClient(info, 2*time.Second)
	ctx := context.Background()
	t.Run("query", func(t *testing.T) {
		res, err := c.Query(ctx, query.Request{Kind: "contacts", Tag: "vip", Where: "overdueTasks > 0", Fields: []string{"id"}})
		if err != nil || ids(res, "id") != "c-ann" || res.Plan != "index:tag" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("bad request keeps its kind and known fields", func(t *testing.T) {
		_, err := c.Query(ctx, query.Request{Kind: "contacts", Where: "bogus"})
		var re *query.RequestError
		if !errors.As(err, &re) || len(re.Known) == 0 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("show and not found", func(t *testing.T) {
		v, err := c.Show(ctx, f.AnnID)
		if err != nil || v.Contact.ID != f.AnnID {
			t.Fatalf("%v %v", v.Contact.ID, err)
		}
		if _, err := c.Show(ctx, "c-nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("check", func(t *testing.T) {
		r, err := c.Check(ctx)
		if err != nil || !r.OK {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		bad := query.NewClient(store.AdminInfo{Addr: info.Addr, Token: "nope"}, time.Second)
		if _, err := bad.Query(ctx, query.Request{Kind: "contacts"}); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/query", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// TestQueryWhileWriting runs queries against a mirror a goroutine keeps writing to: readers
// never wait for the writer (bbolt MVCC). The time is logged, not asserted.
func TestQueryWhileWriting(t *testing.T) {
	db, _, _ := storetest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		n := 0
		for ctx.Err() == nil {
			err := db.Update(func(tx *store.Tx) error {
				for i := 0; i < 50; i++ {
					n++
					c := store.GHLContact{ID: "w-" + time.Duration(n).String(), Email: "w@example.com", Tags: []string{"vip"},
						DateUpdated: storetest.Now()}
					if err := tx.PutGHLContact(&c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var worst time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		err := db.View(func(tx *store.Tx) error {
			_, err := query.Run(tx, query.Request{Kind: "contacts", Tag: "vip", Where: "overdueTasks > 0"}, storetest.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("slowest of 20 queries during continuous writes: %v", worst)
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}
