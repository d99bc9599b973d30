package ptd_test

import (
	"fmt"
	"testing"

	"ptsync/apiclient/ptd"
	"ptsync/internal/secret"
	"ptsync/internal/secrettest"
)

// TestSecretLeakDriverObjects prints the drivers themselves — the values a careless
// log.Debug("x", "driver", d) would pass — with every fmt verb and both hclog formats. fmt
// walks unexported fields by reflection without calling Secret's methods, so this only holds
// if no driver keeps a secret where reflection can read it as text.
func TestSecretLeakDriverObjects(t *testing.T) {
	const (
		apiKey = "ptd-rest-api-key-0123456789"
		hook   = "zapier-hook-token-abcdef"
	)
	hookURL := func(action string) ptd.Secret {
		return secret.New("https://hooks.zapier.example/hooks/catch/" + hook + "/" + action + "/")
	}
	rest, err := ptd.NewREST(ptd.RESTOptions{BaseURL: "http://127.0.0.1:9", APIKey: secret.New(apiKey)})
	if err != nil {
		t.Fatal(err)
	}
	hooks := ptd.ZapierHooks{AddClient: hookURL("add"), AddToGroup: hookURL("group"), AssignPackage: hookURL("package"),
		PrintOnly: hookURL("print"), Reminder: hookURL("reminder")}
	zap, err := ptd.NewZapier(ptd.ZapierOptions{Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	objects := []struct {
		name string
		obj  any
	}{
		{"*REST", rest},
		{"*Zapier", zap},
		{"ZapierHooks", hooks},
		{"RESTOptions", ptd.RESTOptions{BaseURL: "http://127.0.0.1:9", APIKey: secret.New(apiKey)}},
		{"struct holding drivers", struct {
			R *ptd.REST
			Z *ptd.Zapier
		}{rest, zap}},
	}
	for _, o := range objects {
		t.Run(o.name, func(t *testing.T) {
			sink := secrettest.NewSink(t, apiKey, hook)
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
				sink.Check("fmt "+verb, fmt.Sprintf(verb, o.obj))
			}
			sink.Logger().Debug("x", "obj", o.obj)
			sink.JSONLogger().Debug("x", "obj", o.obj)
			sink.Logger().With("obj", o.obj).Info("derived")
			if sink.Lines() != 3 {
				t.Fatalf("hclog wrote %d lines, want 3", sink.Lines())
			}
		})
	}
}
