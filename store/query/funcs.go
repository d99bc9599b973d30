package query

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions returns the --where function table. now() is fixed to the query's clock so one
// query sees one instant. Times are Unix seconds (see the package comment).
func functions(now time.Time) map[string]function.Function {
	return map[string]function.Function{
		"contains":   stdlib.ContainsFunc,
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"length":     stdlib.LengthFunc,
		"strlen":     stdlib.StrlenFunc,
		"join":       stdlib.JoinFunc,
		"split":      stdlib.SplitFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"min":        stdlib.MinFunc,
		"max":        stdlib.MaxFunc,
		"abs":        stdlib.AbsoluteFunc,
		"regex":      stdlib.RegexFunc,
		"can":        tryfunc.CanFunc,
		"try":        tryfunc.TryFunc,
		"startswith": affixFunc(strings.HasPrefix),
		"endswith":   affixFunc(strings.HasSuffix),
		"now":        nowFunc(now),
		"date":       dateFunc(),
		"duration":   durationFunc(),
		"timeadd":    timeaddFunc(),
		"rfc3339":    rfc3339Func(),
		"formatdate": formatdateFunc(),
	}
}

// unixTime reads a number of Unix seconds (fractions dropped) as a UTC time.
func unixTime(v cty.Value) time.Time {
	s, _ := v.AsBigFloat().Int64()
	return time.Unix(s, 0).UTC()
}

// affixFunc: startswith(str, affix) / endswith(str, affix) with pred deciding.
func affixFunc(pred func(s, x string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "affix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(pred(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// nowFunc: now(), the query's one instant in Unix seconds.
func nowFunc(now time.Time) function.Function {
	return function.New(&function.Spec{
		Type: function.StaticReturnType(cty.Number),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) { return cty.NumberIntVal(now.Unix()), nil },
	})
}

// dateFunc: date("2025-03-01") or date("2025-03-01T10:00:00Z") in Unix seconds; any other
// text is an argument error naming the forms it takes.
func dateFunc() function.Function {
	return function.New(&function.Spec{
		Description: "date(\"2025-03-01\") or date(\"2025-03-01T10:00:00Z\"): Unix seconds",
		Params:      []function.Parameter{{Name: "text", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s := args[0].AsString()
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return cty.NumberIntVal(t.Unix()), nil
			}
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "want RFC 3339 or YYYY-MM-DD, got %q", s)
			}
			return cty.NumberIntVal(t.Unix()), nil
		},
	})
}

// durationFunc: duration("36h") or duration("7d") in seconds (parseDuration's forms).
func durationFunc() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "text", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			d, err := parseDuration(args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "want a duration like 36h or 7d: %v", err)
			}
			return cty.NumberIntVal(int64(d / time.Second)), nil
		},
	})
}

// timeaddFunc: timeadd(time, "36h"), a time in Unix seconds moved by a duration.
func timeaddFunc() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "time", Type: cty.Number}, {Name: "duration", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			d, err := parseDuration(args[1].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(1, "want a duration like 36h or 7d: %v", err)
			}
			return cty.NumberIntVal(unixTime(args[0]).Add(d).Unix()), nil
		},
	})
}

// rfc3339Func: rfc3339(time), a time in Unix seconds written in RFC 3339, UTC.
func rfc3339Func() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "time", Type: cty.Number}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(unixTime(args[0]).Format(time.RFC3339)), nil
		},
	})
}

// formatdateFunc: formatdate(format, time), HCL's formatdate over a time in Unix seconds.
func formatdateFunc() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "format", Type: cty.String}, {Name: "time", Type: cty.Number}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return stdlib.FormatDate(args[0], cty.StringVal(unixTime(args[1]).Format(time.RFC3339)))
		},
	})
}
