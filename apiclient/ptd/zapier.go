package ptd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
)

// ZapierHooks are the catch-hook URLs of the Zaps that run PTD's actions. A catch-hook URL is
// a bearer credential (anyone holding it can run the Zap), so each is a Secret and never
// logged. An empty URL means the action is not available and its capability is not declared.
type ZapierHooks struct {
	AddClient     Secret
	AddToGroup    Secret
	AssignPackage Secret
	PrintOnly     Secret
	Reminder      Secret
}

// ZapierOptions configures the zapier driver. Only Hooks matters for what it can do: each
// non-empty hook adds its capability, and NewZapier refuses one that is not an absolute
// http(s) URL. The rest default.
type ZapierOptions struct {
	Hooks      ZapierHooks
	HTTPClient *http.Client // default: 30 s timeout
	Logger     hclog.Logger
	// Clock times each POST for the Observer (default time.Now).
	Clock func() time.Time
	// Observer receives every POST attempt and retry, under the operation "zapier-" and the
	// action ("zapier-add-client"; see Operations); nil discards them.
	Observer Observer
	// MaxRetries, BaseBackoff, MaxBackoff and Sleep work as in RESTOptions.
	MaxRetries              int
	BaseBackoff, MaxBackoff time.Duration
	Sleep                   func(ctx context.Context, d time.Duration) error
}

// Zapier is the driver for the route PTD offers today: it POSTs a ptdwire.ZapierAction to
// the configured catch hook of each action. It cannot read PTD, so client ids are normalized
// emails and everything but creates, group/package assignment, print-only and reminders
// returns ErrUnsupported without I/O. Safe for concurrent use.
//
// Each POST carries an idempotency key derived from the action's content (the reminder's own
// key for reminders), so a Zap that de-duplicates on it runs the step once. Add client, add to
// group, assign package and print only are idempotent in PTD ("does nothing new" for a known
// email), so they are retried on 5xx and transport errors; reminders only on 429.
type Zapier struct {
	// Unsupported refuses the calls the zapier route has no operation for: reading clients,
	// updating them, tags, catalogue, group removal, tasks, notes and appointments. PTD's
	// Add Client is idempotent by email, which is what makes creates safe to repeat here
	// without FindClientByEmail.
	Unsupported
	hooks map[string]Secret // by action; a Secret so that printing a *Zapier shows no URL
	caps  Capabilities
	hc    *http.Client
	log   hclog.Logger
	clock func() time.Time
	retryPolicy
	obs Observer
}

var (
	_ Adapter         = (*Zapier)(nil)
	_ OperationLister = (*Zapier)(nil)
)

// Zapier registers the zapier driver (see driverFiles): built from config's zapier block
// (config/ptd_zapier.go), declaring one capability per configured hook, and receiving PTD's
// Zapier triggers when the block has a trigger_secret.
func (driverFiles) Zapier() Driver {
	return Driver{Name: config.DriverZapier, Open: openZapier, Receive: receiveZapier,
		Declared: func(cfg config.PTD) Capabilities {
			if z := cfg.Zapier(); z != nil {
				return zapierCaps(zapierHooks(z))
			}
			return Capabilities{}
		}}
}

func openZapier(_ context.Context, cfg config.PTD, deps Deps) (Adapter, error) {
	z := cfg.Zapier()
	if z == nil {
		return nil, fmt.Errorf("cannot create ptd zapier driver: %w: no zapier block", ErrInvalidInput)
	}
	return NewZapier(ZapierOptions{Hooks: zapierHooks(z), HTTPClient: &http.Client{Timeout: z.Timeout},
		Logger: deps.Logger, Clock: deps.Clock, Observer: deps.Observer})
}

// receiveZapier is the trigger handler when a trigger_secret is configured, else nil.
func receiveZapier(cfg config.PTD, in Inbound) (http.Handler, error) {
	z := cfg.Zapier()
	if z == nil || z.TriggerSecret.IsZero() {
		return nil, nil
	}
	return NewTriggerHandler(TriggerHandlerOptions{Secret: z.TriggerSecret, Handle: in.Handle, Logger: in.Logger, Count: in.Count})
}

func zapierHooks(z *config.PTDZapier) ZapierHooks {
	return ZapierHooks{AddClient: z.AddClient, AddToGroup: z.AddToGroup, AssignPackage: z.AssignPackage,
		PrintOnly: z.PrintOnly, Reminder: z.Reminder}
}

// zapierAction is one catch hook and the capability it grants.
type zapierAction struct {
	action string
	url    Secret
	cap    Capability
}

// zapierActions lists every action of h, configured or not, in a stable order.
func zapierActions(h ZapierHooks) []zapierAction {
	return []zapierAction{
		{ptdwire.ZapierAddClient, h.AddClient, CapClientCreate},
		{ptdwire.ZapierAddToGroup, h.AddToGroup, CapGroups},
		{ptdwire.ZapierAssignPackage, h.AssignPackage, CapPackages},
		{ptdwire.ZapierPrintOnly, h.PrintOnly, CapPrintOnly},
		{ptdwire.ZapierReminder, h.Reminder, CapReminders},
	}
}

// zapierCaps is one capability per configured hook of h.
func zapierCaps(h ZapierHooks) Capabilities {
	var caps []Capability
	for _, a := range zapierActions(h) {
		if !a.url.IsZero() {
			caps = append(caps, a.cap)
		}
	}
	return NewCapabilities(caps...)
}

// NewZapier validates the hook URLs and returns a driver whose capabilities follow from them.
func NewZapier(o ZapierOptions) (*Zapier, error) {
	z := &Zapier{hooks: map[string]Secret{}, hc: orDefaultHTTP(o.HTTPClient), log: orNullLogger(o.Logger), obs: orNopObserver(o.Observer),
		clock: o.Clock, retryPolicy: newRetryPolicy(o.Sleep, o.MaxRetries, o.BaseBackoff, o.MaxBackoff, 500*time.Millisecond)}
	if z.clock == nil {
		z.clock = time.Now
	}
	for _, h := range zapierActions(o.Hooks) {
		if h.url.IsZero() {
			continue
		}
		u, err := url.Parse(h.url.Reveal())
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("cannot create ptd zapier driver: %w: the %s hook is not an absolute http(s) URL", ErrInvalidInput, h.action)
		}
		z.hooks[h.action] = h.url
	}
	z.caps = zapierCaps(o.Hooks)
	return z, nil
}

// Operations lists the operation labels the driver reports to its Observer: one per
// configured hook, in a stable order.
func (z *Zapier) Operations() []string {
	var out []string
	for _, a := range zapierActions(ZapierHooks{}) {
		if _, ok := z.hooks[a.action]; ok {
			out = append(out, zapierOperation(a.action))
		}
	}
	return out
}

// Capabilities implements Adapter: one capability per configured hook.
func (z *Zapier) Capabilities() Capabilities { return z.caps }

// Open does nothing (the route has no capability endpoint); it exists for the lifecycle.
func (z *Zapier) Open(context.Context) error { return nil }

// Close releases idle connections.
func (z *Zapier) Close(context.Context) error {
	z.hc.CloseIdleConnections()
	return nil
}

// idempotencyKey derives a stable key from an action's content.
func idempotencyKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "ptsync-" + hex.EncodeToString(h[:12])
}

// post sends a to its hook and returns Zapier's id for the run.
func (z *Zapier) post(ctx context.Context, op string, a ptdwire.ZapierAction, idempotent bool) (string, error) {
	hook := z.hooks[a.Action]
	body, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("cannot %s: cannot encode action: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.Reveal(), bytes.NewReader(body))
		if err != nil {
			return "", fmt.Errorf("cannot %s: cannot build request: %w", op, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", a.IdempotencyKey)
		req.Header.Set("User-Agent", "ptsync")
		start := z.clock()
		resp, err := z.hc.Do(req)
		if err != nil {
			z.obs.ObserveRequest(zapierOperation(a.Action), 0, z.clock().Sub(start))
			if ctx.Err() != nil {
				return "", fmt.Errorf("cannot %s: %w", op, ctx.Err())
			}
			// *url.Error would print the hook URL, which is a credential: keep only the cause.
			cause := err
			if ue, ok := err.(*url.Error); ok {
				cause = ue.Err
			}
			if idempotent && attempt <= z.retries {
				if werr := z.wait(ctx, op, a.Action, attempt, 0, transportReason(err)); werr != nil {
					return "", werr
				}
				continue
			}
			return "", fmt.Errorf("cannot %s: post to the %s hook: %w", op, a.Action, cause)
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		z.obs.ObserveRequest(zapierOperation(a.Action), resp.StatusCode, z.clock().Sub(start))
		if resp.StatusCode/100 == 2 {
			var out ptdwire.ZapierHookResponse
			if err := json.Unmarshal(raw, &out); err != nil || out.Status != "success" {
				return "", fmt.Errorf("cannot %s: %w: the %s hook answered %d without status success", op, ErrServer, a.Action, resp.StatusCode)
			}
			return out.ID, nil
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 && idempotent) && attempt <= z.retries {
			var ra time.Duration
			if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && n >= 0 {
				ra = time.Duration(n) * time.Second
			}
			if werr := z.wait(ctx, op, a.Action, attempt, ra, statusReason(resp.StatusCode)); werr != nil {
				return "", werr
			}
			continue
		}
		return "", &APIError{Op: op, Status: resp.StatusCode, Message: "zapier " + a.Action + " hook refused the action", Attempts: attempt}
	}
}

// wait sleeps before retry attempt+1 of action's POST and reports the retry with why.
func (z *Zapier) wait(ctx context.Context, op, action string, attempt int, d time.Duration, why string) error {
	d = z.delay(attempt, d)
	z.obs.ObserveRetry(zapierOperation(action), why)
	z.log.Debug("retrying zapier post", "op", op, "attempt", attempt, "reason", why, "wait", d)
	if err := z.sleep(ctx, d); err != nil {
		return fmt.Errorf("cannot %s: %w", op, err)
	}
	return nil
}

func (z *Zapier) need(op string, c Capability) error {
	if !z.caps.Has(c) {
		return unsupported(op, c)
	}
	return nil
}

func emailID(op, id string) (string, error) {
	e := NormalizeEmail(id)
	if e == "" || !strings.Contains(e, "@") || strings.ContainsAny(e, " \t") {
		return "", fmt.Errorf("cannot %s: %w: client id %q is not an email (the zapier route keys clients by email)", op, ErrInvalidInput, id)
	}
	return e, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}

// CreateClient implements Adapter by running PTD's Add Client. PTD does nothing new for a
// known email, so ErrExists never happens here; the returned client's ID is the email.
func (z *Zapier) CreateClient(ctx context.Context, in ptdwire.ClientInput) (ptdwire.Client, error) {
	const op = "create client"
	if err := z.need(op, CapClientCreate); err != nil {
		return ptdwire.Client{}, err
	}
	email, err := emailID(op, deref(in.Email))
	if err != nil {
		return ptdwire.Client{}, err
	}
	if deref(in.FirstName) == "" {
		return ptdwire.Client{}, fmt.Errorf("cannot %s: %w: firstName is required by PTD's Add Client", op, ErrInvalidInput)
	}
	a := ptdwire.ZapierAction{Action: ptdwire.ZapierAddClient, Email: email, FirstName: deref(in.FirstName),
		LastName: deref(in.LastName), Gender: deref(in.Gender), Timezone: deref(in.Timezone)}
	if in.SendLoginDetails != nil {
		a.SendLoginDetails = *in.SendLoginDetails
	}
	if in.Access != nil {
		online := *in.Access != ptdwire.AccessPrintOnly
		a.Online = &online
	}
	a.IdempotencyKey = idempotencyKey(a.Action, email)
	if _, err := z.post(ctx, op, a, true); err != nil {
		return ptdwire.Client{}, err
	}
	access := ptdwire.AccessOnline
	if a.Online != nil && !*a.Online {
		access = ptdwire.AccessPrintOnly
	}
	return ptdwire.Client{ID: email, Email: email, FirstName: a.FirstName, LastName: a.LastName, Phone: deref(in.Phone),
		Gender: a.Gender, Timezone: a.Timezone, Access: access, Groups: []string{}, Packages: []string{}, Tags: []string{}}, nil
}

// AddToGroup implements Adapter by running PTD's add-to-group action for the client's email.
func (z *Zapier) AddToGroup(ctx context.Context, clientID, groupID string) error {
	const op = "add client to group"
	if err := z.need(op, CapGroups); err != nil {
		return err
	}
	email, err := emailID(op, clientID)
	if err != nil {
		return err
	}
	if err := needID(op, "group", groupID); err != nil {
		return err
	}
	a := ptdwire.ZapierAction{Action: ptdwire.ZapierAddToGroup, Email: email, Group: groupID,
		IdempotencyKey: idempotencyKey(ptdwire.ZapierAddToGroup, email, groupID)}
	_, err = z.post(ctx, op, a, true)
	return err
}

// AssignPackage implements Adapter by running PTD's assign-package action.
func (z *Zapier) AssignPackage(ctx context.Context, clientID, packageID string) error {
	const op = "assign package"
	if err := z.need(op, CapPackages); err != nil {
		return err
	}
	email, err := emailID(op, clientID)
	if err != nil {
		return err
	}
	if err := needID(op, "package", packageID); err != nil {
		return err
	}
	a := ptdwire.ZapierAction{Action: ptdwire.ZapierAssignPackage, Email: email, Package: packageID,
		IdempotencyKey: idempotencyKey(ptdwire.ZapierAssignPackage, email, packageID)}
	_, err = z.post(ctx, op, a, true)
	return err
}

// SetAccess implements Adapter: only print_only exists as a Zapier action.
func (z *Zapier) SetAccess(ctx context.Context, clientID, access string) error {
	const op = "set access"
	c, err := accessCap(op, access)
	if err != nil {
		return err
	}
	if err := z.need(op, c); err != nil {
		return err
	}
	email, err := emailID(op, clientID)
	if err != nil {
		return err
	}
	a := ptdwire.ZapierAction{Action: ptdwire.ZapierPrintOnly, Email: email,
		IdempotencyKey: idempotencyKey(ptdwire.ZapierPrintOnly, email)}
	_, err = z.post(ctx, op, a, true)
	return err
}

// SendReminder implements Adapter; r.ClientID is the client's email. The returned reminder's
// ID is Zapier's run id. Retried on 429 only: Zapier itself does not de-duplicate.
func (z *Zapier) SendReminder(ctx context.Context, r ptdwire.Reminder) (ptdwire.Reminder, error) {
	const op = "send reminder"
	if err := z.need(op, CapReminders); err != nil {
		return ptdwire.Reminder{}, err
	}
	email, err := emailID(op, r.ClientID)
	if err != nil {
		return ptdwire.Reminder{}, err
	}
	if err := needID(op, "reminder idempotencyKey", r.IdempotencyKey); err != nil {
		return ptdwire.Reminder{}, err
	}
	a := ptdwire.ZapierAction{Action: ptdwire.ZapierReminder, Email: email, Message: r.Message, DueAt: r.DueAt,
		IdempotencyKey: r.IdempotencyKey}
	id, err := z.post(ctx, op, a, false)
	if err != nil {
		return ptdwire.Reminder{}, err
	}
	r.ID, r.ClientID = id, email
	return r, nil
}
