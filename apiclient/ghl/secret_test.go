package ghl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"ptsync/internal/secret"
)

func TestSecretRedactsEverywhere(t *testing.T) {
	const raw = "sim-rt-supersecretvalue"
	s := secret.New(raw)
	tok := Token{AccessToken: secret.New("at-" + raw), RefreshToken: s, Expiry: time.Unix(0, 0), Scopes: []string{"contacts.readonly"}, LocationID: "loc1"}
	js, _ := json.Marshal(s)
	tjs, _ := json.Marshal(tok)
	tptr, _ := json.Marshal(&tok)
	cases := []struct {
		name string
		out  string
	}{
		{"%s", fmt.Sprintf("%s", s)},
		{"%v", fmt.Sprintf("%v", s)},
		{"%+v", fmt.Sprintf("%+v", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"String", s.String()},
		{"json", string(js)},
		{"token %v", fmt.Sprintf("%v", tok)},
		{"token %+v", fmt.Sprintf("%+v", tok)},
		{"token %#v", fmt.Sprintf("%#v", tok)},
		{"token %s ptr", fmt.Sprintf("%s", &tok)},
		{"token json", string(tjs)},
		{"token ptr json", string(tptr)},
		{"struct holding token", fmt.Sprintf("%+v", struct{ T Token }{tok})},
		{"error wrapping", fmt.Errorf("cannot x: %v", s).Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.out, "supersecret") {
				t.Fatalf("secret printed: %s", c.out)
			}
			if !strings.Contains(c.out, secret.Redacted) {
				t.Fatalf("placeholder missing: %s", c.out)
			}
		})
	}
	if s.Reveal() != raw {
		t.Fatalf("Reveal = %q", s.Reveal())
	}
	if got := fmt.Sprint(Token{LocationID: "loc1"}); !strings.Contains(got, "refresh=[redacted]") {
		t.Fatalf("a token without a refresh token prints %q; the empty secret must print the placeholder too", got)
	}
}

func TestSecretSinkCatchesLeaks(t *testing.T) {
	ft := &fakeTB{TB: t}
	sink := newSecretSink(ft)
	sink.Register("leaky-token")
	log := sink.Logger()
	log.Info("token refreshed", "token", secret.New("leaky-token"))
	if ft.failed {
		t.Fatal("a redacted secret was reported as leaked")
	}
	log.Info("oops", "raw", "leaky-token")
	if !ft.failed {
		t.Fatal("the sink did not catch a leaked secret")
	}
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
