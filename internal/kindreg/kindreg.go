// Package kindreg builds the child-kind registries of ptsync's layers without a list to
// edit: each layer declares an empty type, and each kind's file in that layer adds one
// exported method to it returning the kind's descriptor (func (kindFiles) Task() ChildKind).
// Collect calls those methods and orders what they return.
//
// Nothing is registered at init time and no package-level state exists: the registry is
// rebuilt on every call, so a caller (a test) can build its own list instead.
package kindreg

import (
	"fmt"
	"reflect"
	"sort"
)

// Collect calls every exported method of holder (a value of a layer's empty entries type)
// and returns the results ordered by order (ties by method name, so the result is stable).
// Every method must take no argument and return exactly one T: anything else is a
// programming error in the layer and panics at the first call, which every layer's tests make.
func Collect[T any](holder any, order func(T) int) []T {
	v := reflect.ValueOf(holder)
	type entry struct {
		name string
		kind T
	}
	es := make([]entry, 0, v.NumMethod())
	for i := range v.NumMethod() {
		m, name := v.Method(i), v.Type().Method(i).Name
		if m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
			panic(fmt.Sprintf("kindreg: %T.%s must take nothing and return one descriptor", holder, name))
		}
		k, ok := m.Call(nil)[0].Interface().(T)
		if !ok {
			panic(fmt.Sprintf("kindreg: %T.%s does not return a %T", holder, name, *new(T)))
		}
		es = append(es, entry{name, k})
	}
	sort.SliceStable(es, func(i, j int) bool {
		if a, b := order(es[i].kind), order(es[j].kind); a != b {
			return a < b
		}
		return es[i].name < es[j].name
	})
	out := make([]T, len(es))
	for i, e := range es {
		out[i] = e.kind
	}
	return out
}
