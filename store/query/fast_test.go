package query_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"ptsync/store"
	"ptsync/store/query"
	"ptsync/store/storetest"
)

// fastCases are --where expressions per kind; compiled says whether the expression must
// take the compiled path (so a regression to HCL-only is noticed too).
var fastCases = []struct {
	kind, where string
	compiled    bool
}{
	{"contacts", `contains(tags, "vip") && startswith(firstName, "Member1")`, true},
	{"contacts", `contains(tags, "lead") || startswith(lower(firstName), "da")`, true},
	{"contacts", `dateAdded > timeadd(now(), "-6d")`, true},
	{"contacts", `dateUpdated >= date("2025-03-09")`, true},
	{"contacts", `dateUpdated >= date("2025-03-09T00:00:00Z") && !(email == "")`, true},
	{"contacts", `overdueTasks > 0`, true},
	{"contacts", `openTasks >= 2 || overdueTasks == 1`, true},
	{"contacts", `linked && ptdId != ""`, true},
	{"contacts", `!dirty`, true},
	{"contacts", `length(tags) == 2 ? upper(lastName) == "SMITH" : false`, true},
	{"contacts", `endswith(email, ".net") != true`, true},
	{"contacts", `dateAdded - dateUpdated < -1 * duration("30d")`, true},
	{"contacts", `-dateAdded < 0 && fetchedAt + 1 > 0`, true},
	{"contacts", `dateAdded * 9223372036 > 0`, true}, // overflows int64: those records fall back to HCL
	{"contacts", `childrenFetchedAt == 0`, true},
	{"contacts", `phone == "+15550100001"`, true},
	{"contacts", `can(regex("^c-0", id))`, false},
	{"contacts", `strlen(firstName) > 3`, false},
	{"contacts", `length(firstName) > 3`, false},
	{"contacts", `dateAdded / 2 > 0`, false},
	{"contacts", `"${firstName}" == "Ann"`, false},
	{"contacts", `firstName < 5`, false},
	{"tasks", `!completed && dueDate > 0 && dueDate < now() + duration("3d")`, true},
	{"tasks", `overdue`, true},
	{"tasks", `title == "Send meal plan"`, true},
	{"notes", `startswith(body, "Came")`, true},
	{"appointments", `startTime > now() && status == "booked"`, true},
	{"ptd-clients", `!linked || contains(groups, "g-online")`, true},
	{"ptd-clients", `access == "online" && length(packages) == 0`, true},
	{"ptd-tasks", `overdue || updatedAt > 0`, true},
	{"ptd-notes", `createdAt < now()`, true},
	{"ptd-appointments", `externalId == ""`, true},
	{"links", `matchedBy == "phone"`, true},
	{"outbox", `dead`, true},
	{"outbox", `seq > 0`, false}, // uint64 fields stay with HCL
	{"conflicts", `!resolved`, true},
	{"history", `field == "tags"`, true},
	{"quarantine", `confirmations >= 0`, true},
}

// TestFastMatchesHCL runs each expression through the compiled path and through HCL alone
// and requires identical results (rows, columns, order, scan counts).
func TestFastMatchesHCL(t *testing.T) {
	db, _, _ := storetest.Open(t)
	for _, tc := range fastCases {
		t.Run(tc.kind+" "+tc.where, func(t *testing.T) {
			req := query.Request{Kind: tc.kind, Where: tc.where}
			if got := query.Compiles(req, storetest.Now()); got != tc.compiled {
				t.Errorf("compiled = %v, want %v", got, tc.compiled)
			}
			fast, slow := runBoth(t, db, req)
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("compiled and HCL results differ:\ncompiled %+v\n     hcl %+v", fast, slow)
			}
		})
	}
}

func runBoth(t testing.TB, db *store.DB, req query.Request) (fast, slow query.Result) {
	t.Helper()
	var ferr, serr error
	err := db.View(func(tx *store.Tx) error {
		fast, ferr = query.Run(tx, req, storetest.Now())
		slow, serr = query.RunHCLOnly(tx, req, storetest.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Errors come from the shared compile step, but HCL's "did you mean" suggestion for an
	// unknown function varies between equally close names (map order): compare the rest.
	if (ferr == nil) != (serr == nil) || (ferr != nil && (errors.Is(ferr, query.ErrBadRequest) != errors.Is(serr, query.ErrBadRequest) ||
		!strings.Contains(ferr.Error(), "Did you mean") && ferr.Error() != serr.Error())) {
		t.Fatalf("errors differ: compiled %v, hcl %v", ferr, serr)
	}
	return fast, slow
}

// FuzzFastMatchesHCL: for any expression both paths accept, they agree; for any one is
// refused, both refuse it with the same message.
func FuzzFastMatchesHCL(f *testing.F) {
	for _, tc := range fastCases {
		for i, k := range query.Kinds() {
			if k == tc.kind {
				f.Add(uint8(i), tc.where)
			}
		}
	}
	f.Add(uint8(0), `(1 + 2) * 3 == 9 && !false`)
	f.Add(uint8(0), `true ? dateAdded : 0 > 1`)
	db, _, _ := storetest.Open(f)
	kinds := query.Kinds()
	f.Fuzz(func(t *testing.T, kindSel uint8, where string) {
		req := query.Request{Kind: kinds[int(kindSel)%len(kinds)], Where: where}
		fast, slow := runBoth(t, db, req)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("kind %s where %q: compiled and HCL results differ:\ncompiled %+v\n     hcl %+v", req.Kind, where, fast, slow)
		}
	})
}
