package registry

import (
	"reflect"
	"testing"
)

type kind struct {
	name  string
	order int
}

type entries struct{}

func (entries) Zeta() kind  { return kind{"zeta", 10} }
func (entries) Alpha() kind { return kind{"alpha", 30} }
func (entries) Beta() kind  { return kind{"beta", 10} }

type badEntries struct{}

func (badEntries) Task(int) kind { return kind{} }

func TestCollectOrdersByOrderThenName(t *testing.T) {
	got := Collect(entries{}, func(k kind) int { return k.order })
	want := []kind{{"beta", 10}, {"zeta", 10}, {"alpha", 30}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// namedEntries' method names sort the other way round from the names they return.
type namedEntries struct{}

func (namedEntries) A() kind { return kind{"zeta", 0} }
func (namedEntries) B() kind { return kind{"alpha", 0} }

// TestCollectOrdersByAStringKey: drivers are ordered by their name, not by the method's.
func TestCollectOrdersByAStringKey(t *testing.T) {
	got := Collect(namedEntries{}, func(k kind) string { return k.name })
	want := []kind{{"alpha", 0}, {"zeta", 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCollectRefusesAMalformedEntry(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a method with an argument was accepted")
		}
	}()
	Collect(badEntries{}, func(k kind) int { return k.order })
}
