package reconcile_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/store"
	"ptsync/store/query"
)

// widget is a HighLevel child kind that exists only in this test: GET /contacts/{id}/widgets
// lists them, the mirror keeps them as JSON, `query widgets` and the contact view show them,
// and the reconciler surfaces each in PTD as a note, HighLevel being read-only for them.
type widget struct {
	ID        string    `json:"id"`
	ContactID string    `json:"contactId"`
	Colour    string    `json:"colour"`
	FetchedAt time.Time `json:"fetchedAt"`
}

func (w *widget) ChildID() string                     { return w.ID }
func (w *widget) ParentID() string                    { return w.ContactID }
func (w *widget) FetchedTime() time.Time              { return w.FetchedAt }
func (w *widget) ChildIndexValues() map[string]string { return map[string]string{"colour": w.Colour} }

const kindWidget = "widget"

func widgetStore() store.ChildKind {
	return store.ChildKind{Name: kindWidget, Order: 40, Since: 1,
		GHL: store.ChildSide{Collection: "ghl.widgets", Indexes: []string{"colour"}, New: func() store.ChildRecord { return new(widget) }}}
}

func widgetIngest() ingest.ChildKind {
	list := ghl.ChildList{Op: "get-widgets", Segment: "widgets", Field: "widgets"}
	return ingest.ChildKind{Name: kindWidget, Order: 40, Label: "widgets", Events: []string{"WidgetCreate"},
		Fetch: func(ctx context.Context, c *ghl.Client, id string) (ingest.Convert, error) {
			raws, err := c.ListChildren(ctx, list, id)
			if err != nil {
				return nil, err
			}
			ws, err := ghl.DecodeChildren(list.Op, "widget", raws, func(*widget, json.RawMessage) {})
			return func(s ingest.Stamp) []store.ChildRecord {
				out := make([]store.ChildRecord, len(ws))
				for i := range ws {
					ws[i].ContactID, ws[i].FetchedAt = id, s.At
					out[i] = &ws[i]
				}
				return out
			}, err
		}}
}

func widgetQuery() query.ChildKind {
	return query.ChildKind{Name: kindWidget, Order: 40,
		GHL: query.ChildQuery{Kind: "widgets", Defaults: []string{"id", "colour"}, Fields: []query.Field{
			query.Str("id", func(w *widget) string { return w.ID }),
			query.Str("contactId", func(w *widget) string { return w.ContactID }),
			query.Str("colour", func(w *widget) string { return w.Colour }),
		}},
		Show: query.ChildShow{Heading: "widgets", New: func() any { return new(widget) },
			Line: func(r any) string { return r.(*widget).ID + " " + r.(*widget).Colour }}}
}

func widgetBody(w *widget) string { return "Widget " + w.ID + ": " + w.Colour }

// widgetReconcile surfaces widgets as PTD notes through the PTD adapter's note calls.
func widgetReconcile() kinds.ChildKind {
	record := func(n ptdwire.Note, pid string, env kinds.ChildEnv) store.ChildRecord {
		return &store.PTDNote{ID: n.ID, ClientID: pid, Body: n.Body, FetchedAt: env.Now()}
	}
	return kinds.ChildKind{Name: kindWidget, Order: 40, Direction: kinds.ToPTD,
		Fingerprint: func(r store.ChildRecord) (string, bool) { return r.(*widget).Colour, true },
		Surfaces: []kinds.Surface{{Cap: ptd.CapNotes, Work: "surface widgets as notes",
			Create: kinds.OpNoteCreate, Update: kinds.OpNoteUpdate, Into: store.KindNote,
			Write: func(r store.ChildRecord) kinds.Write {
				return kinds.Write{Fields: map[string]string{"body": widgetBody(r.(*widget))}}
			},
			Calls: kinds.ChildCalls{
				Create: func(ctx context.Context, env kinds.ChildEnv, pid string, w kinds.Write) (store.ChildRecord, error) {
					body := w.Fields["body"]
					n, err := env.PTD.CreateNote(ctx, pid, ptdwire.NoteInput{Body: &body})
					return record(n, pid, env), err
				},
				Update: func(ctx context.Context, env kinds.ChildEnv, pid, id string, w kinds.Write) (store.ChildRecord, error) {
					body := w.Fields["body"]
					n, err := env.PTD.UpdateNote(ctx, id, ptdwire.NoteInput{Body: &body})
					return record(n, pid, env), err
				},
			}}}}
}

// widgetServer answers the widget listing itself and hands every other request to the
// HighLevel simulator: a HighLevel that has one more child kind.
type widgetServer struct {
	mu      sync.Mutex
	widgets map[string][]widget
}

func (ws *widgetServer) set(contact string, w ...widget) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.widgets[contact] = w
}

func (ws *widgetServer) start(t *testing.T, simURL string) string {
	u, err := url.Parse(simURL)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", httputil.NewSingleHostReverseProxy(u))
	mux.HandleFunc("GET /contacts/{id}/widgets", func(w http.ResponseWriter, r *http.Request) {
		ws.mu.Lock()
		list := append([]widget{}, ws.widgets[r.PathValue("id")]...)
		ws.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string][]widget{"widgets": list})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDummyChildKind registers a child kind no production file knows, through the
// registries' seams only, and follows it: a webhook event of the kind marks its contact
// dirty, the children refresh mirrors it, a query and the contact view show it, the planner
// surfaces it in PTD as a note, the pusher writes that note, and the notes' planner leaves
// the note alone (it is taken by the widget's link) instead of copying it back to HighLevel.
func TestDummyChildKind(t *testing.T) {
	h := newHarness(t, hopts{})
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	// A mirror created with the kind registered (an existing file would need the kind's
	// migration: its buckets are part of the format).
	h.dbPath = filepath.Join(t.TempDir(), "widgets.db")
	ws := &widgetServer{widgets: map[string][]widget{}}
	base := ws.start(t, h.gurl)
	loc := h.gsim.LocationID()
	client, err := ghl.New(ghl.Options{BaseURL: base, LocationID: loc,
		Credentials: ghl.NewStaticSource(loc, secret.New(h.token), scopesFor(false)),
		Limiter:     ghl.NewLimiter(ghl.LimiterOptions{Location: loc, Max: 1 << 20, Interval: time.Second, DailyCap: 1 << 30}),
		Retry:       ghl.RetryPolicy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(h.dbPath, store.Options{ChildKinds: append(store.DefaultChildKinds(), widgetStore())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ingestKinds := append(ingest.DefaultChildKinds(), widgetIngest())
	poller, err := ingest.New(ingest.Options{Store: db, Client: client, ChildKinds: ingestKinds})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := reconcile.New(reconcile.Options{Store: db, GHL: client, PTD: h.adapter, Config: h.cfg, Logger: hclog.NewNullLogger(),
		PTDChildrenPerPoll: -1, Seed: 1, ChildKinds: append(kinds.DefaultChildKinds(), widgetReconcile())})
	if err != nil {
		t.Fatal(err)
	}
	cat := query.NewCatalog(append(query.DefaultChildKinds(), widgetQuery()))
	h.db, h.client, h.poller, h.eng = db, client, poller, eng
	gid, pid := h.syncedPair()
	notesBefore := len(h.gsim.Notes(gid))

	// A webhook about a widget marks its contact dirty.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	hook, err := ingest.NewWebhookHandler(ingest.WebhookOptions{Store: db, PublicKeys: []crypto.PublicKey{pub}, ChildKinds: ingestKinds})
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"type":"WidgetCreate","locationId":%q,"contactId":%q,"webhookId":"wh-widget-1","timestamp":%q}`,
		loc, gid, time.Now().UTC().Format(time.RFC3339))
	req := httptest.NewRequest(http.MethodPost, "/webhooks/ghl", strings.NewReader(body))
	req.Header.Set(ghlwire.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(body))))
	rec := httptest.NewRecorder()
	if hook.ServeHTTP(rec, req); rec.Code != http.StatusOK {
		t.Fatalf("webhook answered %d: %s", rec.Code, rec.Body)
	}
	var dirty bool
	if err := db.View(func(tx *store.Tx) (err error) { dirty, err = tx.IsDirty(gid); return err }); err != nil || !dirty {
		t.Fatalf("a widget event left contact %s clean (%v)", gid, err)
	}

	sync := func(what string) {
		t.Helper()
		for i := 0; i < 5; i++ {
			if st := poller.RefreshChildren(h.ctx, []string{gid}, ingest.ReasonDirty, nil); st.FirstErr != nil || st.Stored["widgets"] != 1 {
				t.Fatalf("%s: refresh stored %v: %v", what, st.Stored, st.FirstErr)
			}
			st, err := eng.Cycle(h.ctx)
			if err != nil {
				t.Fatalf("%s: cycle: %v", what, err)
			}
			if st.Plan.IsEmpty() {
				return
			}
		}
		t.Fatalf("%s: no convergence", what)
	}
	ws.set(gid, widget{ID: "w1", Colour: "red"})
	sync("create")
	var shown string
	if err := db.View(func(tx *store.Tx) error {
		res, err := cat.Run(tx, query.Request{Kind: "widgets", Where: `colour == "red"`}, time.Now())
		if err != nil || len(res.Rows) != 1 || res.Rows[0]["id"] != "w1" {
			return fmt.Errorf("query widgets: %+v, %v", res.Rows, err)
		}
		v, err := cat.ShowContact(tx, gid)
		for _, s := range v.Children {
			if s.Heading == "widgets" {
				shown = strings.Join(s.Lines, ";")
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if shown != "w1 red" {
		t.Fatalf("contact view shows widgets %q", shown)
	}
	noteOf := func() string {
		for _, n := range h.psim.Notes(pid) {
			if strings.HasPrefix(n.Body, "Widget w1") {
				return n.Body
			}
		}
		return ""
	}
	if got := noteOf(); got != "Widget w1: red" {
		t.Fatalf("ptd note %q, want the widget surfaced", got)
	}
	ws.set(gid, widget{ID: "w1", Colour: "blue"})
	sync("change")
	if got := noteOf(); got != "Widget w1: blue" {
		t.Fatalf("ptd note %q after the change, want it re-surfaced", got)
	}
	if n := len(h.gsim.Notes(gid)); n != notesBefore {
		t.Fatalf("highlevel has %d notes of the contact, had %d: the widget's note came back as a free note", n, notesBefore)
	}
	var l store.Link
	if err := db.View(func(tx *store.Tx) (err error) { l, err = tx.LinkByGHL(kindWidget, "w1"); return err }); err != nil || l.PTDID == "" {
		t.Fatalf("widget link %+v, %v", l, err)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(l); err != nil {
		t.Fatal(err)
	}
	t.Logf("widget w1 linked to ptd note: %s", strings.TrimSpace(buf.String()))
}
