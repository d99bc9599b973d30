package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// routeFile wraps one condition in a minimal valid configuration.
func routeFile(when string) string {
	return fmt.Sprintf(`ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
route "r" {
  when  = %s
  group = "G"
}
`, when)
}

func TestRouteMatch(t *testing.T) {
	vip := ContactVars(RouteContact{
		ID: "c1", Email: "Ann@Gym.Example", FirstName: "Ann", Tags: []string{" VIP ", "newsletter"},
		Country: "GB", Phone: "+447700900123", Dnd: true,
	})
	tests := []struct {
		name    string
		when    string
		vars    map[string]cty.Value
		want    bool
		wantErr string // substring of the error; the position is checked separately
	}{
		{name: "tag present", when: `contains(tags, "vip")`, vars: vip, want: true},
		{name: "tag absent", when: `contains(tags, "gold")`, vars: vip, want: false},
		{name: "substring of email", when: `contains(lower(email), "@gym.example")`, vars: vip, want: true},
		{name: "startswith", when: `startswith(phone, "+44")`, vars: vip, want: true},
		{name: "endswith case-sensitive", when: `endswith(email, "gym.example")`, vars: vip, want: false},
		{name: "upper and equality", when: `upper(firstName) == "ANN" && country == "GB"`, vars: vip, want: true},
		{name: "length of tags", when: `length(tags) >= 2`, vars: vip, want: true},
		{name: "length of string", when: `length(firstName) == 3`, vars: vip, want: true},
		{name: "regexall", when: `length(regexall("^\\+44", phone)) > 0`, vars: vip, want: true},
		{name: "can regex no match", when: `can(regex("^\\+1", phone))`, vars: vip, want: false},
		{name: "bool field", when: `dnd`, vars: vip, want: true},
		{name: "missing vars default to empty", when: `email == "" && !contains(tags, "vip") && !dnd`, vars: nil, want: true},
		{name: "partial vars", when: `firstName == "Bo" && lastName == ""`, vars: map[string]cty.Value{"firstName": cty.StringVal("Bo")}, want: true},
		{name: "null result", when: `null`, vars: vip, wantErr: "got null"},
		{name: "string result at runtime", when: `try(regex("@", email), false)`, vars: vip, wantErr: "got a string"},
		{name: "wrong var type at runtime", when: `contains(email, "x")`, vars: map[string]cty.Value{"email": cty.NumberIntVal(3)}, wantErr: "argument must be list, tuple, or set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(routeFile(tc.when)), "routes.hcl", testEnv(t, nil))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := cfg.Routes[0].Match(tc.vars)
			if tc.wantErr != "" {
				var cerr *Error
				if err == nil || !errors.As(err, &cerr) || !errors.Is(err, ErrEval) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got (%v, %v), want an *Error matching ErrEval containing %q", got, err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "routes.hcl:13:") {
					t.Errorf("error %q is not positioned on the when expression (routes.hcl:13:...)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRouteLoadTimeChecks(t *testing.T) {
	tests := []struct {
		name, when, want string
	}{
		{"non-bool literal", `"vip"`, `routes.hcl:13:11: Route condition is not a bool: the when expression of route "r" yields a string`},
		{"arithmetic", `length(tags) + 1`, `routes.hcl:13:11: Route condition is not a bool: the when expression of route "r" yields a number`},
		{"unknown field", `contains(groups, "x")`, `routes.hcl:13:20: Unknown contact field: route "r" refers to "groups"`},
		{"wrong arity", `startswith(email)`, `routes.hcl:13:27: Not enough function arguments`},
		{"wrong argument type", `startswith(tags, "x")`, `routes.hcl:13:22: Invalid function argument`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(routeFile(tc.when)), "routes.hcl", testEnv(t, nil))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got  %v\nwant %s...", err, tc.want)
			}
		})
	}
}

func TestRouteZeroValue(t *testing.T) {
	if _, err := (Route{Name: "empty"}).Match(nil); err == nil {
		t.Error("Match on a Route without condition returned no error")
	}
}

func TestRenderReminder(t *testing.T) {
	r := Reminders{Message: "Hi {{first_name}}, {{ title }} is due {{due}}{{email}}"}
	got := r.RenderReminder(map[string]string{"first_name": "Ann", "title": "Check-in", "due": "tomorrow"})
	if want := "Hi Ann, Check-in is due tomorrow"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRouteMatchConcurrent runs Match from many goroutines on one Config; run with -race.
func TestRouteMatchConcurrent(t *testing.T) {
	cfg, err := Parse([]byte(routeFile(`contains(tags, "vip") && startswith(email, "a")`)), "routes.hcl", testEnv(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Routes[0]
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				email := "a@x"
				if (g+i)%2 == 1 {
					email = "b@x"
				}
				got, err := r.Match(ContactVars(RouteContact{Email: email, Tags: []string{"VIP"}}))
				if err != nil || got != (email == "a@x") {
					errs <- fmt.Errorf("goroutine %d iteration %d: got (%v, %v)", g, i, got, err)
					return
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestContactVarsCoverEveryField: ContactVars yields exactly the variables a condition may
// reference, so a field added to one and not the other fails here.
func TestContactVarsCoverEveryField(t *testing.T) {
	vars, types := ContactVars(RouteContact{}), contactFieldTypes()
	for name := range types {
		if _, ok := vars[name]; !ok {
			t.Errorf("ContactVars has no %q", name)
		}
	}
	for name := range vars {
		if _, ok := types[name]; !ok {
			t.Errorf("ContactVars yields %q, which conditions cannot reference", name)
		}
	}
}
