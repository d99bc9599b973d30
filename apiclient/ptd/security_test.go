package ptd_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
	"ptsync/internal/secrettest"
	"ptsync/metrics"
	"ptsync/sim/ptdsim"
)

func noSleep(context.Context, time.Duration) error { return nil }

// checkErr logs err the way the service does and checks its text in every verb.
func checkErr(sink *secrettest.Sink, op string, err error) {
	if err == nil {
		return
	}
	sink.Logger().Error("ptd call failed", "op", op, "error", err)
	sink.Check("error", fmt.Sprintf("%v | %+v | %#v", err, err, err))
}

// TestSecurityRESTKeyStaysOutOfLogsErrorsAndMetrics drives the rest driver through success,
// injected 503s with retries, and a wrong key (401) with a Trace logger, and checks the API
// keys never reach a log line, an error or a metric label.
func TestSecurityRESTKeyStaysOutOfLogsErrorsAndMetrics(t *testing.T) {
	const key, wrongKey = "ptd-api-key-0123456789abcdef", "ptd-wrong-key-fedcba9876543210"
	sink := secrettest.NewSink(t, key, wrongKey)
	sim := ptdsim.New(ptdsim.Options{APIKey: key, Seed: 3})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	ctx := context.Background()
	r, err := ptd.NewREST(ptd.RESTOptions{BaseURL: srv.URL, APIKey: secret.New(key), Logger: sink.Logger(),
		Observer: metrics.New(reg).PTDObserver(), Sleep: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Open(ctx); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(ptdsim.Faults{ErrorRate: 0.4, ErrorStatus: 503})
	for i := range 20 {
		email := fmt.Sprintf("sec%d@example.com", i)
		c, err := r.CreateClient(ctx, ptdwire.ClientInput{Email: &email, FirstName: new("Sec")})
		checkErr(sink, "create", err)
		if err == nil {
			_, err = r.GetClient(ctx, c.ID)
			checkErr(sink, "get", err)
		}
	}
	sim.SetFaults(ptdsim.Faults{})
	wrong, err := ptd.NewREST(ptd.RESTOptions{BaseURL: srv.URL, APIKey: secret.New(wrongKey), Logger: sink.Logger(), Sleep: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	err = wrong.Open(ctx)
	if err == nil {
		_, err = wrong.GetClient(ctx, "cl_1")
	}
	if err == nil {
		t.Fatal("a wrong API key was accepted")
	}
	checkErr(sink, "wrong key", err)
	// Not the *REST itself: fmt prints its unexported fields by reflection, bypassing Secret's
	// methods (docs/guarantees.md, open findings).
	sink.Logger().Info("drivers", "key", secret.New(key), "options", ptd.RESTOptions{BaseURL: srv.URL, APIKey: secret.New(key)})
	if n := secrettest.CheckRegistry(t, reg, key, wrongKey); n == 0 {
		t.Fatal("the rest driver registered no labelled series")
	}
}

// hookSecret is the path prefix that makes the test's hook URLs unguessable, like the token
// in a real https://hooks.zapier.com/hooks/catch/<account>/<token>/.
const hookSecret = "zap-hook-secret-5c9e1a7b"

// TestSecurityZapierHooksStayOutOfLogsErrorsAndMetrics posts through working hooks, a hook
// that answers 500 and a hook whose host refuses connections (a *url.Error, which prints the
// URL), and checks the hook URLs never reach a log line, an error or a metric label.
func TestSecurityZapierHooksStayOutOfLogsErrorsAndMetrics(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{})
	sim.AddGroup("Online Coaching")
	rec := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: sim})
	mux := http.NewServeMux()
	mux.Handle("/"+hookSecret+"/", http.StripPrefix("/"+hookSecret, rec.Handler()))
	mux.HandleFunc("/failing-"+hookSecret+"/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	hooks := ptd.ZapierHooks{
		AddClient:     secret.New(ptdsim.HookURL(srv.URL+"/"+hookSecret, ptdwire.ZapierAddClient)),
		AddToGroup:    secret.New(srv.URL + "/failing-" + hookSecret + "/group/"),
		AssignPackage: secret.New(closedURL + "/" + hookSecret + "/package/"),
		PrintOnly:     secret.New(ptdsim.HookURL(srv.URL+"/"+hookSecret, ptdwire.ZapierPrintOnly)),
		Reminder:      secret.New(ptdsim.HookURL(srv.URL+"/"+hookSecret, ptdwire.ZapierReminder)),
	}
	all := []string{hookSecret, hooks.AddClient.Reveal(), hooks.AddToGroup.Reveal(), hooks.AssignPackage.Reveal(),
		hooks.PrintOnly.Reveal(), hooks.Reminder.Reveal()}
	sink := secrettest.NewSink(t, all...)
	reg := prometheus.NewRegistry()
	z, err := ptd.NewZapier(ptd.ZapierOptions{Hooks: hooks, Logger: sink.Logger(), Observer: metrics.New(reg).PTDObserver(),
		Sleep: noSleep, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := z.CreateClient(ctx, ptdwire.ClientInput{Email: new("zap@example.com"), FirstName: new("Zap")})
	if err != nil {
		t.Fatalf("working hook: %v", err)
	}
	err = z.AddToGroup(ctx, c.ID, "Online Coaching")
	if err == nil {
		t.Fatal("the failing hook reported success")
	}
	checkErr(sink, "add to group", err)
	err = z.AssignPackage(ctx, c.ID, "Starter")
	if err == nil {
		t.Fatal("the closed hook reported success")
	}
	checkErr(sink, "assign package", err)
	checkErr(sink, "print only", z.SetAccess(ctx, c.ID, ptdwire.AccessPrintOnly))
	// Not the *Zapier itself: it keeps the hook URLs as plain strings (open finding).
	sink.Logger().Info("driver", "hooks", hooks)
	sink.Check("hooks %+v", fmt.Sprintf("%+v %#v %v", hooks, hooks, ptd.ZapierOptions{Hooks: hooks}))
	if n := secrettest.CheckRegistry(t, reg, all...); n == 0 {
		t.Fatal("the zapier driver registered no labelled series")
	}
}

// TestSecurityTriggerHandler: the shared secret, and any guess at it, stay out of the logs
// and the metrics; oversized bodies are refused with 413 whether or not they announce their
// length, before Handle runs.
func TestSecurityTriggerHandler(t *testing.T) {
	const shared, guess = "trigger-shared-secret-9f8e7d", "trigger-guessed-secret-000000"
	sink := secrettest.NewSink(t, shared, guess)
	reg := prometheus.NewRegistry()
	handled := 0
	m := metrics.New(reg)
	count := func(result string) { m.WebhookReceived(metrics.UpstreamPTD, metrics.SchemeSharedSecret, result) }
	h, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: secret.New(shared), MaxBodyBytes: 1024, Logger: sink.Logger(), Count: count,
		Handle: func(context.Context, ptd.Event) error { handled++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	good := `{"trigger":"client_added","email":"a@x.io"}`
	huge := `{"trigger":"client_added","email":"a@x.io","first_name":"` + strings.Repeat("x", 4096) + `"}`
	for _, tc := range []struct {
		name    string
		secret  string
		body    io.Reader
		status  int
		handled int
	}{
		{"right secret", shared, strings.NewReader(good), http.StatusAccepted, 1},
		{"guessed secret", guess, strings.NewReader(good), http.StatusUnauthorized, 0},
		{"oversized with length", shared, strings.NewReader(huge), http.StatusRequestEntityTooLarge, 0},
		{"oversized chunked", shared, io.MultiReader(strings.NewReader(huge)), http.StatusRequestEntityTooLarge, 0},
		{"oversized without secret", "", strings.NewReader(huge), http.StatusUnauthorized, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handled = 0
			req, err := http.NewRequest(http.MethodPost, srv.URL, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.secret != "" {
				req.Header.Set(ptd.TriggerSecretHeader, tc.secret)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sink.Check("response body", string(b))
			if resp.StatusCode != tc.status || handled != tc.handled {
				t.Fatalf("status %d, handled %d; want %d, %d (%s)", resp.StatusCode, handled, tc.status, tc.handled, b)
			}
		})
	}
	if got := testutil.ToFloat64(counterWith(t, reg, "ptsync_webhooks_total", ptd.TriggerTooLarge)); got != 2 {
		t.Errorf("too_large counted %v times, want 2", got)
	}
	secrettest.CheckRegistry(t, reg, shared, guess)
}

// counterWith returns the series of name with result=value from reg.
func counterWith(t *testing.T, reg *prometheus.Registry, name, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == value {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "copy", Help: "copy"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no %s{result=%q}", name, value)
	return nil
}
