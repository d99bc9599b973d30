package demo

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/config"
	"ptsync/sim/ptdsim"
)

// readyz returns /readyz's status and body.
func readyz(t *testing.T, d *Demo) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.Service.MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadinessFollowsMirrorWrites: while the mirror's commits fail (a full disk injected
// below the store) /readyz answers 503 with the reason, the failures are counted by cause
// and ptsync_not_ready says which reason holds; the next good commit makes it 200 again,
// without a restart.
func TestReadinessFollowsMirrorWrites(t *testing.T) {
	var full atomic.Bool
	d := startDemo(t, Options{Contacts: 40, Seed: 21, BurstInterval: 200 * time.Millisecond, IngestOnly: true,
		MirrorFailCommit: func() error {
			if full.Load() {
				return &os.PathError{Op: "write", Path: "demo.db", Err: syscall.ENOSPC}
			}
			return nil
		}})
	ctx := context.Background()
	if code, body := readyz(t, d); code != http.StatusOK {
		t.Fatalf("before: /readyz %d %q", code, body)
	}
	full.Store(true)
	// A change in HighLevel the contacts job cannot store.
	city := "Fullville"
	if _, err := d.GHL.UpdateContact(d.GHL.Contacts()[3].ID, ghlwire.ContactInput{City: &city}); err != nil {
		t.Fatal(err)
	}
	if err := d.Service.RunJob(ctx, config.JobContacts); err == nil {
		t.Fatal("contacts job stored a change on a full disk")
	}
	code, body := readyz(t, d)
	t.Logf("full disk: /readyz %d %s", code, strings.TrimSpace(body))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the last write to the mirror failed") ||
		!strings.Contains(body, "no space left on device") || !strings.Contains(body, "free space") {
		t.Errorf("full disk: /readyz %d %q, want 503 with the write error and what to do", code, body)
	}
	m := scrape(t, "http://"+d.Service.MetricsAddr()+"/metrics")
	for _, want := range []string{`ptsync_not_ready{reason="mirror_write"} 1`, `ptsync_mirror_write_errors_total{cause="no_space"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	st, err := d.Service.Status(ctx)
	if err != nil || st.Service.Ready || !strings.Contains(st.Service.NotReady, "mirror failed") {
		t.Errorf("status while full: %+v %v", st.Service, err)
	}
	full.Store(false)
	if err := d.Service.RunJob(ctx, config.JobContacts); err != nil {
		t.Fatalf("children job after space came back: %v", err)
	}
	if code, body := readyz(t, d); code != http.StatusOK {
		t.Errorf("after space came back: /readyz %d %q, want 200", code, body)
	}
	if m := scrape(t, "http://"+d.Service.MetricsAddr()+"/metrics"); !strings.Contains(m, `ptsync_not_ready{reason="mirror_write"} 0`) {
		t.Errorf("ptsync_not_ready did not return to 0")
	}
}

// rejectingTransport replaces the token of every HighLevel request while reject is set, so
// the simulator answers its own 401.
type rejectingTransport struct{ reject atomic.Bool }

func (r *rejectingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.reject.Load() {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer pit-00000000-0000-0000-0000-000000000000")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestReadinessFollowsCredentials: a credential HighLevel or PT Distinction rejects makes
// /readyz 503 with a reason naming the side and what to do; the next successful call to that
// side makes it ready again. Both at once give both reasons.
func TestReadinessFollowsCredentials(t *testing.T) {
	tr := &rejectingTransport{}
	d := startDemo(t, Options{Contacts: 40, Seed: 22, BurstInterval: 200 * time.Millisecond, HTTPTransport: tr})
	ctx := context.Background()
	tr.reject.Store(true)
	d.PTD.SetFaults(ptdsim.Faults{ErrorRate: 1, ErrorStatus: http.StatusUnauthorized})
	for _, job := range []string{config.JobContacts, config.JobPTD} {
		if err := d.Service.RunJob(ctx, job); err == nil {
			t.Fatalf("%s job succeeded with rejected credentials", job)
		}
	}
	code, body := readyz(t, d)
	t.Logf("both rejected: /readyz %d %s", code, strings.TrimSpace(body))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "HighLevel rejects") || !strings.Contains(body, "PT Distinction rejects") {
		t.Errorf("both rejected: /readyz %d %q", code, body)
	}
	tr.reject.Store(false)
	if err := d.Service.RunJob(ctx, config.JobContacts); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(t, d); code != http.StatusServiceUnavailable || strings.Contains(body, "HighLevel") || !strings.Contains(body, "PT Distinction") {
		t.Errorf("PTD still rejected: /readyz %d %q, want 503 for PT Distinction only", code, body)
	}
	d.PTD.SetFaults(ptdsim.Faults{})
	if err := d.Service.RunJob(ctx, config.JobPTD); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(t, d); code != http.StatusOK {
		t.Errorf("both accepted again: /readyz %d %q", code, body)
	}
}
