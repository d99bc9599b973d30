// Package remote is HighLevel and PT Distinction as the reconcile stages call them: GHL, the
// HighLevel calls they make, and Systems, the two clients of one pair together with what each
// will not do (a capability the PTD driver lacks, a read-only HighLevel token), asked by every
// stage and said once in the log (and, for capabilities, once in
// ptsync_ptd_capability_missing_total) however often it is asked.
package remote

import (
	"context"
	"sync"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/metrics"
)

// GHL is the part of the HighLevel client the stages use. *ghl.Client implements it; tests
// wrap it to inject crashes. Implementations must be safe for concurrent use (the pusher's
// workers call it at once).
type GHL interface {
	ReadOnly(ctx context.Context) (bool, error)
	GetContact(ctx context.Context, id string) (ghlwire.Contact, error)
	CreateContact(ctx context.Context, in ghlwire.ContactInput) (ghlwire.Contact, error)
	UpdateContact(ctx context.Context, id string, in ghlwire.ContactInput) (ghlwire.Contact, error)
	// UpdateContactOnce is UpdateContact without the client's own retries (see *ghl.Client).
	UpdateContactOnce(ctx context.Context, id string, in ghlwire.ContactInput) (ghlwire.Contact, error)
	DeleteContact(ctx context.Context, id string) error
	FindDuplicate(ctx context.Context, email, phone string) (ghlwire.Contact, bool, error)
	AddTags(ctx context.Context, contactID string, tags []string) ([]string, error)
	RemoveTags(ctx context.Context, contactID string, tags []string) ([]string, error)
	ListTasks(ctx context.Context, contactID string) ([]ghlwire.Task, error)
	CreateTask(ctx context.Context, contactID string, in ghlwire.TaskInput) (ghlwire.Task, error)
	UpdateTask(ctx context.Context, contactID, taskID string, in ghlwire.TaskInput) (ghlwire.Task, error)
	SetTaskCompleted(ctx context.Context, contactID, taskID string, completed bool) (ghlwire.Task, error)
	DeleteTask(ctx context.Context, contactID, taskID string) error
	ListNotes(ctx context.Context, contactID string) ([]ghlwire.Note, error)
	CreateNote(ctx context.Context, contactID string, in ghlwire.NoteInput) (ghlwire.Note, error)
	UpdateNote(ctx context.Context, contactID, noteID string, in ghlwire.NoteInput) (ghlwire.Note, error)
	DeleteNote(ctx context.Context, contactID, noteID string) error
}

// Systems are the two remote systems of one HighLevel location and PTD account. GHL or PTD
// may be nil: nothing is then planned or pushed for that side (a service started without
// the side's client). The methods are safe for concurrent use; GHL and PTD must not be
// replaced once the Systems are shared.
type Systems struct {
	GHL GHL
	PTD ptd.Adapter

	log hclog.Logger
	m   *metrics.Metrics

	mu       sync.Mutex
	said     map[string]bool // Once keys already said
	readOnly bool
}

// New returns the Systems over the two clients. readOnly forces one-way sync (HighLevel →
// PTD) whatever the token says. log must not be nil; m may be.
func New(ghl GHL, ptdAdapter ptd.Adapter, readOnly bool, log hclog.Logger, m *metrics.Metrics) *Systems {
	return &Systems{GHL: ghl, PTD: ptdAdapter, log: log, m: m, said: map[string]bool{}, readOnly: readOnly}
}

// Offline returns Systems that send nothing anywhere: PTD answers Capabilities only (caps),
// GHL answers ReadOnly only (false). Any other call panics, so they suit only the stages that
// plan and resolve from the mirror (ptsync plan, ptsync conflicts resolve).
func Offline(caps ptd.Capabilities, readOnly bool, log hclog.Logger, m *metrics.Metrics) *Systems {
	return New(offlineGHL{}, offlinePTD{caps: caps}, readOnly, log, m)
}

// offlinePTD answers Capabilities only.
type offlinePTD struct {
	ptd.Adapter
	caps ptd.Capabilities
}

func (o offlinePTD) Capabilities() ptd.Capabilities { return o.caps }

// offlineGHL answers ReadOnly only.
type offlineGHL struct{ GHL }

func (offlineGHL) ReadOnly(context.Context) (bool, error) { return false, nil }

// Once runs say the first time key is asked for, and never again for these Systems: for log
// lines that would otherwise repeat every cycle. say runs outside the lock.
func (s *Systems) Once(key string, say func()) {
	s.mu.Lock()
	done := s.said[key]
	s.said[key] = true
	s.mu.Unlock()
	if !done {
		say()
	}
}

// Can reports whether the PTD adapter declares c (false without an adapter). A missing
// capability is said once in the log, naming work (what is skipped), and counted once in
// ptsync_ptd_capability_missing_total; the caller skips the work.
func (s *Systems) Can(c ptd.Capability, work string) bool {
	if s.PTD != nil && s.PTD.Capabilities().Has(c) {
		return true
	}
	s.Once("cap/"+c.String(), func() {
		s.log.Warn("ptd driver lacks a capability; skipping that work", "capability", c.String(), "work", work)
		s.m.CapabilityMissing(c.String())
	})
	return false
}

// ReadOnly reports whether HighLevel must not be written to: forced by New, or the client's
// credentials say contacts.readonly (asked without I/O until it says so once; from then on it
// stays read-only). It says so once in the log.
func (s *Systems) ReadOnly(ctx context.Context) bool {
	s.mu.Lock()
	ro := s.readOnly
	s.mu.Unlock()
	if !ro && s.GHL != nil {
		if r, err := s.GHL.ReadOnly(ctx); err == nil && r {
			ro = true
			s.mu.Lock()
			s.readOnly = true
			s.mu.Unlock()
		}
	}
	if ro {
		s.Once("readonly", func() {
			s.log.Warn("highlevel token is read-only (contacts.readonly): syncing one way, highlevel to ptd; nothing will be written to highlevel")
		})
	}
	return ro
}
