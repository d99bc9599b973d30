package plan

import (
	"reflect"
	"testing"

	"ptsync/apiclient/ghlwire"
)

// TestRouteContactCarriesEveryField: each field route conditions see is copied from the
// HighLevel contact of the same name, so no condition silently reads an empty value.
func TestRouteContactCarriesEveryField(t *testing.T) {
	var c ghlwire.Contact
	cv := reflect.ValueOf(&c).Elem()
	rt := reflect.TypeOf(routeContact(c))
	for i := range rt.NumField() {
		f := rt.Field(i)
		src := cv.FieldByName(f.Name)
		if !src.IsValid() {
			t.Fatalf("ghlwire.Contact has no field %s", f.Name)
		}
		switch src.Kind() {
		case reflect.String:
			src.SetString("value of " + f.Name)
		case reflect.Bool:
			src.SetBool(true)
		case reflect.Slice:
			src.Set(reflect.ValueOf([]string{"tag of " + f.Name}))
		}
	}
	got := reflect.ValueOf(routeContact(c))
	for i := range rt.NumField() {
		name := rt.Field(i).Name
		if want := cv.FieldByName(name).Interface(); !reflect.DeepEqual(got.Field(i).Interface(), want) {
			t.Errorf("routeContact.%s = %v, want %v", name, got.Field(i).Interface(), want)
		}
	}
}
