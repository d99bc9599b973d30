// Package query answers questions about the mirror offline. The same engine serves the CLI
// (`ptsync query`, `ptsync show`) and the service's loopback admin endpoint (Handler), so a
// question gets the same answer whether or not the service holds the file.
//
// A Request names a kind, optional index flags (email, phone, tag, updated-since,
// due-before) that are answered from the store's secondary indexes, and an optional --where
// expression in the HCL expression language evaluated per record. Result.Plan and
// Result.Scanned say which index was used and how many records were read.
//
// Times in --where are numbers: Unix seconds in UTC, 0 when unset, so `dueDate < now()`
// compares correctly (HCL's < and > work on numbers only). Helper functions convert:
// date("2025-03-01") or date("2025-03-01T10:00:00Z"), duration("48h") / duration("7d"),
// timeadd(now(), "-24h"), rfc3339(t), formatdate("YYYY-MM-DD", t). Output prints times in
// RFC 3339.
//
// Run reads inside the caller's transaction and does no I/O of its own.
package query

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"ptsync/diff"
	"ptsync/store"
)

// Request is one query. It is also the JSON body of POST /admin/query.
type Request struct {
	Kind         string   `json:"kind"`
	Email        string   `json:"email,omitempty"`        // normalized like the sync does (lower-case, trimmed)
	Phone        string   `json:"phone,omitempty"`        // normalized to E.164 with Region
	Region       string   `json:"region,omitempty"`       // default region for a phone without country code
	Tag          string   `json:"tag,omitempty"`          // case-insensitive
	UpdatedSince string   `json:"updatedSince,omitempty"` // RFC 3339, a date, or a duration back from now ("24h", "7d")
	DueBefore    string   `json:"dueBefore,omitempty"`    // RFC 3339, a date, or a duration ahead of now ("48h"; "-24h" = yesterday)
	Where        string   `json:"where,omitempty"`        // HCL expression, must be bool
	Fields       []string `json:"fields,omitempty"`       // columns; empty = the kind's defaults
	Limit        int      `json:"limit,omitempty"`        // max rows; 0 = no limit
	// Now overrides the clock (tests, reproducible reports); zero = the caller's clock.
	Now time.Time `json:"now,omitzero"`
}

// Result is the answer. It is also the JSON body POST /admin/query returns.
type Result struct {
	Kind      string           `json:"kind"`
	Fields    []string         `json:"fields"`
	Rows      []map[string]any `json:"rows"`
	Plan      string           `json:"plan"`    // "index:<flag>" or "scan"
	Scanned   int              `json:"scanned"` // records read to answer
	Truncated bool             `json:"truncated,omitempty"`
	// Note says why the plan is not what the flags ask for: while a first sync builds the
	// kind's indexes, index flags are answered by a scan (the same rows, read slower).
	Note string `json:"note,omitempty"`
}

// ErrBadRequest marks errors in the request itself (exit code 2, HTTP 400).
var ErrBadRequest = errors.New("bad query")

// RequestError is a problem with the request; it matches ErrBadRequest.
type RequestError struct {
	Msg string
	// Known lists the valid names when the problem is an unknown field or kind.
	Known []string `json:"known,omitempty"`
}

// Error is the problem, followed by the valid names when Known has them.
func (e *RequestError) Error() string {
	if len(e.Known) > 0 {
		return e.Msg + " (known: " + strings.Join(e.Known, ", ") + ")"
	}
	return e.Msg
}

// Is makes a RequestError match ErrBadRequest.
func (e *RequestError) Is(target error) bool { return target == ErrBadRequest }

func badf(format string, args ...any) error { return &RequestError{Msg: fmt.Sprintf(format, args...)} }

// compiled is a validated request.
type compiled struct {
	k      *kindDef
	plan   string
	arg    indexArg
	flags  map[string]indexArg
	where  hclsyntax.Expression
	src    string
	vars   []field // fields the where expression reads
	cols   []field
	funcs  map[string]function.Function
	now    time.Time
	limit  int
	needed []field // union of vars, cols and flag fields
	fast   *cnode  // compiled --where (fast.go); nil: evaluate with HCL
	flagF  map[string]field
}

// Compile validates req against kind's fields without reading the mirror: unknown kinds,
// fields and flags, malformed values and --where syntax and type errors are *RequestError
// (ErrBadRequest) with the position (`<where>:1:14: ...`) or the list of known names.
func (cat *Catalog) compile(req Request, now time.Time) (*compiled, error) {
	k, ok := cat.defs[req.Kind]
	if !ok {
		return nil, &RequestError{Msg: fmt.Sprintf("unknown kind %q", req.Kind), Known: cat.Kinds()}
	}
	if !req.Now.IsZero() {
		now = req.Now
	}
	if req.Limit < 0 {
		return nil, badf("--limit must be 0 (no limit) or positive, not %d", req.Limit)
	}
	c := &compiled{k: k, flags: map[string]indexArg{}, now: now, limit: req.Limit, plan: "scan"}
	given := map[string]string{FlagEmail: req.Email, FlagPhone: req.Phone, FlagTag: req.Tag,
		FlagUpdatedSince: req.UpdatedSince, FlagDueBefore: req.DueBefore}
	for _, flag := range flagOrder {
		v := strings.TrimSpace(given[flag])
		if v == "" {
			continue
		}
		if _, ok := k.flagField[flag]; !ok {
			var sup []string
			for _, f := range flagOrder {
				if _, ok := k.flagField[f]; ok {
					sup = append(sup, "--"+f)
				}
			}
			if len(sup) == 0 {
				return nil, badf("--%s does not apply to %s (it has no index flags; use --where)", flag, k.name)
			}
			return nil, badf("--%s does not apply to %s (it supports %s)", flag, k.name, strings.Join(sup, ", "))
		}
		a, err := flagArg(flag, v, req.Region, now)
		if err != nil {
			return nil, err
		}
		c.flags[flag] = a
		if c.plan == "scan" {
			c.plan, c.arg = "index:"+flag, a
		}
	}
	cols := req.Fields
	if len(cols) == 0 {
		cols = k.defaults
	}
	for _, name := range cols {
		f, ok := k.field(strings.TrimSpace(name))
		if !ok {
			return nil, &RequestError{Msg: fmt.Sprintf("unknown field %q in --fields for %s", name, k.name), Known: k.fieldNames()}
		}
		c.cols = append(c.cols, f)
	}
	if strings.TrimSpace(req.Where) != "" {
		if err := c.compileWhere(req.Where); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	add := func(f field) {
		if !seen[f.name] {
			seen[f.name] = true
			c.needed = append(c.needed, f)
		}
	}
	for _, f := range c.vars {
		add(f)
	}
	c.flagF = map[string]field{}
	for flag := range c.flags {
		f, _ := k.field(k.flagField[flag])
		c.flagF[flag] = f
		add(f)
	}
	for _, f := range c.cols {
		add(f)
	}
	return c, nil
}

// flagArg parses and normalizes an index flag's value.
func flagArg(flag, v, region string, now time.Time) (indexArg, error) {
	switch flag {
	case FlagEmail:
		e, err := diff.Email(v)
		if err != nil {
			return indexArg{}, badf("--email %q: %v", v, err)
		}
		return indexArg{s: e}, nil
	case FlagPhone:
		p, err := diff.Phone(v, region)
		if err != nil {
			return indexArg{}, badf("--phone %q: %v (give +<country code>... or --region)", v, err)
		}
		return indexArg{s: p}, nil
	case FlagTag:
		return indexArg{s: strings.ToLower(v)}, nil
	case FlagUpdatedSince:
		t, err := parseWhen(v, now, -1)
		if err != nil {
			return indexArg{}, badf("--updated-since %q: %v", v, err)
		}
		return indexArg{t: t.Truncate(time.Second)}, nil
	case FlagDueBefore:
		t, err := parseWhen(v, now, +1)
		if err != nil {
			return indexArg{}, badf("--due-before %q: %v", v, err)
		}
		return indexArg{t: t.Truncate(time.Second)}, nil
	}
	return indexArg{}, badf("unknown flag --%s", flag)
}

// parseWhen reads RFC 3339, a date (YYYY-MM-DD, UTC midnight), or a duration applied to now
// in direction sign (updated-since "24h" means 24h ago; due-before "48h" means in 48h).
func parseWhen(v string, now time.Time, sign int) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 (2025-03-01T09:00:00Z), a date (2025-03-01) or a duration (36h, 7d)")
	}
	return now.Add(time.Duration(sign) * d), nil
}

// parseDuration is time.ParseDuration plus a "d" (24h) unit: "7d", "1d12h", "-2d".
func parseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", v)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		var err error
		if rest, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("bad duration %q", v)
		}
	}
	if neg {
		return -(days + rest), nil
	}
	return days + rest, nil
}

func (c *compiled) compileWhere(src string) error {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "<where>", hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		return &RequestError{Msg: "--where: " + diagText(diags, src)}
	}
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		name := tr.RootName()
		f, ok := c.k.field(name)
		if !ok {
			rng := tr.SourceRange()
			return &RequestError{Msg: fmt.Sprintf("--where: %s:%d:%d: unknown field %q for %s", rng.Filename, rng.Start.Line,
				rng.Start.Column, name, c.k.name), Known: c.k.fieldNames()}
		}
		if !seen[name] {
			seen[name] = true
			c.vars = append(c.vars, f)
		}
	}
	c.where, c.src = expr, src
	c.funcs = functions(c.now)

	// Type-check once with unknown values of every field's type: catches `tags > 3` and a
	// non-boolean result before any record is read.
	vars := map[string]cty.Value{}
	for _, f := range c.k.fields {
		vars[f.name] = cty.UnknownVal(f.typ.cty())
	}
	v, diags := expr.Value(&hcl.EvalContext{Variables: vars, Functions: c.funcs})
	if diags.HasErrors() {
		return &RequestError{Msg: "--where: " + diagText(diags, src)}
	}
	if !v.Type().Equals(cty.Bool) && v.Type() != cty.DynamicPseudoType {
		return badf("--where must be a true/false expression, but it gives a %s", v.Type().FriendlyName())
	}
	if n, ok := c.compileFast(expr); ok {
		c.fast = &n
	}
	return nil
}

// Run answers req inside tx. now is the clock for relative flags, now() and derived fields
// (req.Now overrides it). Request problems are *RequestError (ErrBadRequest); store errors
// pass through.
func Run(tx *store.Tx, req Request, now time.Time) (Result, error) {
	return NewCatalog(nil).Run(tx, req, now)
}

// Run is the package's Run over this catalog's kinds.
func (cat *Catalog) Run(tx *store.Tx, req Request, now time.Time) (Result, error) {
	return cat.run(tx, req, now, true)
}

// run is Run; fast=false evaluates --where with HCL only (the reference the tests compare
// the compiled path with).
func (cat *Catalog) run(tx *store.Tx, req Request, now time.Time, fast bool) (Result, error) {
	c, err := cat.compile(req, now)
	if err != nil {
		return Result{}, err
	}
	if !fast {
		c.fast = nil
	}
	res := Result{Kind: c.k.name, Plan: c.plan, Rows: []map[string]any{}}
	for _, f := range c.cols {
		res.Fields = append(res.Fields, f.name)
	}
	// Queries never show raw HighLevel/PTD JSON, so records are read without it; and no
	// record outlives its callback (rows hold copies), so the iterators may reuse one value.
	e := &env{tx: tx.WithoutRaw().ReuseValues(), now: c.now}
	flag := strings.TrimPrefix(c.plan, "index:")
	if c.plan == "scan" {
		flag = ""
	} else if c.k.coll != "" && tx.IndexesIncomplete(c.k.coll) {
		// matchFlags filters on every flag, so the scan returns the rows the index would.
		res.Plan, res.Note = "scan", fmt.Sprintf("the indexes of %s are being built (first sync): --%s was answered by a scan", c.k.coll, flag)
		flag = ""
	}
	// Per record, the index flags and --where are decided first, from native values when
	// the expression compiled (fast.go); the output columns are computed only for the
	// records that pass, so a scan does not build rows it throws away.
	vals := make(map[string]cty.Value, len(c.needed))
	fr := &frame{e: e}
	err = c.k.src(e, flag, c.arg, func(rec any) error {
		res.Scanned++
		clear(vals)
		e.counted, fr.rec = false, rec
		if ok, err := c.matchFlags(e, rec); err != nil || !ok {
			return err
		}
		if c.where != nil {
			ok, err := c.match(fr, vals)
			if err != nil || !ok {
				return err
			}
		}
		if c.limit > 0 && len(res.Rows) >= c.limit {
			res.Truncated = true
			return store.ErrStop
		}
		row := make(map[string]any, len(c.cols))
		for _, f := range c.cols {
			v, err := exportField(f, e, rec, vals)
			if err != nil {
				return err
			}
			row[f.name] = v
		}
		res.Rows = append(res.Rows, row)
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// match decides --where for one record: with the compiled expression when there is one,
// with HCL otherwise or when the compiled one defers (errFallback). vals receives the cty
// values HCL needed, for the output columns to reuse.
func (c *compiled) match(fr *frame, vals map[string]cty.Value) (bool, error) {
	if c.fast != nil {
		v, err := c.fast.f(fr)
		if !errors.Is(err, errFallback) {
			return v.b, err
		}
	}
	for _, f := range c.vars {
		v, err := f.get(fr.e, fr.rec)
		if err != nil {
			return false, err
		}
		vals[f.name] = v
	}
	return c.eval(vals)
}

// exportField gives a column's output value, from vals when HCL computed it, else natively
// (with the same NFC normalization and formatting as export), else through cty.
func exportField(f field, e *env, rec any, vals map[string]cty.Value) (any, error) {
	if v, ok := vals[f.name]; ok {
		return export(f.typ, v), nil
	}
	switch {
	case f.typ == fStr && f.str != nil:
		s, err := f.str(e, rec)
		return cty.NormalizeString(s), err
	case f.typ == fTime && f.num != nil:
		n, err := f.num(e, rec)
		if n == 0 {
			return "", err
		}
		return time.Unix(n, 0).UTC().Format(time.RFC3339), err
	case f.typ == fNum && f.num != nil:
		return f.num(e, rec)
	case f.typ == fBool && f.bl != nil:
		return f.bl(e, rec)
	case f.typ == fList && f.lst != nil:
		l, err := f.lst(e, rec)
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = cty.NormalizeString(s)
		}
		return out, err
	}
	v, err := f.get(e, rec)
	if err != nil {
		return nil, err
	}
	return export(f.typ, v), nil
}

// eval runs the --where expression on one record's values.
func (c *compiled) eval(vals map[string]cty.Value) (bool, error) {
	v, diags := c.where.Value(&hcl.EvalContext{Variables: vals, Functions: c.funcs})
	if diags.HasErrors() {
		return false, &RequestError{Msg: "--where: " + diagText(diags, c.src)}
	}
	return !v.IsNull() && v.IsKnown() && v.Type() == cty.Bool && v.True(), nil
}

// matchFlags applies every index flag as a filter (the planned one is already satisfied, the
// others narrow it down). Flag times are whole seconds, so comparing the fields' Unix
// seconds agrees exactly with the nanosecond index ranges. Strings are compared
// NFC-normalized, as their cty values were.
func (c *compiled) matchFlags(e *env, rec any) (bool, error) {
	for flag, a := range c.flags {
		f := c.flagF[flag]
		switch flag {
		case FlagEmail, FlagPhone:
			s, err := f.str(e, rec)
			if err != nil || cty.NormalizeString(s) != a.s {
				return false, err
			}
		case FlagTag:
			l, err := f.lst(e, rec)
			if err != nil {
				return false, err
			}
			found := false
			for _, el := range l {
				if strings.EqualFold(strings.TrimSpace(cty.NormalizeString(el)), a.s) {
					found = true
					break
				}
			}
			if !found {
				return false, nil
			}
		case FlagUpdatedSince, FlagDueBefore:
			sec, err := f.num(e, rec)
			if err != nil {
				return false, err
			}
			if flag == FlagUpdatedSince && sec < a.t.Unix() {
				return false, nil
			}
			if flag == FlagDueBefore && (sec == 0 || sec >= a.t.Unix()) {
				return false, nil
			}
		}
	}
	return true, nil
}

// Describe lists each kind with its fields and types, for `ptsync query --help`.
func Describe() string {
	var b strings.Builder
	cat := NewCatalog(nil)
	for _, name := range cat.names {
		k := cat.defs[name]
		var fs []string
		for _, f := range k.fields {
			fs = append(fs, f.name+":"+f.typ.String())
		}
		var flags []string
		for _, f := range flagOrder {
			if _, ok := k.flagField[f]; ok {
				flags = append(flags, "--"+f)
			}
		}
		sort.Strings(flags)
		fmt.Fprintf(&b, "  %-17s %s", name, strings.Join(fs, " "))
		if len(flags) > 0 {
			fmt.Fprintf(&b, "\n  %-17s index flags: %s", "", strings.Join(flags, " "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// diagText renders HCL diagnostics as "<where>:LINE:COL: summary; detail" followed by the
// expression with a caret under the column, for a one-line expression on a terminal.
func diagText(diags hcl.Diagnostics, src string) string {
	var b strings.Builder
	for i, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if i > 0 {
			b.WriteString("\n")
		}
		if d.Subject == nil {
			fmt.Fprintf(&b, "<where>: %s; %s", d.Summary, d.Detail)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s; %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail)
		if d.Subject.Start.Line == 1 && !strings.Contains(src, "\n") {
			fmt.Fprintf(&b, "\n    %s\n    %s^", src, strings.Repeat(" ", max(0, d.Subject.Start.Column-1)))
		}
	}
	return b.String()
}
