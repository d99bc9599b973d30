package query_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"ptsync/store"
	"ptsync/store/query"
	"ptsync/store/storetest"
)

// wherePos is the position every --where syntax or evaluation error must carry.
var wherePos = regexp.MustCompile(`<where>:[1-9][0-9]*:[1-9][0-9]*: `)

// FuzzWhere runs arbitrary --where expressions (and --limit values) against every kind of the
// fixture mirror. Properties: no panic; a refused expression is a *RequestError matching
// ErrBadRequest whose message points at a line and column, except the one whole-expression
// complaint (the result is not true/false) and unknown-field errors, which list the known
// fields; an accepted one returns at most limit rows, each with exactly the requested
// columns.
func FuzzWhere(f *testing.F) {
	for _, s := range []struct {
		kind  uint8
		where string
	}{
		{0, `contains(tags, "lead") || startswith(lower(firstName), "da")`},
		{0, `dateAdded > timeadd(now(), "-6d")`},
		{0, `dateUpdated >= date("2025-03-09") && can(regex("^c-", id))`},
		{0, `linked && overdueTasks > 0`},
		{0, `length([for t in tags : t if t != "vip"]) > 1`},
		{0, `try(regex("(", email), "") == ""`},
		{0, `formatdate("YYYY-MM-DD", dateAdded) == "2025-03-01"`},
		{0, `rfc3339(dateAdded) != "" ? true : false`},
		{0, `coalesce(phone, email) == "x" || abs(min(1, 2) - max(3, 4)) > 0`},
		{0, `join(",", split(" ", trimspace(upper(firstName)))) == "ANN"`},
		{0, `overdueTasks > > 0`},
		{0, `email == "ann`},
		{0, `firstName`},
		{0, `tags > 2`},
		{0, `dateAdded > date("March")`},
		{0, `dueDate < now() + duration("99999999999d")`},
		{1, `!completed && dueDate > 0 && dueDate < now() + duration("3d")`},
		{2, `strlen(body) > 25`},
		{5, `!linked`},
		{7, `matchedBy == "phone"`},
		{8, `dead`},
		{9, `!resolved`},
		{10, `field == "tags"`},
		{0, "\x00"}, {0, "${"}, {0, `"${email}" == "%{ if true }x%{ endif }"`}, {0, `a.b[0].c`},
	} {
		f.Add(s.kind, s.where, uint8(0))
		f.Add(s.kind, s.where, uint8(2))
	}
	db, _, _ := storetest.Open(f)
	kinds := query.Kinds()
	f.Fuzz(func(t *testing.T, kindSel uint8, where string, limit uint8) {
		kind := kinds[int(kindSel)%len(kinds)]
		req := query.Request{Kind: kind, Where: where, Limit: int(limit % 8)}
		var res query.Result
		err := db.View(func(tx *store.Tx) error {
			var err error
			res, err = query.Run(tx, req, storetest.Now())
			return err
		})
		if err != nil {
			var re *query.RequestError
			if !errors.As(err, &re) || !errors.Is(err, query.ErrBadRequest) {
				t.Fatalf("kind %s where %q: error is not a RequestError: %T %v", kind, where, err, err)
			}
			msg := err.Error()
			if !wherePos.MatchString(msg) && !strings.Contains(msg, "true/false expression") &&
				!(strings.Contains(msg, "unknown field") && len(re.Known) > 0) {
				t.Fatalf("kind %s where %q: error points at no column: %s", kind, where, msg)
			}
			return
		}
		if req.Limit > 0 && len(res.Rows) > req.Limit {
			t.Fatalf("kind %s where %q: %d rows over limit %d", kind, where, len(res.Rows), req.Limit)
		}
		for _, row := range res.Rows {
			if len(row) != len(res.Fields) {
				t.Fatalf("kind %s: row has %d columns, result declares %d", kind, len(row), len(res.Fields))
			}
		}
	})
}
