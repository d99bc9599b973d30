// Package registry builds ptsync's registries without a list to edit: a package that wants
// one declares an empty type, and each entry's file adds one exported method to it returning
// the entry (func (kindFiles) Task() ChildKind, func (driverFiles) REST() Driver). Collect
// calls those methods and orders what they return. The child kinds of every layer and the PT
// Distinction drivers (apiclient/ptd and their config blocks) are built this way, so a new
// kind or driver adds its files and edits no shared list.
//
// Nothing is registered at init time and no package-level state exists: a registry is
// rebuilt on every call, so a caller (a test) can build its own list instead.
//
// Danger: an entry method must be exported (reflection sees no other) and declared on the
// value type, not a pointer; one that is not is silently not collected. Each package's tests
// check that its registry holds the entries it ships.
package registry

import (
	"cmp"
	"fmt"
	"reflect"
	"sort"
)

// Collect calls every exported method of holder (a value of a package's empty entries type)
// and returns the results ordered by key (ties by method name, so the result is stable).
// Every method must take no argument and return exactly one T: anything else is a
// programming error in that package and panics at the first call, which its tests make.
func Collect[T any, K cmp.Ordered](holder any, key func(T) K) []T {
	v := reflect.ValueOf(holder)
	type entry struct {
		name  string
		value T
	}
	es := make([]entry, 0, v.NumMethod())
	for i := range v.NumMethod() {
		m, name := v.Method(i), v.Type().Method(i).Name
		if m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
			panic(fmt.Sprintf("registry: %T.%s must take nothing and return one entry", holder, name))
		}
		e, ok := m.Call(nil)[0].Interface().(T)
		if !ok {
			panic(fmt.Sprintf("registry: %T.%s does not return a %T", holder, name, *new(T)))
		}
		es = append(es, entry{name, e})
	}
	sort.SliceStable(es, func(i, j int) bool {
		if a, b := key(es[i].value), key(es[j].value); a != b {
			return a < b
		}
		return es[i].name < es[j].name
	})
	out := make([]T, len(es))
	for i, e := range es {
		out[i] = e.value
	}
	return out
}
