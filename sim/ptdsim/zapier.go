package ptdsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptdwire"
)

// ZapierHookPrefix is the path under which the recorder serves one catch hook per action:
// ZapierHookPrefix + action + "/", shaped like Zapier's /hooks/catch/<account>/<hook>/.
const ZapierHookPrefix = "/hooks/catch/1000/"

// ZapierCall is one POST a catch hook received.
type ZapierCall struct {
	Hook   string // the action name in the URL
	Header http.Header
	Body   []byte
	// Action is Body decoded; DecodeErr is set instead when Body was not a ZapierAction.
	Action    ptdwire.ZapierAction
	DecodeErr string
	At        time.Time
}

// ZapierOptions configures a ZapierRecorder.
type ZapierOptions struct {
	Clock  func() time.Time
	Logger hclog.Logger
	// Apply, when set, runs each recorded action against this Sim the way PTD's Zapier app
	// would (Add Client does nothing new for a known email), so a harness can check the effect.
	Apply *Sim
}

// ZapierRecorder is a stand-in for Zapier's catch hooks: it records every POST, answers like
// Zapier ({"status":"success","id":...}) and can fail the next requests on demand. Safe for
// concurrent use.
type ZapierRecorder struct {
	opts ZapierOptions
	log  hclog.Logger

	mu     sync.Mutex
	calls  []ZapierCall
	queued []int
	seq    int
}

// NewZapierRecorder returns a recorder with no calls.
func NewZapierRecorder(o ZapierOptions) *ZapierRecorder {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	log := o.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &ZapierRecorder{opts: o, log: log}
}

// HookURL returns the catch-hook URL for action under base (a Server's URL).
func HookURL(base, action string) string {
	return strings.TrimRight(base, "/") + ZapierHookPrefix + action + "/"
}

// Handler serves POST ZapierHookPrefix{hook}/.
func (z *ZapierRecorder) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+ZapierHookPrefix+"{hook}/", z.catch)
	return mux
}

// Start serves Handler on addr in the background.
func (z *ZapierRecorder) Start(addr string) (*Server, error) { return serve(addr, z.Handler()) }

// FailNext answers the next n POSTs with status without recording them.
func (z *ZapierRecorder) FailNext(n, status int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for range n {
		z.queued = append(z.queued, status)
	}
}

// Calls returns the recorded POSTs in arrival order.
func (z *ZapierRecorder) Calls() []ZapierCall {
	z.mu.Lock()
	defer z.mu.Unlock()
	out := make([]ZapierCall, len(z.calls))
	for i, c := range z.calls {
		c.Header = c.Header.Clone()
		c.Body = bytes.Clone(c.Body)
		out[i] = c
	}
	return out
}

func (z *ZapierRecorder) catch(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	z.mu.Lock()
	if len(z.queued) > 0 {
		st := z.queued[0]
		z.queued = z.queued[1:]
		z.mu.Unlock()
		writeJSON(w, st, map[string]string{"status": "error", "message": "injected fault"})
		return
	}
	z.seq++
	id := fmt.Sprintf("zap-%08d", z.seq)
	call := ZapierCall{Hook: r.PathValue("hook"), Header: r.Header.Clone(), Body: body, At: z.opts.Clock()}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&call.Action); err != nil {
		call.DecodeErr = err.Error()
	}
	z.calls = append(z.calls, call)
	z.mu.Unlock()
	z.log.Debug("catch hook", "hook", call.Hook, "id", id)
	if z.opts.Apply != nil && call.DecodeErr == "" {
		if err := applyZapier(z.opts.Apply, call.Action); err != nil {
			z.log.Debug("zap step failed", "hook", call.Hook, "error", err)
		}
	}
	writeJSON(w, http.StatusOK, ptdwire.ZapierHookResponse{Status: "success", ID: id, RequestID: id})
}

// applyZapier performs what PTD's Zapier app would do for a.
func applyZapier(s *Sim, a ptdwire.ZapierAction) error {
	find := func() (ptdwire.Client, error) {
		c, ok := s.ClientByEmail(a.Email)
		if !ok {
			return c, fmt.Errorf("no client with email %q", a.Email)
		}
		return c, nil
	}
	switch a.Action {
	case ptdwire.ZapierAddClient:
		if _, ok := s.ClientByEmail(a.Email); ok {
			return nil // "if a client with this email address has already been added it does nothing new"
		}
		in := ptdwire.ClientInput{Email: &a.Email, FirstName: &a.FirstName, LastName: &a.LastName, Gender: &a.Gender}
		if a.Timezone != "" {
			in.Timezone = &a.Timezone
		}
		if a.Online != nil && !*a.Online {
			po := ptdwire.AccessPrintOnly
			in.Access = &po
		}
		_, err := s.CreateClient(in)
		return err
	case ptdwire.ZapierAddToGroup, ptdwire.ZapierAssignPackage:
		c, err := find()
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		ref, pkg := a.Group, a.Action == ptdwire.ZapierAssignPackage
		if pkg {
			ref = a.Package
		}
		for _, g := range s.groups {
			if !pkg && (g.Name == ref) {
				ref = g.ID
			}
		}
		for _, p := range s.packages {
			if pkg && (p.Name == ref) {
				ref = p.ID
			}
		}
		_, _, e := s.membershipLocked(c.ID, ref, pkg, true)
		if e != nil {
			return e
		}
		return nil
	case ptdwire.ZapierPrintOnly:
		c, err := find()
		if err != nil {
			return err
		}
		po := ptdwire.AccessPrintOnly
		_, err = s.EditClient(c.ID, ptdwire.ClientInput{Access: &po})
		return err
	case ptdwire.ZapierReminder:
		c, err := find()
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, _, e := s.reminderLocked(ptdwire.Reminder{ClientID: c.ID, Message: a.Message, DueAt: a.DueAt,
			IdempotencyKey: a.IdempotencyKey}); e != nil {
			return e
		}
		return nil
	}
	return fmt.Errorf("unknown action %q", a.Action)
}

// SendTrigger posts t to a ptsync webhook URL as PTD's Zapier trigger would, with secret in
// the X-PTSync-Secret header (omitted when secret is empty). It returns the response status.
func SendTrigger(ctx context.Context, hc *http.Client, url, secret string, t ptdwire.ZapierTrigger) (int, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return 0, fmt.Errorf("cannot encode trigger: %w", err)
	}
	return SendRaw(ctx, hc, url, secret, body)
}

// SendRaw posts an arbitrary body to a webhook URL, for malformed-input tests.
func SendRaw(ctx context.Context, hc *http.Client, url, secret string, body []byte) (int, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second} // a stalled receiver fails the send, never hangs it
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("cannot build trigger request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-PTSync-Secret", secret)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot send trigger: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
