package ghlsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ptsync/apiclient/ghlwire"
)

// The filters of POST /contacts/search, compiled into predicates over a contact version.

type predicate func(*snap) bool

// compileFilters turns the request's filters into one predicate (top level is AND).
func compileFilters(fs []ghlwire.SearchFilter, group string) (predicate, *Error) {
	preds := make([]predicate, 0, len(fs))
	for i, f := range fs {
		var p predicate
		var e *Error
		if f.Group != "" || len(f.Filters) > 0 {
			g := strings.ToUpper(f.Group)
			if g != "AND" && g != "OR" {
				return nil, errUnprocessable(fmt.Sprintf("filters[%d].group must be one of AND, OR", i))
			}
			p, e = compileFilters(f.Filters, g)
		} else {
			p, e = compileFilter(f, i)
		}
		if e != nil {
			return nil, e
		}
		preds = append(preds, p)
	}
	if group == "OR" {
		return func(s *snap) bool {
			for _, p := range preds {
				if p(s) {
					return true
				}
			}
			return len(preds) == 0
		}, nil
	}
	return allOf(preds), nil
}

// allOf is the predicate that holds when every one of preds does (true for none).
func allOf(preds []predicate) predicate {
	return func(s *snap) bool {
		for _, p := range preds {
			if !p(s) {
				return false
			}
		}
		return true
	}
}

// someValue is the predicate "one of the field's values (lower-cased) satisfies match" when
// want is true, and its negation when want is false.
func someValue(fieldVals func(*snap) []string, want bool, match func(fv string) bool) predicate {
	return func(s *snap) bool {
		for _, fv := range fieldVals(s) {
			if match(strings.ToLower(fv)) {
				return want
			}
		}
		return !want
	}
}

// filterValues returns a filter's value as a list of lower-case strings (a string, a number,
// a boolean or an array of them); phones are normalized to E.164. ok is false for any other
// shape or an empty list.
func filterValues(v any, kind fieldKind) ([]string, bool) {
	var raw []any
	switch x := v.(type) {
	case []any:
		raw = x
	case nil:
		return nil, false
	default:
		raw = []any{x}
	}
	out := make([]string, 0, len(raw))
	for _, x := range raw {
		var str string
		switch y := x.(type) {
		case string:
			str = y
		case float64:
			str = strconv.FormatFloat(y, 'f', -1, 64)
		case bool:
			str = strconv.FormatBool(y)
		default:
			return nil, false
		}
		str = strings.ToLower(strings.TrimSpace(str))
		if kind == kindPhone {
			if p, ok := NormalizePhone(str); ok {
				str = p
			}
		}
		out = append(out, str)
	}
	return out, len(out) > 0
}

// filterError is the 422 for filter i that fails for why.
func filterError(f ghlwire.SearchFilter, i int, why string) *Error {
	return errUnprocessable(fmt.Sprintf("filters[%d] (%s %s): %s", i, f.Field, f.Operator, why))
}

func compileFilter(f ghlwire.SearchFilter, i int) (predicate, *Error) {
	kind, ok := searchFields[f.Field]
	if !ok {
		return nil, errUnprocessable(fmt.Sprintf("filters[%d].field %q is not a searchable field", i, f.Field))
	}
	fieldVals := func(s *snap) []string {
		if kind == kindTags {
			return s.c.Tags
		}
		return []string{textValue(s, f.Field)}
	}
	switch f.Operator {
	case "exists", "not_exists":
		return existsFilter(f, kind), nil
	case "eq", "not_eq":
		want := f.Operator == "eq"
		if kind == kindDate {
			t, ok := parseTimeValue(f.Value)
			if !ok {
				return nil, filterError(f, i, "value must be an ISO-8601 date or epoch milliseconds")
			}
			return func(s *snap) bool { return dateValue(s, f.Field).Equal(t) == want }, nil
		}
		vals, ok := filterValues(f.Value, kind)
		if !ok {
			return nil, filterError(f, i, "value must be a string or an array of strings")
		}
		return someValue(fieldVals, want, func(fv string) bool { return slices.Contains(vals, fv) }), nil
	case "contains", "not_contains":
		if kind == kindDate {
			return nil, filterError(f, i, "operator not supported on a date field")
		}
		vals, ok := filterValues(f.Value, kind)
		if !ok {
			return nil, filterError(f, i, "value must be a string")
		}
		return someValue(fieldVals, f.Operator == "contains", func(fv string) bool {
			return slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(fv, v) })
		}), nil
	case "range":
		return rangeFilter(f, i, kind)
	}
	return nil, filterError(f, i, "unknown operator (use eq, not_eq, contains, not_contains, exists, not_exists, range)")
}

// existsFilter holds when the field has a value (exists) or has none (not_exists).
func existsFilter(f ghlwire.SearchFilter, kind fieldKind) predicate {
	want := f.Operator == "exists"
	return func(s *snap) bool {
		var has bool
		switch kind {
		case kindTags:
			has = len(s.c.Tags) > 0
		case kindDate:
			has = !dateValue(s, f.Field).IsZero()
		default:
			has = textValue(s, f.Field) != ""
		}
		return has == want
	}
}

// rangeFilter compiles {gte, gt, lte, lt} bounds: dates for a date field, strings for text.
func rangeFilter(f ghlwire.SearchFilter, i int, kind fieldKind) (predicate, *Error) {
	m, ok := f.Value.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, filterError(f, i, "value must be an object with gte, gt, lte or lt")
	}
	var checks []predicate
	for op, v := range m {
		var cmpFn func(c int) bool
		switch op {
		case "gte":
			cmpFn = func(c int) bool { return c >= 0 }
		case "gt":
			cmpFn = func(c int) bool { return c > 0 }
		case "lte":
			cmpFn = func(c int) bool { return c <= 0 }
		case "lt":
			cmpFn = func(c int) bool { return c < 0 }
		default:
			return nil, filterError(f, i, "unknown range bound "+op)
		}
		if kind == kindDate {
			t, ok := parseTimeValue(v)
			if !ok {
				return nil, filterError(f, i, "range bound "+op+" must be an ISO-8601 date or epoch milliseconds")
			}
			checks = append(checks, func(s *snap) bool { return cmpFn(dateValue(s, f.Field).Compare(t)) })
			continue
		}
		str, ok := v.(string)
		if !ok || kind == kindTags {
			return nil, filterError(f, i, "range needs a date field or string bounds")
		}
		str = strings.ToLower(str)
		checks = append(checks, func(s *snap) bool { return cmpFn(strings.Compare(textValue(s, f.Field), str)) })
	}
	return allOf(checks), nil
}
