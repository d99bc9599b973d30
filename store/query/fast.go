package query

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The compiled --where path. HCL evaluates an expression by building cty values for every
// variable and calling cty functions through their generic, type-checking machinery: about
// 8 µs a record, most of a scan's cost. compileFast translates the common subset of the
// language (literals, field references, ! - && || == != < <= > >= + - *, ?:, and the
// functions contains startswith endswith lower upper length now date duration timeadd)
// into Go closures over the records' native values. Anything else, or any type it is not
// sure of, is not compiled and the query uses HCL as before; at run time a node that cannot
// be sure of HCL's answer (integer overflow, where HCL computes with big floats) returns
// errFallback and that record is evaluated by HCL. HCL stays the reference:
// TestFastMatchesHCL and FuzzFastMatchesHCL compare the two on every kind.
//
// Strings follow cty's rules: every string value is NFC-normalized (cty.StringVal does
// it), so comparisons and prefixes see the same bytes HCL does.

// errFallback asks for this record to be evaluated by HCL.
var errFallback = errors.New("evaluate with hcl")

type ckind int

const (
	kStr ckind = iota
	kInt
	kBool
	kList
)

// cval is a compiled node's value; which field is set depends on the node's kind.
type cval struct {
	s string
	n int64
	b bool
	l []string
}

// frame is what a node evaluates against: one record.
type frame struct {
	e   *env
	rec any
}

type cnode struct {
	k ckind
	f func(fr *frame) (cval, error)
	c *cval // set when the node is a constant
}

func constant(k ckind, v cval) cnode {
	return cnode{k: k, c: &v, f: func(*frame) (cval, error) { return v, nil }}
}

// compileFast returns the compiled form of expr, or false when it uses anything outside the
// subset (the query then evaluates with HCL).
func (c *compiled) compileFast(expr hclsyntax.Expression) (cnode, bool) {
	n, ok := c.node(expr)
	if !ok || n.k != kBool {
		return cnode{}, false
	}
	return n, true
}

func (c *compiled) node(expr hclsyntax.Expression) (cnode, bool) {
	switch x := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return literal(x.Val)
	case *hclsyntax.TemplateExpr:
		switch {
		case len(x.Parts) == 0:
			return constant(kStr, cval{}), true
		case len(x.Parts) == 1:
			if lit, ok := x.Parts[0].(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
				return literal(lit.Val)
			}
		}
	case *hclsyntax.ParenthesesExpr:
		return c.node(x.Expression)
	case *hclsyntax.ScopeTraversalExpr:
		if len(x.Traversal) == 1 {
			return c.fieldNode(x.Traversal.RootName())
		}
	case *hclsyntax.UnaryOpExpr:
		return c.unary(x)
	case *hclsyntax.BinaryOpExpr:
		return c.binary(x)
	case *hclsyntax.ConditionalExpr:
		return c.conditional(x)
	case *hclsyntax.FunctionCallExpr:
		if !x.ExpandFinal {
			return c.call(x)
		}
	}
	return cnode{}, false
}

func literal(v cty.Value) (cnode, bool) {
	if v.IsNull() || !v.IsKnown() {
		return cnode{}, false
	}
	switch v.Type() {
	case cty.String:
		return constant(kStr, cval{s: v.AsString()}), true
	case cty.Bool:
		return constant(kBool, cval{b: v.True()}), true
	case cty.Number:
		if n, acc := v.AsBigFloat().Int64(); acc == big.Exact {
			return constant(kInt, cval{n: n}), true
		}
	}
	return cnode{}, false
}

func (c *compiled) fieldNode(name string) (cnode, bool) {
	f, ok := c.k.field(name)
	if !ok {
		return cnode{}, false
	}
	switch {
	case f.typ == fStr && f.str != nil:
		get := f.str
		return cnode{k: kStr, f: func(fr *frame) (cval, error) {
			s, err := get(fr.e, fr.rec)
			return cval{s: cty.NormalizeString(s)}, err
		}}, true
	case (f.typ == fNum || f.typ == fTime) && f.num != nil:
		get := f.num
		return cnode{k: kInt, f: func(fr *frame) (cval, error) { n, err := get(fr.e, fr.rec); return cval{n: n}, err }}, true
	case f.typ == fBool && f.bl != nil:
		get := f.bl
		return cnode{k: kBool, f: func(fr *frame) (cval, error) { b, err := get(fr.e, fr.rec); return cval{b: b}, err }}, true
	case f.typ == fList && f.lst != nil:
		get := f.lst
		return cnode{k: kList, f: func(fr *frame) (cval, error) { l, err := get(fr.e, fr.rec); return cval{l: l}, err }}, true
	}
	return cnode{}, false
}

func (c *compiled) unary(x *hclsyntax.UnaryOpExpr) (cnode, bool) {
	v, ok := c.node(x.Val)
	if !ok {
		return cnode{}, false
	}
	switch {
	case x.Op == hclsyntax.OpLogicalNot && v.k == kBool:
		return cnode{k: kBool, f: func(fr *frame) (cval, error) {
			a, err := v.f(fr)
			return cval{b: !a.b}, err
		}}, true
	case x.Op == hclsyntax.OpNegate && v.k == kInt:
		return cnode{k: kInt, f: func(fr *frame) (cval, error) {
			a, err := v.f(fr)
			if err == nil && a.n == math.MinInt64 {
				err = errFallback
			}
			return cval{n: -a.n}, err
		}}, true
	}
	return cnode{}, false
}

// two evaluates both operands (HCL evaluates both sides too; compiled nodes have no side
// effects, so only the first error matters).
func two(l, r cnode, fr *frame) (cval, cval, error) {
	a, err := l.f(fr)
	if err != nil {
		return a, cval{}, err
	}
	b, err := r.f(fr)
	return a, b, err
}

func (c *compiled) binary(x *hclsyntax.BinaryOpExpr) (cnode, bool) {
	l, ok := c.node(x.LHS)
	if !ok {
		return cnode{}, false
	}
	r, ok := c.node(x.RHS)
	if !ok || l.k != r.k {
		return cnode{}, false
	}
	boolOp := func(op func(a, b cval) bool) (cnode, bool) {
		return cnode{k: kBool, f: func(fr *frame) (cval, error) {
			a, b, err := two(l, r, fr)
			return cval{b: op(a, b)}, err
		}}, true
	}
	intOp := func(op func(a, b int64) (int64, bool)) (cnode, bool) {
		return cnode{k: kInt, f: func(fr *frame) (cval, error) {
			a, b, err := two(l, r, fr)
			if err != nil {
				return cval{}, err
			}
			n, ok := op(a.n, b.n)
			if !ok {
				return cval{}, errFallback
			}
			return cval{n: n}, nil
		}}, true
	}
	switch op := x.Op; {
	case (op == hclsyntax.OpLogicalAnd || op == hclsyntax.OpLogicalOr) && l.k == kBool:
		and := op == hclsyntax.OpLogicalAnd
		return cnode{k: kBool, f: func(fr *frame) (cval, error) {
			a, err := l.f(fr)
			if err != nil {
				return a, err
			}
			if a.b != and { // false && x, true || x: HCL short-circuits the same way
				return cval{b: a.b}, nil
			}
			return r.f(fr)
		}}, true
	case op == hclsyntax.OpEqual || op == hclsyntax.OpNotEqual:
		ne := op == hclsyntax.OpNotEqual
		switch l.k {
		case kStr:
			return boolOp(func(a, b cval) bool { return (a.s == b.s) != ne })
		case kInt:
			return boolOp(func(a, b cval) bool { return (a.n == b.n) != ne })
		case kBool:
			return boolOp(func(a, b cval) bool { return (a.b == b.b) != ne })
		}
	case l.k != kInt:
	case op == hclsyntax.OpLessThan:
		return boolOp(func(a, b cval) bool { return a.n < b.n })
	case op == hclsyntax.OpLessThanOrEqual:
		return boolOp(func(a, b cval) bool { return a.n <= b.n })
	case op == hclsyntax.OpGreaterThan:
		return boolOp(func(a, b cval) bool { return a.n > b.n })
	case op == hclsyntax.OpGreaterThanOrEqual:
		return boolOp(func(a, b cval) bool { return a.n >= b.n })
	case op == hclsyntax.OpAdd:
		return intOp(func(a, b int64) (int64, bool) { s := a + b; return s, (s > a) == (b > 0) })
	case op == hclsyntax.OpSubtract:
		return intOp(func(a, b int64) (int64, bool) { s := a - b; return s, (s < a) == (b > 0) })
	case op == hclsyntax.OpMultiply:
		return intOp(func(a, b int64) (int64, bool) {
			if a == 0 || b == 0 {
				return 0, true
			}
			p := a * b
			return p, p/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
		})
	}
	return cnode{}, false
}

func (c *compiled) conditional(x *hclsyntax.ConditionalExpr) (cnode, bool) {
	cond, ok := c.node(x.Condition)
	if !ok || cond.k != kBool {
		return cnode{}, false
	}
	t, ok := c.node(x.TrueResult)
	if !ok || t.k == kList {
		return cnode{}, false
	}
	f, ok := c.node(x.FalseResult)
	if !ok || f.k != t.k {
		return cnode{}, false
	}
	return cnode{k: t.k, f: func(fr *frame) (cval, error) {
		a, err := cond.f(fr)
		if err != nil {
			return a, err
		}
		if a.b {
			return t.f(fr)
		}
		return f.f(fr)
	}}, true
}

// call compiles a call to one of the functions compileFast knows, when its arguments are of
// the kinds the fast version handles; any other call (or argument kind) reports false and
// the query falls back to HCL for the whole expression.
func (c *compiled) call(x *hclsyntax.FunctionCallExpr) (cnode, bool) {
	args := make([]cnode, len(x.Args))
	for i, a := range x.Args {
		n, ok := c.node(a)
		if !ok {
			return cnode{}, false
		}
		args[i] = n
	}
	switch x.Name {
	case "contains":
		return callContains(args)
	case "startswith", "endswith":
		return callAffix(x.Name, args)
	case "lower", "upper":
		return callCase(x.Name, args)
	case "length":
		return callLength(args)
	case "now", "date", "duration", "timeadd":
		return c.callTime(x.Name, args)
	}
	return cnode{}, false
}

// argsOf reports whether args are exactly of kinds ks, in order.
func argsOf(args []cnode, ks ...ckind) bool {
	if len(args) != len(ks) {
		return false
	}
	for i, k := range ks {
		if args[i].k != k {
			return false
		}
	}
	return true
}

// callContains: contains(list, string), compared after NFC normalization as HCL does.
func callContains(args []cnode) (cnode, bool) {
	if !argsOf(args, kList, kStr) {
		return cnode{}, false
	}
	l, v := args[0], args[1]
	return cnode{k: kBool, f: func(fr *frame) (cval, error) {
		a, b, err := two(l, v, fr)
		if err != nil {
			return cval{}, err
		}
		for _, el := range a.l {
			if cty.NormalizeString(el) == b.s {
				return cval{b: true}, nil
			}
		}
		return cval{}, nil
	}}, true
}

// callAffix: startswith(string, prefix) and endswith(string, suffix).
func callAffix(name string, args []cnode) (cnode, bool) {
	if !argsOf(args, kStr, kStr) {
		return cnode{}, false
	}
	pred := strings.HasPrefix
	if name == "endswith" {
		pred = strings.HasSuffix
	}
	s, p := args[0], args[1]
	return cnode{k: kBool, f: func(fr *frame) (cval, error) {
		a, b, err := two(s, p, fr)
		return cval{b: pred(a.s, b.s)}, err
	}}, true
}

// callCase: lower(string) and upper(string), normalized again after the conversion.
func callCase(name string, args []cnode) (cnode, bool) {
	if !argsOf(args, kStr) {
		return cnode{}, false
	}
	conv := strings.ToLower
	if name == "upper" {
		conv = strings.ToUpper
	}
	s := args[0]
	return cnode{k: kStr, f: func(fr *frame) (cval, error) {
		a, err := s.f(fr)
		return cval{s: cty.NormalizeString(conv(a.s))}, err
	}}, true
}

// callLength: length(list) only. The length of a string counts grapheme clusters, which is
// left to HCL.
func callLength(args []cnode) (cnode, bool) {
	if !argsOf(args, kList) {
		return cnode{}, false
	}
	l := args[0]
	return cnode{k: kInt, f: func(fr *frame) (cval, error) {
		a, err := l.f(fr)
		return cval{n: int64(len(a.l))}, err
	}}, true
}

// callTime: now(), date(constant) and duration(constant), folded to constants (now is the
// query's clock, one instant per query), and timeadd(time, constant duration). A date or
// duration that does not parse is not compiled, so HCL reports the error as it always did.
func (c *compiled) callTime(name string, args []cnode) (cnode, bool) {
	switch name {
	case "now":
		if argsOf(args) {
			return constant(kInt, cval{n: c.now.Unix()}), true
		}
	case "date":
		if argsOf(args, kStr) && args[0].c != nil {
			s := args[0].c.s
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return constant(kInt, cval{n: t.Unix()}), true
			}
			if t, err := time.Parse("2006-01-02", s); err == nil {
				return constant(kInt, cval{n: t.Unix()}), true
			}
		}
	case "duration":
		if argsOf(args, kStr) && args[0].c != nil {
			if d, err := parseDuration(args[0].c.s); err == nil {
				return constant(kInt, cval{n: int64(d / time.Second)}), true
			}
		}
	case "timeadd":
		if argsOf(args, kInt, kStr) && args[1].c != nil {
			d, err := parseDuration(args[1].c.s)
			if err != nil {
				return cnode{}, false
			}
			t := args[0]
			return cnode{k: kInt, f: func(fr *frame) (cval, error) {
				a, err := t.f(fr)
				return cval{n: time.Unix(a.n, 0).UTC().Add(d).Unix()}, err
			}}, true
		}
	}
	return cnode{}, false
}
