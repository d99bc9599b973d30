package ghl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ptsync/internal/secret"
	"ptsync/sim/ghlsim"
)

// Environment of the crash child (re-executed test binary).
const (
	envCrashChild  = "GHL_CRASH_CHILD"
	envCrashURL    = "GHL_CRASH_URL"
	envCrashTokens = "GHL_CRASH_TOKENS"
	envCrashMarker = "GHL_CRASH_MARKER"
	envCrashLoc    = "GHL_CRASH_LOCATION"
	envCrashClient = "GHL_CRASH_CLIENT_ID"
	envCrashSecret = "GHL_CRASH_CLIENT_SECRET"
	envCrashID     = "GHL_CRASH_CONTACT"
)

// Exit codes of the crash child.
const (
	childInvalidGrant = 3
	childOtherError   = 4
)

// markerTransport creates the marker file before a refresh request leaves; markerStore
// removes it once the rotated pair is durable. A marker left behind by a SIGKILL means the
// kill landed between sending a refresh and storing its answer: the only stretch that
// contains the documented unsafe instant.
type markerTransport struct{ path string }

func (m markerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f, err := os.Create(m.path); err == nil {
		f.Sync()
		f.Close()
	}
	return http.DefaultTransport.RoundTrip(r)
}

type markerStore struct {
	TokenStore
	path string
}

func (m markerStore) Save(ctx context.Context, loc string, t Token) error {
	if err := m.TokenStore.Save(ctx, loc, t); err != nil {
		return err
	}
	return os.Remove(m.path)
}

// TestCrashChild is the workload of TestCrashRefreshSafety; it does nothing unless the
// parent started it.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("helper process for TestCrashRefreshSafety")
	}
	marker := os.Getenv(envCrashMarker)
	src, err := NewOAuthSource(OAuthSourceOptions{Location: os.Getenv(envCrashLoc), ClientID: os.Getenv(envCrashClient),
		ClientSecret: secret.New(os.Getenv(envCrashSecret)), TokenURL: os.Getenv(envCrashURL) + "/oauth/token",
		Store: markerStore{NewFileTokenStore(os.Getenv(envCrashTokens)), marker}, HTTPClient: &http.Client{Transport: markerTransport{marker}}})
	if err != nil {
		os.Exit(childOtherError)
	}
	c, err := New(Options{BaseURL: os.Getenv(envCrashURL), LocationID: os.Getenv(envCrashLoc), Credentials: src,
		Retry: RetryPolicy{Base: time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		os.Exit(childOtherError)
	}
	for {
		if _, err := c.GetContact(context.Background(), os.Getenv(envCrashID)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if errors.Is(err, ErrInvalidGrant) {
				os.Exit(childInvalidGrant)
			}
			os.Exit(childOtherError)
		}
	}
}

// Acceptance 6: a child process runs a refresh-heavy workload (each access token dies after
// 20 calls) against a simulator served by this process on 127.0.0.1; it is SIGKILLed at
// random moments and restarted from the token file. No refresh token may ever be refused,
// except after a kill that provably landed inside the documented unsafe instant (the
// server rotated the pair, the child died before its fsync): then the child must stop with
// ErrInvalidGrant (the operator's cue to run `ptsync auth`), which the test re-does.
func TestCrashRefreshSafety(t *testing.T) {
	t.Parallel() // time-bound rather than CPU-bound; runs beside the other long test
	kills := 30
	if testing.Short() {
		kills = 8
	}
	sim := ghlsim.New(ghlsim.Options{Seed: 41, Limits: ghlsim.Limits{BurstMax: 1 << 30, BurstInterval: time.Second}})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.ExpireEvery(20)
	contact := sim.Seed(1)[0]
	dir := t.TempDir()
	tokens, marker := filepath.Join(dir, "tokens.json"), filepath.Join(dir, "refresh-in-flight")
	store := NewFileTokenStore(tokens)
	install := func() {
		if err := store.Save(context.Background(), sim.LocationID(), tokenFromResponse(sim.IssueToken(), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	install()
	id, clientSecret := sim.ClientCredentials()
	rng := rand.New(rand.NewPCG(41, 6))
	markerAtLastKill := false
	unsafeHits, refusedBefore := 0, int64(0)
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashURL+"="+base, envCrashTokens+"="+tokens, envCrashMarker+"="+marker,
			envCrashLoc+"="+sim.LocationID(), envCrashClient+"="+id, envCrashSecret+"="+clientSecret, envCrashID+"="+contact)
		var stderr limitedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		killed, hit := false, false
		select {
		case <-time.After(time.Duration(150+rng.IntN(250)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			killed = true
		case err := <-exited:
			code := -1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code == childInvalidGrant && markerAtLastKill {
				unsafeHits++
				hit = true
				t.Logf("kill %d had landed in the unsafe instant; child stopped with invalid_grant as documented; re-authorizing", i)
				install()
			} else {
				t.Fatalf("run %d: child exited (code %d) without being killed: %s", i, code, stderr.String())
			}
		}
		_, statErr := os.Stat(marker)
		markerAtLastKill = killed && statErr == nil
		os.Remove(marker)
		if st, err := os.Stat(tokens); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("token file after kill %d: %v %v", i, st, err)
		}
		if _, err := store.Load(context.Background(), sim.LocationID()); err != nil {
			t.Fatalf("token file unreadable after kill %d: %v", i, err)
		}
		refused := sim.Counters().TokenRefused
		if want := refusedBefore + int64(b2i(hit)); refused != want {
			t.Fatalf("run %d: %d refresh tokens refused, %d explained by the unsafe instant", i, refused-refusedBefore, b2i(hit))
		}
		refusedBefore = refused
	}
	ctr := sim.Counters()
	t.Logf("%d SIGKILLs, %d refreshes, %d refused refresh tokens, %d kills inside the documented unsafe instant",
		kills, ctr.Refreshes, ctr.TokenRefused, unsafeHits)
	if ctr.Refreshes < int64(kills) {
		t.Fatalf("only %d refreshes: the workload is not refresh-heavy", ctr.Refreshes)
	}
	if ctr.TokenRefused != int64(unsafeHits) {
		t.Fatalf("%d refused refresh tokens but only %d explained by the unsafe instant", ctr.TokenRefused, unsafeHits)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// limitedBuffer keeps the first 4 KiB of a child's stderr.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
