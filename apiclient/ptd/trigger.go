package ptd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptdwire"
)

// TriggerSecretHeader carries the shared secret on inbound Zapier triggers.
const TriggerSecretHeader = "X-PTSync-Secret"

// TriggerHandlerOptions configures a TriggerHandler. Secret and Handle are required.
type TriggerHandlerOptions struct {
	// Secret is shared with the Zap that posts PTD's triggers (at least 16 characters).
	Secret Secret
	// Handle receives each valid trigger as a driver-neutral Event (email normalized, At
	// parsed). An error answers 503 so the sender may retry; Handle must therefore tolerate
	// repeats (Event.ID helps).
	Handle func(ctx context.Context, ev Event) error
	// MaxBodyBytes caps the request body (413 beyond it); 0 means 64 KiB.
	MaxBodyBytes int64
	Logger       hclog.Logger
	// Count receives the result of every delivery, one of the Trigger* constants; the service
	// counts them in ptsync_webhooks_total. It must not block. Nil counts nothing.
	Count func(result string)
}

// TriggerHandler is the http.Handler for PTD's Zapier triggers (client added, client added to
// group, package sign-up). It checks the shared secret in constant time before reading the
// body (401 otherwise), caps the body (413), validates the JSON strictly (400, unknown fields
// refused so a mistyped Zap mapping is caught), and hands valid triggers to Handle (202).
// Every outcome is counted. Safe for concurrent use.
type TriggerHandler struct {
	secretSum [32]byte
	handle    func(context.Context, Event) error
	maxBody   int64
	log       hclog.Logger
	results   func(result string)
}

// Trigger results, as TriggerHandlerOptions.Count receives them.
const (
	TriggerAccepted     = "accepted"
	TriggerUnauthorized = "unauthorized"
	TriggerTooLarge     = "too_large"
	TriggerInvalid      = "invalid"
	TriggerFailed       = "failed"
)

// NewTriggerHandler returns the handler for o, refusing (ErrInvalidInput) a shared secret
// shorter than 16 characters, which a sender could guess, and a nil Handle. It does no I/O.
func NewTriggerHandler(o TriggerHandlerOptions) (*TriggerHandler, error) {
	if len(o.Secret.Reveal()) < 16 {
		return nil, fmt.Errorf("cannot create zapier trigger handler: %w: the shared secret must have at least 16 characters", ErrInvalidInput)
	}
	if o.Handle == nil {
		return nil, fmt.Errorf("cannot create zapier trigger handler: %w: no Handle callback", ErrInvalidInput)
	}
	h := &TriggerHandler{secretSum: sha256.Sum256([]byte(o.Secret.Reveal())), handle: o.Handle, maxBody: o.MaxBodyBytes,
		log: o.Logger, results: o.Count}
	if h.maxBody <= 0 {
		h.maxBody = 64 << 10
	}
	if h.log == nil {
		h.log = hclog.NewNullLogger()
	}
	if h.results == nil {
		h.results = func(string) {}
	}
	return h, nil
}

func (h *TriggerHandler) fail(w http.ResponseWriter, result string, status int, code, msg string) {
	h.count(result)
	// Debug, not Warn: refusals are counted, and an unauthenticated sender must not be able
	// to flood the log.
	h.log.Debug("zapier trigger refused", "result", result, "status", status, "reason", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ptdwire.Error{Code: code, Message: msg})
}

func (h *TriggerHandler) count(result string) { h.results(result) }

// ServeHTTP implements http.Handler.
func (h *TriggerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, TriggerInvalid, http.StatusMethodNotAllowed, ptdwire.CodeMethodNotAllowed, "only POST is accepted")
		return
	}
	got := sha256.Sum256([]byte(r.Header.Get(TriggerSecretHeader)))
	if subtle.ConstantTimeCompare(got[:], h.secretSum[:]) != 1 {
		h.fail(w, TriggerUnauthorized, http.StatusUnauthorized, ptdwire.CodeUnauthorized, "missing or wrong "+TriggerSecretHeader)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, TriggerTooLarge, http.StatusRequestEntityTooLarge, ptdwire.CodeTooLarge,
				fmt.Sprintf("body exceeds %d bytes", h.maxBody))
			return
		}
		h.fail(w, TriggerInvalid, http.StatusBadRequest, ptdwire.CodeInvalidRequest, "cannot read body")
		return
	}
	t, err := ParseTrigger(body)
	if err != nil {
		h.fail(w, TriggerInvalid, http.StatusBadRequest, ptdwire.CodeInvalidRequest, err.Error())
		return
	}
	if err := h.handle(r.Context(), triggerEvent(t)); err != nil {
		h.count(TriggerFailed)
		h.log.Error("zapier trigger not handled", "trigger", t.Trigger, "error", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(ptdwire.Error{Code: ptdwire.CodeUnavailable, Message: "trigger not handled; retry later"})
		return
	}
	h.count(TriggerAccepted)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"accepted"}`+"\n")
}

// ParseTrigger decodes and validates one trigger body: a single JSON object with no unknown
// fields, a known trigger name, a plausible email (returned normalized), the group or package
// the trigger implies, and an RFC 3339 "at" when present. Errors name the offending field.
func ParseTrigger(body []byte) (ptdwire.ZapierTrigger, error) {
	var t ptdwire.ZapierTrigger
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("cannot decode trigger: %w", err)
	}
	if dec.More() {
		return t, errors.New("cannot decode trigger: trailing data after the JSON object")
	}
	switch t.Trigger {
	case ptdwire.TriggerClientAdded:
	case ptdwire.TriggerClientAddedToGroup:
		if strings.TrimSpace(t.Group) == "" {
			return t, errors.New("invalid trigger: group is required for client_added_to_group")
		}
	case ptdwire.TriggerPackageSignUp:
		if strings.TrimSpace(t.Package) == "" {
			return t, errors.New("invalid trigger: package is required for package_sign_up")
		}
	default:
		return t, fmt.Errorf("invalid trigger: trigger %q is not one of client_added, client_added_to_group, package_sign_up", t.Trigger)
	}
	e := NormalizeEmail(t.Email)
	if at := strings.IndexByte(e, '@'); at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n,;<>") {
		return t, fmt.Errorf("invalid trigger: email %q is not an address", t.Email)
	}
	t.Email = e
	if t.At != "" {
		if _, err := time.Parse(time.RFC3339, t.At); err != nil {
			return t, fmt.Errorf("invalid trigger: at %q is not an RFC 3339 time", t.At)
		}
	}
	return t, nil
}

// triggerEvent converts a trigger ParseTrigger accepted (so its "at", when present, parses).
func triggerEvent(t ptdwire.ZapierTrigger) Event {
	ev := Event{Kind: EventClientAdded, ID: t.ID, Email: t.Email, FirstName: t.FirstName, LastName: t.LastName,
		Group: t.Group, Package: t.Package}
	switch t.Trigger {
	case ptdwire.TriggerClientAddedToGroup:
		ev.Kind = EventClientAddedToGroup
	case ptdwire.TriggerPackageSignUp:
		ev.Kind = EventPackageSignUp
	}
	if at, err := time.Parse(time.RFC3339Nano, t.At); err == nil {
		ev.At = at.UTC()
	}
	return ev
}
