package ptdsim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptdwire"
)

// Accounts is many PT Distinction accounts behind one listener: each account is a *Sim with
// its own API key, data, faults and counters, and every request (/v1/ and /_sim/ alike) is
// routed by its bearer key to the one account that owns the key. A key therefore never
// reaches another account's data: an id of another account is a 404 in its own. A request
// whose key no account owns is answered 401, as one Sim answers a wrong key, and counted
// (UnknownKeyRequests).
//
// A single Sim keeps serving on its own exactly as before; Accounts is for the many-location
// harnesses, demo and benchmark. Every method is safe for concurrent use.
type Accounts struct {
	log hclog.Logger

	mu    sync.RWMutex
	byKey map[string]*Sim
	order []*Sim

	unknown atomic.Int64
}

// NewAccounts returns an empty set of accounts; log (nil discards) is every account's logger
// unless its Options name another.
func NewAccounts(log hclog.Logger) *Accounts {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Accounts{log: log, byKey: map[string]*Sim{}}
}

// ErrKeyTaken: Add was given the API key of an account already served.
var ErrKeyTaken = errors.New("api key taken")

// Add creates an account with opts and serves it under its API key (default
// "sim-key-<n>", n counting from 1) with ids of its own (IDSpace default "a<n>_"). Two
// accounts cannot share a key.
func (a *Accounts) Add(opts Options) (*Sim, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if opts.APIKey == "" {
		opts.APIKey = fmt.Sprintf("sim-key-%d", len(a.order)+1)
	}
	if _, dup := a.byKey[opts.APIKey]; dup {
		return nil, fmt.Errorf("cannot add account %d: %w", len(a.order)+1, ErrKeyTaken)
	}
	if opts.IDSpace == "" {
		opts.IDSpace = fmt.Sprintf("a%d_", len(a.order)+1)
	}
	if opts.Logger == nil {
		opts.Logger = a.log.Named(fmt.Sprintf("account%d", len(a.order)+1))
	}
	s := New(opts)
	a.byKey[opts.APIKey] = s
	a.order = append(a.order, s)
	return s, nil
}

// Account returns the account whose API key is key, or nil.
func (a *Accounts) Account(key string) *Sim {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.byKey[key]
}

// UnknownKeyRequests counts requests whose bearer key no account owns.
func (a *Accounts) UnknownKeyRequests() int64 { return a.unknown.Load() }

// Handler routes each request to the account its bearer key names.
func (a *Accounts) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s := a.Account(key); s != nil && key != "" {
			s.Handler().ServeHTTP(w, r)
			return
		}
		a.unknown.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="ptd"`)
		writeErr(w, errf(http.StatusUnauthorized, ptdwire.CodeUnauthorized, "missing or invalid bearer token"))
	})
}

// Start serves Handler on addr (e.g. "127.0.0.1:0") in the background.
func (a *Accounts) Start(addr string) (*Server, error) { return serve(addr, a.Handler()) }
