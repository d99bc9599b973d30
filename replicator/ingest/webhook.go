package ingest

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
	"ptsync/metrics"
	"ptsync/store"
)

// WebhookOptions configure the HighLevel webhook handler.
type WebhookOptions struct {
	Store *store.DB
	// PublicKeys verify the deliveries: an ed25519.PublicKey checks x-ghl-signature, an
	// *rsa.PublicKey the legacy x-wh-signature (see webhookVerifier). None refuses every
	// delivery with 401.
	PublicKeys []crypto.PublicKey
	// ReplayWindow: a timestamp further than this from now is stale (default 5m).
	ReplayWindow time.Duration
	// MaxBodyBytes caps the body (default 1 MiB); larger gets 413.
	MaxBodyBytes int64
	// LocationID, when set, ignores events of other locations.
	LocationID string
	Metrics    *metrics.Metrics
	Logger     hclog.Logger
	Now        func() time.Time
	// Dirty is called after a delivery's dirty mark is durable, outside any transaction:
	// contactChanged is true for contact events (the contact itself should be re-read). It
	// must not block; the service uses it to nudge the refresh jobs.
	Dirty func(contactID, event string, contactChanged bool)
	// ChildKinds supply the child events (each marks its contact dirty for a children
	// refresh); nil means DefaultChildKinds.
	ChildKinds []ChildKind
}

// WebhookHandler receives HighLevel webhooks. It verifies the signature over the raw body
// (Ed25519 x-ghl-signature or RSA x-wh-signature, by the configured keys), then, whatever the
// scheme, rejects stale timestamps, de-duplicates webhookId in the store and marks the event's
// contact dirty in the same transaction; it does no API call itself. Every delivery is counted
// in ptsync_webhooks_total by the scheme it carries. Answers: 200 accepted or
// duplicate (so HighLevel stops retrying), 401 bad signature, 400 malformed or stale, 413 too
// large, 405 wrong method, 500 when the store fails (HighLevel retries). Safe for concurrent use.
type WebhookHandler struct {
	o      WebhookOptions
	log    hclog.Logger
	verify webhookVerifier
	// childEvents maps each child event type to the kind whose contact it names (built once
	// from o.ChildKinds; read-only afterwards).
	childEvents map[string]ChildKind
}

// NewWebhookHandler returns the handler; Store is required, and every key must be Ed25519 or RSA.
func NewWebhookHandler(o WebhookOptions) (*WebhookHandler, error) {
	if o.Store == nil {
		return nil, errors.New("cannot create webhook handler: no store")
	}
	v, err := newWebhookVerifier(o.PublicKeys)
	if err != nil {
		return nil, err
	}
	if o.ReplayWindow <= 0 {
		o.ReplayWindow = 5 * time.Minute
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	kinds := o.ChildKinds
	if kinds == nil {
		kinds = DefaultChildKinds()
	}
	events := map[string]ChildKind{}
	for _, k := range kinds {
		for _, ev := range k.Events {
			if _, dup := events[ev]; dup || contactEvent(ev) {
				return nil, fmt.Errorf("cannot create webhook handler: event %q claimed twice (kind %s)", ev, k.Name)
			}
			events[ev] = k
		}
	}
	return &WebhookHandler{o: o, log: o.Logger.Named("webhook"), verify: v, childEvents: events}, nil
}

// Schemes lists the signature schemes the handler's keys verify (metrics.Scheme*), for the
// service to declare ptsync_webhooks_total at start.
func (h *WebhookHandler) Schemes() []string { return h.verify.Schemes() }

// contactEvent reports whether an event type is about the contact itself: it re-reads the
// contact; a child kind's event (ChildKind.Events) only refreshes children.
func contactEvent(t string) bool {
	switch t {
	case "ContactCreate", "ContactUpdate", "ContactDelete", "ContactTagUpdate", "ContactDndUpdate":
		return true
	}
	return false
}

func (h *WebhookHandler) reject(w http.ResponseWriter, status int, scheme, result, msg string) {
	h.o.Metrics.WebhookReceived(metrics.UpstreamGHL, scheme, result)
	h.log.Debug("webhook rejected", "scheme", scheme, "result", result, "detail", msg)
	http.Error(w, msg, status)
}

// readBody reads the body up to MaxBodyBytes; past it, or when it cannot be read, it answers
// and counts the rejection itself and returns false.
func (h *WebhookHandler) readBody(w http.ResponseWriter, r *http.Request, scheme string) ([]byte, bool) {
	tooLarge := fmt.Sprintf("body larger than %d bytes", h.o.MaxBodyBytes)
	if r.ContentLength > h.o.MaxBodyBytes {
		h.reject(w, http.StatusRequestEntityTooLarge, scheme, metrics.WebhookTooLarge, tooLarge)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.o.MaxBodyBytes+1))
	if err != nil {
		h.reject(w, http.StatusBadRequest, scheme, metrics.WebhookMalformed, "cannot read body")
		return nil, false
	}
	if int64(len(body)) > h.o.MaxBodyBytes {
		h.reject(w, http.StatusRequestEntityTooLarge, scheme, metrics.WebhookTooLarge, tooLarge)
		return nil, false
	}
	return body, true
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	scheme := claimedScheme(r.Header)
	body, ok := h.readBody(w, r, scheme)
	if !ok {
		return
	}
	scheme, ok = h.verify.verify(r.Header, body)
	if !ok {
		h.reject(w, http.StatusUnauthorized, scheme, metrics.WebhookBadSignature, "invalid or missing x-ghl-signature / x-wh-signature")
		return
	}
	var ev ghlwire.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" {
		h.reject(w, http.StatusBadRequest, scheme, metrics.WebhookMalformed, "body is not a webhook event")
		return
	}
	if ev.WebhookID == "" {
		h.reject(w, http.StatusBadRequest, scheme, metrics.WebhookMalformed, "webhookId is missing")
		return
	}
	now := h.o.Now()
	ts, err := parseTime(ev.Timestamp, time.UTC)
	if err != nil || ts.IsZero() {
		h.reject(w, http.StatusBadRequest, scheme, metrics.WebhookMalformed, "timestamp is missing or not ISO-8601")
		return
	}
	if d := now.Sub(ts); d > h.o.ReplayWindow || d < -h.o.ReplayWindow {
		h.reject(w, http.StatusBadRequest, scheme, metrics.WebhookStale, fmt.Sprintf("timestamp %s is outside the %s replay window", ev.Timestamp, h.o.ReplayWindow))
		return
	}
	contactID := ""
	if contactEvent(ev.Type) {
		contactID = ev.ID
	} else if k, ok := h.childEvents[ev.Type]; ok {
		contactID = k.contactOf(ev)
	}
	known := contactID != "" && (h.o.LocationID == "" || ev.LocationID == "" || ev.LocationID == h.o.LocationID)
	var dup bool
	err = h.o.Store.Batch(func(tx *store.Tx) error {
		var err error
		if dup, err = tx.SeenWebhook(ev.WebhookID, now); err != nil || dup || !known {
			return err
		}
		return tx.MarkDirty(contactID, "webhook:"+ev.Type)
	})
	if err != nil {
		h.o.Metrics.WebhookReceived(metrics.UpstreamGHL, scheme, metrics.WebhookError)
		h.log.Error("cannot record webhook", "webhook_id", ev.WebhookID, "error", err)
		http.Error(w, "cannot record event", http.StatusInternalServerError)
		return
	}
	switch {
	case dup:
		h.o.Metrics.WebhookReceived(metrics.UpstreamGHL, scheme, metrics.WebhookDuplicate)
		h.log.Debug("duplicate webhook ignored", "webhook_id", ev.WebhookID, "type", ev.Type)
	case !known:
		h.o.Metrics.WebhookReceived(metrics.UpstreamGHL, scheme, metrics.WebhookUnknownEvent)
		h.log.Debug("webhook without a contact of this location ignored", "type", ev.Type, "location", ev.LocationID)
	default:
		h.o.Metrics.WebhookReceived(metrics.UpstreamGHL, scheme, metrics.WebhookAccepted)
		if h.o.Dirty != nil {
			h.o.Dirty(contactID, ev.Type, contactEvent(ev.Type))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}
