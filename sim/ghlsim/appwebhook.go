package ghlsim

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"ptsync/apiclient/ghlwire"
)

// AppWebhook is one AppInstall or AppUninstall delivery the company attempted. Skipped means
// nothing was sent: no webhook URL is set, or the install state did not change. Status is the
// receiver's HTTP status (0 when the post failed; Err says why).
type AppWebhook struct {
	Type       string    `json:"type"`
	LocationID string    `json:"locationId"`
	WebhookID  string    `json:"webhookId,omitempty"`
	At         time.Time `json:"at"`
	Skipped    bool      `json:"skipped,omitempty"`
	Status     int       `json:"status,omitempty"`
	Err        string    `json:"error,omitempty"`
}

// appHooks signs and posts the app webhooks and remembers the deliveries. HighLevel retries
// failed deliveries; the simulator posts once and records the outcome, so a test decides what
// a lost delivery means.
type appHooks struct {
	key    ed25519.PrivateKey
	client *http.Client

	mu   sync.Mutex
	seq  uint64
	sent []AppWebhook
}

func newAppHooks(key ed25519.PrivateKey) appHooks {
	return appHooks{key: key, client: &http.Client{Timeout: 10 * time.Second}}
}

func (h *appHooks) public() ed25519.PublicKey { return h.key.Public().(ed25519.PublicKey) }

// derivedWebhookKey is the signing key a company gets from its Seed, so a test or a staging
// run can know the public key in advance (WebhookPublicKey).
func derivedWebhookKey(seed int64) ed25519.PrivateKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	sum := sha256.Sum256(append([]byte("ghlsim app webhook key "), b[:]...))
	return ed25519.NewKeyFromSeed(sum[:])
}

// installEvent is the location-level AppInstall body; withUser is false for an install to a
// future location, which HighLevel sends without userId and companyId.
func (co *Company) installEvent(loc string, withUser bool) ghlwire.AppEvent {
	no := false
	ev := ghlwire.AppEvent{Type: ghlwire.EventAppInstall, AppID: co.opts.AppID, LocationID: loc, PlanID: "simPlan",
		IsWhitelabelCompany: &no, WhitelabelDetails: &ghlwire.WhitelabelDetails{}, CompanyName: co.opts.CompanyName}
	if withUser {
		ev.CompanyID, ev.UserID = co.opts.CompanyID, co.opts.UserID
	}
	return ev
}

// uninstallEvent is the location-level AppUninstall body, shaped as AppUninstall.md's example.
func (co *Company) uninstallEvent(loc string) ghlwire.AppEvent {
	return ghlwire.AppEvent{Type: ghlwire.EventAppUninstall, AppID: co.opts.AppID, LocationID: loc}
}

// sendAppEvent stamps ev with the envelope (timestamp, webhookId), signs the body and posts it
// to the webhook URL. It holds no lock while posting: the receiver may call the simulator.
func (co *Company) sendAppEvent(ev ghlwire.AppEvent) AppWebhook {
	co.mu.RLock()
	url := co.webhook
	co.mu.RUnlock()
	now := co.now()
	h := &co.hooks
	h.mu.Lock()
	h.seq++
	ev.WebhookID = "sim-app-" + co.opts.CompanyID + "-" + strconv.FormatUint(h.seq, 10)
	h.mu.Unlock()
	ev.Timestamp = now.UTC().Format(time.RFC3339Nano)
	d := AppWebhook{Type: ev.Type, LocationID: ev.LocationID, WebhookID: ev.WebhookID, At: now, Skipped: url == ""}
	if url != "" {
		body, _ := json.Marshal(ev)
		d.Status, d.Err = h.post(url, body)
	}
	h.mu.Lock()
	h.sent = append(h.sent, d)
	h.mu.Unlock()
	co.log.Debug("app webhook", "type", ev.Type, "location", ev.LocationID, "status", d.Status, "skipped", d.Skipped)
	return d
}

func (h *appHooks) post(url string, body []byte) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ghlwire.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(h.key, body)))
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	resp.Body.Close()
	return resp.StatusCode, ""
}

// AppWebhooks returns every app webhook delivery attempted so far, oldest first.
func (co *Company) AppWebhooks() []AppWebhook {
	co.hooks.mu.Lock()
	defer co.hooks.mu.Unlock()
	return slices.Clone(co.hooks.sent)
}
