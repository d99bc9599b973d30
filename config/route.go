package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Route assigns a PTD group, package and access level to contacts for which When is true.
// Routes are tried in file order and the first match wins.
type Route struct {
	Name string
	// When is the condition, kept unevaluated; Parse has checked that it parses, references
	// only the contact fields (contactFieldTypes) and yields a bool.
	When    hcl.Expression
	Group   string
	Package string
	// Access is "online", "print_only" or empty (leave the client's access alone).
	Access string
	// DeclRange is the position of the route block's header.
	DeclRange hcl.Range

	funcs map[string]function.Function
}

// Match evaluates When for one contact. vars maps contact field names (see contactFieldTypes and
// ContactVars) to values; a known field missing from vars is the empty string, the empty tag
// list or false, so conditions never fail on sparse records. The error is an *Error with the
// expression's position (errors.Is ErrEval) when evaluation fails or the result is not a known, non-null bool.
// Match is safe for concurrent use.
func (r Route) Match(vars map[string]cty.Value) (bool, error) {
	if r.When == nil {
		return false, fmt.Errorf("cannot match route %q: no condition", r.Name)
	}
	funcs := r.funcs
	if funcs == nil {
		funcs = Functions()
	}
	types := contactFieldTypes()
	full := make(map[string]cty.Value, len(vars)+len(types))
	for name, ty := range types {
		full[name] = zeroOf(ty)
	}
	for k, v := range vars {
		full[k] = v
	}
	val, diags := r.When.Value(&hcl.EvalContext{Variables: full, Functions: funcs})
	if diags.HasErrors() {
		return false, &Error{Diagnostics: diags, cause: ErrEval}
	}
	rng := r.When.Range()
	if !val.IsKnown() || val.IsNull() || val.Type() != cty.Bool {
		what := "null"
		if !val.IsKnown() {
			what = "an unknown value"
		} else if !val.IsNull() {
			what = "a " + val.Type().FriendlyName()
		}
		return false, &Error{Diagnostics: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Route condition is not a bool",
			Detail:   fmt.Sprintf("the when expression of route %q must yield true or false, got %s", r.Name, what),
			Subject:  &rng,
		}}, cause: ErrEval}
	}
	return val.True(), nil
}

// contactFieldTypes lists every variable a route condition or query may reference; each call
// returns a fresh map.
func contactFieldTypes() map[string]cty.Type {
	return map[string]cty.Type{
		"id": cty.String, "email": cty.String, "firstName": cty.String, "lastName": cty.String,
		"name": cty.String, "phone": cty.String, "companyName": cty.String, "timezone": cty.String,
		"source": cty.String, "type": cty.String, "assignedTo": cty.String, "address1": cty.String,
		"city": cty.String, "state": cty.String, "country": cty.String, "postalCode": cty.String,
		"website": cty.String, "dateOfBirth": cty.String, "dateAdded": cty.String,
		"dateUpdated": cty.String, "tags": cty.List(cty.String), "dnd": cty.Bool,
	}
}

func contactFieldList() string {
	types := contactFieldTypes()
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func zeroOf(ty cty.Type) cty.Value {
	switch {
	case ty == cty.Bool:
		return cty.False
	case ty.IsListType():
		return cty.ListValEmpty(ty.ElementType())
	default:
		return cty.StringVal("")
	}
}

// RouteContact is a contact as route conditions and the query language see it: one field per
// variable, named as HighLevel's contact JSON names them (contactFieldTypes). The caller fills
// it from the contact it holds, so this package depends on no wire format.
type RouteContact struct {
	ID, Email, FirstName, LastName, Name, Phone, CompanyName, Timezone, Source, Type string
	AssignedTo, Address1, City, State, Country, PostalCode, Website, DateOfBirth     string
	DateAdded, DateUpdated                                                           string
	Tags                                                                             []string
	Dnd                                                                              bool
}

// ContactVars turns a contact into the variables Route.Match and the query language
// evaluate. Tags are lower-cased and trimmed, as HighLevel stores them.
func ContactVars(c RouteContact) map[string]cty.Value {
	tags := make([]cty.Value, 0, len(c.Tags))
	for _, t := range c.Tags {
		tags = append(tags, cty.StringVal(strings.ToLower(strings.TrimSpace(t))))
	}
	tagList := cty.ListValEmpty(cty.String)
	if len(tags) > 0 {
		tagList = cty.ListVal(tags)
	}
	s := cty.StringVal
	return map[string]cty.Value{
		"id": s(c.ID), "email": s(c.Email), "firstName": s(c.FirstName), "lastName": s(c.LastName),
		"name": s(c.Name), "phone": s(c.Phone), "companyName": s(c.CompanyName),
		"timezone": s(c.Timezone), "source": s(c.Source), "type": s(c.Type),
		"assignedTo": s(c.AssignedTo), "address1": s(c.Address1), "city": s(c.City),
		"state": s(c.State), "country": s(c.Country), "postalCode": s(c.PostalCode),
		"website": s(c.Website), "dateOfBirth": s(c.DateOfBirth), "dateAdded": s(c.DateAdded),
		"dateUpdated": s(c.DateUpdated), "tags": tagList, "dnd": cty.BoolVal(c.Dnd),
	}
}

// Functions returns the functions available to route conditions and to `ptsync query --where`:
// contains (list membership, or substring when the first argument is a string), lower, upper,
// trim, length (of a string or a collection), startswith, endswith, regex, regexall, replace,
// split, join, coalesce, can and try. Each call returns a fresh map the caller may modify.
func Functions() map[string]function.Function {
	return map[string]function.Function{
		"contains":   containsFunc,
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"trim":       stdlib.TrimSpaceFunc,
		"length":     lengthFunc,
		"startswith": prefixFunc(strings.HasPrefix, "prefix"),
		"endswith":   prefixFunc(strings.HasSuffix, "suffix"),
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"replace":    stdlib.ReplaceFunc,
		"split":      stdlib.SplitFunc,
		"join":       stdlib.JoinFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"can":        tryfunc.CanFunc,
		"try":        tryfunc.TryFunc,
	}
}

// containsFunc is stdlib's list membership, extended to substring search on strings because
// conditions such as contains(email, "@gym.example") read naturally.
var containsFunc = function.New(&function.Spec{
	Description: "Reports whether a list contains a value, or a string contains a substring.",
	Params: []function.Parameter{
		{Name: "haystack", Type: cty.DynamicPseudoType},
		{Name: "needle", Type: cty.DynamicPseudoType, AllowNull: true},
	},
	Type: function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			if args[1].IsNull() || args[1].Type() != cty.String {
				return cty.NilVal, function.NewArgErrorf(1, "a string can only contain a string")
			}
			return cty.BoolVal(strings.Contains(args[0].AsString(), args[1].AsString())), nil
		}
		return stdlib.ContainsFunc.Call(args)
	},
})

var lengthFunc = function.New(&function.Spec{
	Description: "Returns the number of characters of a string or elements of a collection.",
	Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.StrlenFunc.Call(args)
		}
		if args[0].IsNull() {
			return cty.NilVal, errors.New("cannot take the length of null")
		}
		return stdlib.LengthFunc.Call(args)
	},
})

func prefixFunc(test func(s, affix string) bool, param string) function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a string starts or ends with another.",
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: param, Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(test(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// checkCondition validates a route condition at load time: every variable must be a contact
// field, and evaluating it with all fields unknown (so every function's argument types are
// checked) must yield a bool or an unknown value that may become one.
func checkCondition(expr hcl.Expression, route string, funcs map[string]function.Function) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		if _, ok := contactFieldTypes()[tr.RootName()]; !ok {
			rng := tr.SourceRange()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown contact field",
				Detail: fmt.Sprintf("route %q refers to %q, which is not a contact field; known fields: %s",
					route, tr.RootName(), contactFieldList()),
				Subject: &rng,
			})
		}
	}
	if diags.HasErrors() {
		return diags
	}
	types := contactFieldTypes()
	vars := make(map[string]cty.Value, len(types))
	for name, ty := range types {
		vars[name] = cty.UnknownVal(ty)
	}
	val, evalDiags := expr.Value(&hcl.EvalContext{Variables: vars, Functions: funcs})
	if evalDiags.HasErrors() {
		return append(diags, evalDiags...)
	}
	if ty := val.Type(); ty != cty.Bool && ty != cty.DynamicPseudoType {
		rng := expr.Range()
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Route condition is not a bool",
			Detail:   fmt.Sprintf("the when expression of route %q yields a %s; it must yield true or false", route, ty.FriendlyName()),
			Subject:  &rng,
		})
	}
	return diags
}
