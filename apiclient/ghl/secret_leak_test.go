package ghl_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/internal/secret"
	"ptsync/internal/secrettest"
)

// TestSecretLeakClientObjects prints the credential sources and the client themselves — the
// values a careless log.Debug("x", "client", c) would pass — with every fmt verb and both hclog
// formats. fmt walks unexported fields by reflection without calling Secret's methods, so this
// only holds if a Secret's value cannot be reached as text by reflection.
func TestSecretLeakClientObjects(t *testing.T) {
	const (
		pit          = "pit-static-secret-0123456789"
		clientSecret = "oauth-client-secret-abcdef"
		access       = "oauth-access-token-ghijkl"
		refresh      = "oauth-refresh-token-mnopqr"
	)
	ctx := context.Background()
	static := ghl.NewStaticSource("loc1", secret.New(pit), []string{"contacts.readonly"})

	store := ghl.NewFileTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	if err := store.Save(ctx, "loc1", ghl.Token{AccessToken: secret.New(access), RefreshToken: secret.New(refresh),
		TokenType: "Bearer", Expiry: time.Now().Add(24 * time.Hour), Scopes: []string{"contacts.write"}, LocationID: "loc1"}); err != nil {
		t.Fatal(err)
	}
	oauth, err := ghl.NewOAuthSource(ghl.OAuthSourceOptions{Location: "loc1", ClientID: "client-id",
		ClientSecret: secret.New(clientSecret), TokenURL: "http://127.0.0.1:9/oauth/token", Store: store})
	if err != nil {
		t.Fatal(err)
	}
	// Load the pair so the source holds both tokens in memory, as it does in service.
	if tok, err := oauth.Current(ctx); err != nil || tok.AccessToken.Reveal() != access {
		t.Fatalf("Current = %v, %v; want the stored access token", tok, err)
	}
	staticClient, err := ghl.New(ghl.Options{BaseURL: "http://127.0.0.1:9", LocationID: "loc1", Credentials: static})
	if err != nil {
		t.Fatal(err)
	}
	oauthClient, err := ghl.New(ghl.Options{BaseURL: "http://127.0.0.1:9", LocationID: "loc1", Credentials: oauth})
	if err != nil {
		t.Fatal(err)
	}
	objects := []struct {
		name string
		obj  any
	}{
		{"*StaticSource", static},
		{"*OAuthSource", oauth},
		{"*Client with StaticSource", staticClient},
		{"*Client with OAuthSource", oauthClient},
		{"OAuthSourceOptions", ghl.OAuthSourceOptions{Location: "loc1", ClientSecret: secret.New(clientSecret)}},
		{"struct holding *OAuthSource", struct{ S *ghl.OAuthSource }{oauth}},
	}
	for _, o := range objects {
		t.Run(o.name, func(t *testing.T) {
			sink := secrettest.NewSink(t, pit, clientSecret, access, refresh)
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
