package ghl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sony/gobreaker/v2"

	"ptsync/apiclient/ghlwire"
)

// DefaultBaseURL is HighLevel's API host.
const DefaultBaseURL = "https://services.leadconnectorhq.com"

// DefaultMaxBodyBytes caps a response body unless Options.MaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 8 << 20

// ErrInvalidArgument: a method was called with an argument that cannot be sent (an empty id).
var ErrInvalidArgument = errors.New("invalid argument")

// Options configure a Client. Credentials and LocationID are required; the rest default.
type Options struct {
	// BaseURL defaults to DefaultBaseURL; tests point it at the simulator.
	BaseURL    string
	LocationID string
	// Credentials supplies the bearer token (OAuthSource or StaticSource).
	Credentials CredentialSource
	// HTTPClient is used as is when set; otherwise a client over Transport (default
	// http.DefaultTransport clone). Timeouts per attempt come from AttemptTimeout.
	HTTPClient *http.Client
	Transport  http.RoundTripper
	// Limiter is the location's rate budget; default NewLimiter with HighLevel's limits.
	// Share one Limiter between every Client of the same location and app.
	Limiter *Limiter
	Retry   RetryPolicy
	Breaker BreakerOptions
	// Upstream names the breaker (default "ghl").
	Upstream string
	// AttemptTimeout bounds one HTTP attempt including reading the body (default 30 s).
	AttemptTimeout time.Duration
	// MaxBodyBytes caps a response body (default 8 MiB).
	MaxBodyBytes int64
	// MaxRateLimitRetries bounds retries after burst 429s for one call (default 5).
	MaxRateLimitRetries int
	// Version is ptsync's version, sent in the User-Agent.
	Version  string
	Logger   hclog.Logger
	Clock    func() time.Time
	Observer Observer
}

// Client calls the HighLevel Contacts API for one location. It is safe for concurrent use.
// Every call passes through the rate limiter, the circuit breaker and the retry policy;
// writes are refused up front when the credentials grant contacts.readonly only.
type Client struct {
	base    *url.URL
	loc     string
	creds   CredentialSource
	http    *http.Client
	lim     *Limiter
	retry   RetryPolicy
	brk     *gobreaker.TwoStepCircuitBreaker[struct{}]
	timeout time.Duration
	maxBody int64
	max429  int
	ua      string
	log     hclog.Logger
	now     func() time.Time
	obs     Observer
	uncured uncuredHold // 401s a refresh did not cure (uncured.go)
}

// New checks opts and builds a Client. It performs no I/O.
func New(opts Options) (*Client, error) {
	if opts.LocationID == "" {
		return nil, fmt.Errorf("cannot create highlevel client: location id is empty")
	}
	if opts.Credentials == nil {
		return nil, fmt.Errorf("cannot create highlevel client for location %s: no credentials", opts.LocationID)
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("cannot create highlevel client: base url %q must be http(s)://host[/path]", opts.BaseURL)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Observer == nil {
		opts.Observer = NopObserver{}
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := opts.Transport
		if tr == nil {
			tr = http.DefaultTransport.(*http.Transport).Clone()
		}
		hc = &http.Client{Transport: tr}
	}
	if hc.CheckRedirect == nil {
		// A redirect would re-send the bearer token elsewhere; HighLevel does not redirect.
		c := *hc
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		hc = &c
	}
	if opts.Limiter == nil {
		opts.Limiter = NewLimiter(LimiterOptions{Location: opts.LocationID, Clock: opts.Clock, Logger: opts.Logger, Observer: opts.Observer})
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 30 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxRateLimitRetries <= 0 {
		opts.MaxRateLimitRetries = 5
	}
	if opts.Upstream == "" {
		opts.Upstream = "ghl"
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	log := opts.Logger.Named("ghl").With("location", opts.LocationID)
	return &Client{
		base: base, loc: opts.LocationID, creds: opts.Credentials, http: hc, lim: opts.Limiter,
		retry: opts.Retry.withDefaults(), brk: newBreaker(opts.Upstream, opts.Breaker, log, opts.Observer),
		timeout: opts.AttemptTimeout, maxBody: opts.MaxBodyBytes, max429: opts.MaxRateLimitRetries,
		ua:  "ptsync/" + opts.Version + " (+https://github.com/ptsync)",
		log: log, now: opts.Clock, obs: opts.Observer,
	}, nil
}

// LocationID returns the location this client serves.
func (c *Client) LocationID() string { return c.loc }

// Limiter returns the client's rate budget (shared with other clients of the location).
func (c *Client) Limiter() *Limiter { return c.lim }

// BreakerState reports the breaker's state: "closed", "half-open" or "open".
func (c *Client) BreakerState() string { return c.brk.State().String() }

// ReadOnly reports whether the credentials grant contacts.readonly only, so every write
// method fails with ErrReadOnly. It contacts no server.
func (c *Client) ReadOnly(ctx context.Context) (bool, error) {
	scopes, err := c.creds.Scopes(ctx)
	if err != nil {
		return false, err
	}
	return scopesReadOnly(scopes), nil
}

// call describes one operation.
type call struct {
	op         string // operationId
	method     string
	path       string // escaped path below the base URL
	query      url.Values
	body       any
	idempotent bool // safe to repeat after an unknown outcome
	write      bool // needs contacts.write
	once       bool // no retry after a transport error, 429 or 5xx (a 401 still refreshes)
	// form is sent form-encoded instead of body (the OAuth routes take no JSON).
	form url.Values
}

// response is a successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// attemptResult is the outcome of one HTTP attempt.
type attemptResult struct {
	resp  *response
	err   error // transport or body error (resp == nil)
	wrote bool  // some bytes of the request may have reached the server
	kind  error // ErrDecode / ErrBodyTooLarge for body errors; nil for transport errors
}

// do runs cl through the read-only guard, the limiter, the breaker and the retry policy and
// returns the 2xx body. Errors name cl.op. Each attempt's outcome is judged by afterFailure
// (no answer) or afterAnswer (a status), which either end the call or ask for another attempt.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	payload, err := c.prepare(ctx, cl)
	if err != nil {
		return nil, err
	}
	var st retryState
	for {
		tok, err := c.creds.Current(ctx)
		if err != nil {
			return nil, c.credErr(cl.op, err)
		}
		res := c.attempt(ctx, cl, payload, tok)
		if res.err != nil {
			if err := c.afterFailure(ctx, cl, res, &st); err != nil {
				return nil, err
			}
			continue
		}
		r, again, err := c.afterAnswer(ctx, cl, res.resp, tok, &st)
		if !again {
			return r, err
		}
	}
}

// retryState is what one call's attempts have spent so far; it lives as long as the call.
type retryState struct {
	refreshed   bool // this call spent its one refresh
	authRetries int
	rateRetries int
	failures    int  // transport failures and 5xx, counted against RetryPolicy.MaxAttempts
	uncertain   bool // an earlier attempt may have been applied
}

// prepare refuses a write the credentials cannot make (before any I/O on HighLevel) and
// encodes the body once, so every attempt sends the same bytes.
func (c *Client) prepare(ctx context.Context, cl call) ([]byte, error) {
	if cl.write {
		ro, err := c.ReadOnly(ctx)
		if err != nil {
			return nil, c.credErr(cl.op, err)
		}
		if ro {
			return nil, &OpError{Op: cl.op, Kind: ErrReadOnly}
		}
	}
	payload, err := cl.payload()
	if err != nil {
		return nil, &OpError{Op: cl.op, Kind: ErrInvalidArgument, Detail: "cannot encode request body", Cause: err}
	}
	return payload, nil
}

// afterFailure decides what follows an attempt that brought no usable answer: nil to try
// again (after a backoff), or the error that ends the call. A request that may have reached
// the server is repeated only when cl is idempotent; otherwise its outcome is unknown and the
// caller must find out (ErrOutcomeUnknown).
func (c *Client) afterFailure(ctx context.Context, cl call, res attemptResult, st *retryState) error {
	if ctx.Err() != nil {
		return &OpError{Op: cl.op, Kind: ctxKind(cl, res), Cause: ctx.Err()}
	}
	if errors.Is(res.err, ErrBreakerOpen) || errors.Is(res.err, ErrBodyTooLarge) || errors.Is(res.err, ErrDailyLimit) {
		return res.err
	}
	if res.kind == nil && errors.Is(res.err, errLimiterWait) {
		return res.err
	}
	st.failures++
	if !cl.idempotent && res.wrote {
		detail := "the request was sent but no answer arrived"
		if res.kind != nil {
			detail = "the answer could not be read"
		}
		return &OpError{Op: cl.op, Kind: ErrOutcomeUnknown, Detail: detail, Cause: res.err}
	}
	st.uncertain = st.uncertain || res.wrote
	if st.failures >= c.retry.MaxAttempts || cl.once {
		kind := ErrTransport
		if res.kind != nil {
			kind = res.kind
		}
		detail := fmt.Sprintf("giving up after %d attempts", st.failures)
		if cl.once {
			detail = "a single attempt was asked for"
		}
		return &OpError{Op: cl.op, Kind: kind, Detail: detail, Cause: res.err}
	}
	reason := "transport"
	if errors.Is(res.err, context.DeadlineExceeded) || isTimeout(res.err) {
		reason = "timeout"
	}
	return c.backoff(ctx, cl.op, reason, st.failures)
}

// afterAnswer decides what follows an answer: the response that ends the call (2xx, or a
// 404 to a DELETE an earlier attempt may have applied), again = true to try once more, or the
// error that ends the call.
func (c *Client) afterAnswer(ctx context.Context, cl call, r *response, tok Token, st *retryState) (_ *response, again bool, _ error) {
	var err error
	switch {
	case r.status >= 200 && r.status < 300:
		c.uncured.cured()
		return r, false, nil
	case r.status == http.StatusUnauthorized:
		err = c.afterUnauthorized(ctx, cl, r, tok, st)
	case r.status == http.StatusTooManyRequests:
		err = c.afterRateLimited(cl, r, st)
	case r.status >= 500:
		err = c.afterServerError(ctx, cl, r, st)
	case r.status == http.StatusNotFound && st.uncertain && cl.method == http.MethodDelete:
		// An earlier attempt of this DELETE may have succeeded: gone is what we wanted.
		return &response{status: http.StatusOK, header: r.header, body: []byte(`{"succeded":true}`)}, false, nil
	default:
		return nil, false, c.apiError(cl.op, r)
	}
	return nil, err == nil, err
}

// afterUnauthorized spends the call's one refresh, or retries without one a token another
// caller replaced meanwhile, at most maxAuthRetries times; nil means try again. A token
// refused right after its refresh holds further refreshes (uncuredHold), and a scope refusal
// is final: a new token would not widen it.
func (c *Client) afterUnauthorized(ctx context.Context, cl call, r *response, tok Token, st *retryState) error {
	apiErr := c.apiError(cl.op, r)
	if apiErr.isScope() || st.authRetries >= maxAuthRetries {
		return apiErr
	}
	st.authRetries++
	mayRefresh := !st.refreshed && c.uncured.mayRefresh(tok.AccessToken, c.now())
	next, didRefresh, err := c.creds.Invalidate(ctx, tok.AccessToken, mayRefresh)
	if err != nil {
		return c.credErr(cl.op, err)
	}
	if next.AccessToken.Equal(tok.AccessToken) {
		if st.refreshed {
			d := c.uncured.hold(tok.AccessToken, c.now())
			c.log.Warn("refreshed token refused too; holding refreshes", "operation", cl.op, "next_refresh_after", d)
		}
		return apiErr
	}
	st.refreshed = st.refreshed || didRefresh
	c.obs.ObserveRetry(cl.op, "unauthorized")
	return nil
}

// afterRateLimited retries a burst 429 at once (nil): the limiter has already learnt the
// window from its headers and holds every caller for it. A daily 429 is final until the
// window turns, and at most max429 burst retries are spent per call.
func (c *Client) afterRateLimited(cl call, r *response, st *retryState) error {
	apiErr := c.apiError(cl.op, r)
	if apiErr.RateLimit.Scope == ScopeDaily {
		return apiErr
	}
	st.rateRetries++
	if st.rateRetries > c.max429 || cl.once {
		return apiErr
	}
	c.obs.ObserveRetry(cl.op, "rate_limited")
	return nil
}

// afterServerError retries an idempotent call after a backoff (nil); a non-idempotent one
// ends with the error marked OutcomeUnknown, since the server may have applied it.
func (c *Client) afterServerError(ctx context.Context, cl call, r *response, st *retryState) error {
	st.failures++
	if !cl.idempotent {
		e := c.apiError(cl.op, r)
		e.OutcomeUnknown = true
		return e
	}
	st.uncertain = true
	if st.failures >= c.retry.MaxAttempts || cl.once {
		return c.apiError(cl.op, r)
	}
	return c.backoff(ctx, cl.op, "server_error", st.failures)
}

// maxAuthRetries bounds the retries after 401s within one call.
const maxAuthRetries = 3

var errLimiterWait = errors.New("rate budget wait interrupted")

func ctxKind(cl call, res attemptResult) error {
	if !cl.idempotent && res.wrote {
		return ErrOutcomeUnknown
	}
	return ErrTransport
}

// credErr wraps a credential failure with the operation, keeping ErrInvalidGrant visible.
func (c *Client) credErr(op string, err error) error {
	return fmt.Errorf("cannot %s: %w", op, err)
}

func (c *Client) backoff(ctx context.Context, op, reason string, failures int) error {
	d := c.retry.Delay(failures)
	c.obs.ObserveRetry(op, reason)
	c.log.Debug("retrying", "operation", op, "reason", reason, "attempt", failures+1, "delay", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return &OpError{Op: op, Kind: ErrTransport, Detail: "canceled while backing off", Cause: ctx.Err()}
	case <-t.C:
		return nil
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// attempt sends one request and reads its body.
func (c *Client) attempt(ctx context.Context, cl call, payload []byte, tok Token) attemptResult {
	permit, err := c.lim.Acquire(ctx, cl.op)
	if err != nil {
		if errors.Is(err, ErrDailyLimit) {
			return attemptResult{err: err}
		}
		return attemptResult{err: fmt.Errorf("%w: %w", errLimiterWait, err)}
	}
	done, err := c.brk.Allow()
	if err != nil {
		permit.Cancel()
		return attemptResult{err: &OpError{Op: cl.op, Kind: ErrBreakerOpen, Detail: "upstream " + c.brk.Name() + " failing; not sent", Cause: err}}
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { wrote.Store(true) },
		WroteHeaders:     func() { wrote.Store(true) },
		WroteRequest:     func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	}
	u := *c.base
	u.Path = c.base.Path + cl.path
	u.RawPath = ""
	if p, perr := url.PathUnescape(u.Path); perr == nil {
		u.RawPath = c.base.Path + cl.path
		u.Path = p
	}
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), cl.method, u.String(), body)
	if err != nil {
		permit.Cancel()
		done(nil)
		return attemptResult{err: err, kind: ErrInvalidArgument}
	}
	req.Header.Set(ghlwire.HeaderAuthorization, "Bearer "+tok.AccessToken.Reveal())
	req.Header.Set(ghlwire.HeaderVersion, ghlwire.APIVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if payload != nil {
		req.Header.Set("Content-Type", cl.contentType())
	}
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		permit.Done(nil, 0)
		c.obs.ObserveRequest(cl.op, 0, c.now().Sub(start))
		if ctx.Err() != nil {
			done(nil) // the caller gave up; not the upstream's fault
		} else {
			done(errAttemptFailed)
		}
		return attemptResult{err: redactURLError(err), wrote: wrote.Load()}
	}
	permit.Done(resp.Header, resp.StatusCode)
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	c.obs.ObserveRequest(cl.op, resp.StatusCode, c.now().Sub(start))
	switch {
	case rerr != nil:
		done(errAttemptFailed)
		return attemptResult{err: &OpError{Op: cl.op, Kind: ErrDecode, Detail: fmt.Sprintf("truncated body after %d bytes (status %d)", len(data), resp.StatusCode), Cause: redactURLError(rerr)}, wrote: true, kind: ErrDecode}
	case int64(len(data)) > c.maxBody:
		done(nil)
		return attemptResult{err: &OpError{Op: cl.op, Kind: ErrBodyTooLarge, Detail: fmt.Sprintf("more than %d bytes (status %d)", c.maxBody, resp.StatusCode)}, wrote: true}
	}
	if resp.StatusCode >= 500 {
		done(errAttemptFailed)
	} else {
		done(nil)
	}
	return attemptResult{resp: &response{status: resp.StatusCode, header: resp.Header, body: data}, wrote: true}
}

// apiError builds the typed error for a non-2xx answer; a body that is not the error DTO
// still yields an error with the status.
func (c *Client) apiError(op string, r *response) *APIError {
	e := &APIError{Op: op, Status: r.status}
	var eb ghlwire.ErrorBody
	if json.Unmarshal(r.body, &eb) == nil {
		e.Messages, e.Kind, e.TraceID, e.Duplicate = eb.Messages(), eb.Error, eb.TraceID, eb.Meta
	} else if len(r.body) > 0 {
		msg := string(r.body)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		e.Messages = []string{strings.TrimSpace(msg)}
	}
	if r.status == http.StatusTooManyRequests {
		info, _ := ParseRateLimit(r.header)
		e.RateLimit = &info
	}
	return e
}

// decodeInto checks the content type and decodes the envelope strictly (syntax and shape);
// fields inside records are decoded leniently by the callers.
func decodeInto(op string, r *response, v any) error {
	ct, _, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || (ct != "application/json" && !strings.HasSuffix(ct, "+json")) {
		return &OpError{Op: op, Kind: ErrDecode, Detail: fmt.Sprintf("content type %q is not JSON (status %d)", r.header.Get("Content-Type"), r.status)}
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return &OpError{Op: op, Kind: ErrDecode, Detail: fmt.Sprintf("malformed JSON body (%d bytes, status %d)", len(r.body), r.status), Cause: err}
	}
	return nil
}

// lenient decodes one record, tolerating type mismatches in individual fields (the field is
// left zero; Raw keeps the original). Syntax errors still fail.
func lenient(raw json.RawMessage, v any) error {
	err := json.Unmarshal(raw, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

func decodeContact(op string, raw json.RawMessage) (ghlwire.Contact, error) {
	var ct ghlwire.Contact
	if len(raw) == 0 || string(raw) == "null" {
		return ct, &OpError{Op: op, Kind: ErrDecode, Detail: "response has no contact"}
	}
	if err := lenient(raw, &ct); err != nil {
		return ct, &OpError{Op: op, Kind: ErrDecode, Detail: "malformed contact", Cause: err}
	}
	ct.Raw = append(json.RawMessage(nil), raw...)
	return ct, nil
}

// parallelDecodeMin is the fewest contacts per goroutine decodeContacts splits a page into.
const parallelDecodeMin = 100

// decodeContacts decodes a page of contacts. A large page (a search page holds up to 500) is
// split between up to GOMAXPROCS goroutines: decoding is most of a first sync's CPU and the
// contacts are independent, while the goroutine storing the previous page leaves a core
// mostly idle. The error is the first malformed contact's, by index, as in order.
func decodeContacts(op string, raws []json.RawMessage) ([]ghlwire.Contact, error) {
	out := make([]ghlwire.Contact, len(raws))
	errs := make([]error, len(raws))
	decode := func(from, to int) {
		for i := from; i < to; i++ {
			out[i], errs[i] = decodeContact(op, raws[i])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(raws)/parallelDecodeMin)
	if workers <= 1 {
		decode(0, len(raws))
	} else {
		var wg sync.WaitGroup
		per := (len(raws) + workers - 1) / workers
		for from := 0; from < len(raws); from += per {
			wg.Add(1)
			go func(from, to int) {
				defer wg.Done()
				decode(from, to)
			}(from, min(from+per, len(raws)))
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("contact %d: %w", i, err)
		}
	}
	return out, nil
}

func requireID(op, what, id string) error {
	if strings.TrimSpace(id) == "" {
		return &OpError{Op: op, Kind: ErrInvalidArgument, Detail: what + " is empty"}
	}
	return nil
}
