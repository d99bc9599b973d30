package ptdsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ptdsim"
)

const specPath = "../../docs/ptd-openapi.yaml"

// contract validates every request and response of a test against docs/ptd-openapi.yaml and
// records which (operation, status) pairs were exercised.
type contract struct {
	t      *testing.T
	router routers.Router
	base   string
	hc     *http.Client
	key    string

	mu   sync.Mutex
	seen map[string]map[int]bool // operationId -> statuses
}

func loadContract(t *testing.T, base, key string) *contract {
	t.Helper()
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("cannot load %s: %v", specPath, err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("%s is not valid OpenAPI: %v", specPath, err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{t: t, router: router, base: base, hc: &http.Client{Timeout: 10 * time.Second}, key: key, seen: map[string]map[int]bool{}}
}

type req struct {
	method, path string
	body         any // marshalled to JSON; a string is sent raw
	header       map[string]string
	noAuth       bool
	invalid      bool // the request deliberately breaks the contract: validate only the response
}

// do sends r, validates both directions and returns the status, headers and body.
func (c *contract) do(r req) (int, http.Header, []byte) {
	c.t.Helper()
	var payload []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		payload = []byte(b)
	default:
		payload, _ = json.Marshal(b)
	}
	hreq, err := http.NewRequest(r.method, c.base+r.path, bytes.NewReader(payload))
	if err != nil {
		c.t.Fatal(err)
	}
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if !r.noAuth {
		hreq.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range r.header {
		hreq.Header.Set(k, v)
	}
	route, params, err := c.router.FindRoute(hreq)
	if err != nil {
		c.t.Fatalf("%s %s is not in the contract: %v", r.method, r.path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: hreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if !r.invalid {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s %s: request breaks the contract: %v", r.method, r.path, err)
		}
		hreq.Body = io.NopCloser(bytes.NewReader(payload)) // validation consumed it
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s -> %d: response breaks the contract: %v\nbody: %s", r.method, r.path, resp.StatusCode, err, body)
	}
	c.mu.Lock()
	if c.seen[route.Operation.OperationID] == nil {
		c.seen[route.Operation.OperationID] = map[int]bool{}
	}
	c.seen[route.Operation.OperationID][resp.StatusCode] = true
	c.mu.Unlock()
	return resp.StatusCode, resp.Header, body
}

func (c *contract) expect(r req, status int) ([]byte, http.Header) {
	c.t.Helper()
	got, h, body := c.do(r)
	if got != status {
		c.t.Fatalf("%s %s = %d, want %d: %s", r.method, r.path, got, status, body)
	}
	return body, h
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("cannot decode %s: %v", b, err)
	}
	return v
}

// TestSimulatorMatchesOpenAPI drives every operation of the contract, successes and errors,
// through the simulator and validates each exchange against docs/ptd-openapi.yaml. It also
// fails when the spec gains an operation the simulator's traffic never reached.
func TestSimulatorMatchesOpenAPI(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{APIKey: "k-123", MaxBodyBytes: 4096})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := loadContract(t, srv.URL, "k-123")
	g, p := sim.AddGroup("VIP"), sim.AddPackage("Starter")

	c.expect(req{method: "GET", path: "/v1/capabilities"}, 200)
	c.expect(req{method: "GET", path: "/v1/capabilities", noAuth: true, invalid: true}, 401)

	body, h := c.expect(req{method: "POST", path: "/v1/clients", body: map[string]any{"email": " Ana@Example.com", "firstName": "Ana", "sendLoginDetails": false}}, 201)
	ana := decode[ptdwire.Client](t, body)
	if h.Get("ETag") != ana.ETag {
		t.Fatalf("ETag header %q != body etag %q", h.Get("ETag"), ana.ETag)
	}
	body, _ = c.expect(req{method: "POST", path: "/v1/clients", body: map[string]any{"email": "ANA@example.com", "firstName": "A"}}, 409)
	if e := decode[ptdwire.Error](t, body); e.ExistingID != ana.ID || e.Code != ptdwire.CodeEmailExists {
		t.Fatalf("409 body = %+v", e)
	}
	c.expect(req{method: "POST", path: "/v1/clients", body: map[string]any{"email": "bad address", "firstName": "A"}}, 400)
	c.expect(req{method: "POST", path: "/v1/clients", body: `{"email":"x@y.z","firstName":"` + strings.Repeat("a", 5000) + `"}`}, 413)
	c.expect(req{method: "POST", path: "/v1/clients", body: map[string]any{"email": "x@y.z"}, invalid: true}, 400)

	c.expect(req{method: "GET", path: "/v1/clients?limit=1"}, 200)
	c.expect(req{method: "GET", path: "/v1/clients?email=%20ana@EXAMPLE.com"}, 200)
	c.expect(req{method: "GET", path: "/v1/clients?updatedAfter=%21%21"}, 400)
	c.expect(req{method: "GET", path: "/v1/clients/" + ana.ID}, 200)
	c.expect(req{method: "GET", path: "/v1/clients/cl_missing"}, 404)

	body, _ = c.expect(req{method: "PATCH", path: "/v1/clients/" + ana.ID, header: map[string]string{"If-Match": ana.ETag}, body: map[string]any{"lastName": "Lima"}}, 200)
	ana2 := decode[ptdwire.Client](t, body)
	c.expect(req{method: "PATCH", path: "/v1/clients/" + ana.ID, header: map[string]string{"If-Match": ana.ETag}, body: map[string]any{"lastName": "Old"}}, 412)
	c.expect(req{method: "PATCH", path: "/v1/clients/" + ana.ID, body: map[string]any{"lastName": "X"}, invalid: true}, 428)
	if _, err := sim.CreateClient(ptdwire.ClientInput{Email: ptr("taken@example.com"), FirstName: ptr("T")}); err != nil {
		t.Fatal(err)
	}
	c.expect(req{method: "PATCH", path: "/v1/clients/" + ana.ID, header: map[string]string{"If-Match": ana2.ETag}, body: map[string]any{"email": "Taken@example.com"}}, 409)
	c.expect(req{method: "DELETE", path: "/v1/clients/" + ana.ID}, 405)

	c.expect(req{method: "POST", path: "/v1/clients/" + ana.ID + "/tags", body: map[string]any{"tags": []string{"vip", "lead"}}}, 200)
	c.expect(req{method: "DELETE", path: "/v1/clients/" + ana.ID + "/tags", body: map[string]any{"tags": []string{"lead"}}}, 200)
	c.expect(req{method: "POST", path: "/v1/clients/cl_missing/tags", body: map[string]any{"tags": []string{"x"}}}, 404)
	c.expect(req{method: "GET", path: "/v1/groups"}, 200)
	c.expect(req{method: "GET", path: "/v1/packages"}, 200)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/groups/" + g.ID}, 200)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/groups/gr_missing"}, 404)
	c.expect(req{method: "DELETE", path: "/v1/clients/" + ana.ID + "/groups/" + g.ID}, 200)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/packages/" + p.ID}, 200)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/access", body: map[string]any{"access": "print_only"}}, 200)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/access", body: map[string]any{"access": "paused"}, invalid: true}, 400)

	body, _ = c.expect(req{method: "POST", path: "/v1/clients/" + ana.ID + "/tasks", body: map[string]any{"title": "Log meals", "dueAt": "2026-06-03T09:00:00Z"}}, 201)
	task := decode[ptdwire.Task](t, body)
	c.expect(req{method: "GET", path: "/v1/clients/" + ana.ID + "/tasks"}, 200)
	c.expect(req{method: "GET", path: "/v1/clients/cl_missing/tasks"}, 404)
	c.expect(req{method: "PATCH", path: "/v1/tasks/" + task.ID, body: map[string]any{"completed": true}}, 200)
	c.expect(req{method: "DELETE", path: "/v1/tasks/" + task.ID}, 204)
	c.expect(req{method: "DELETE", path: "/v1/tasks/" + task.ID}, 404)
	c.expect(req{method: "PATCH", path: "/v1/tasks/" + task.ID, body: map[string]any{"completed": false}}, 404)

	body, _ = c.expect(req{method: "POST", path: "/v1/clients/" + ana.ID + "/notes", body: map[string]any{"body": "Knee better"}}, 201)
	note := decode[ptdwire.Note](t, body)
	c.expect(req{method: "GET", path: "/v1/clients/" + ana.ID + "/notes"}, 200)
	c.expect(req{method: "PATCH", path: "/v1/notes/" + note.ID, body: map[string]any{"body": "Knee fine"}}, 200)
	c.expect(req{method: "DELETE", path: "/v1/notes/" + note.ID}, 204)
	c.expect(req{method: "DELETE", path: "/v1/notes/" + note.ID}, 404)

	appt := map[string]any{"title": "Session", "startAt": "2026-06-02T10:00:00Z", "status": "booked"}
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/appointments/ghl-1", body: appt}, 201)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/appointments/ghl-1", body: appt}, 200)
	c.expect(req{method: "GET", path: "/v1/clients/" + ana.ID + "/appointments"}, 200)
	c.expect(req{method: "PUT", path: "/v1/clients/" + ana.ID + "/appointments/ghl-2", body: map[string]any{"title": "S", "startAt": "soon"}, invalid: true}, 400)

	rem := map[string]any{"clientId": ana.ID, "message": "Due tomorrow", "dueAt": "2026-06-02T09:00:00Z", "idempotencyKey": "k-1"}
	first, _ := c.expect(req{method: "POST", path: "/v1/reminders", body: rem}, 201)
	again, _ := c.expect(req{method: "POST", path: "/v1/reminders", body: rem}, 200)
	if decode[ptdwire.Reminder](t, first).ID != decode[ptdwire.Reminder](t, again).ID {
		t.Fatal("repeated reminder has a new id")
	}
	rem["message"] = "different"
	c.expect(req{method: "POST", path: "/v1/reminders", body: rem}, 422)
	rem["clientId"], rem["idempotencyKey"] = "cl_missing", "k-2"
	c.expect(req{method: "POST", path: "/v1/reminders", body: rem}, 404)

	sim.FailNext(1, 429, 2*time.Second)
	_, h = c.expect(req{method: "GET", path: "/v1/clients/" + ana.ID}, 429)
	if h.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After = %q", h.Get("Retry-After"))
	}
	sim.FailNext(1, 503, time.Second)
	c.expect(req{method: "GET", path: "/v1/groups"}, 503)

	// Every operation in the spec must have been exercised.
	loader := openapi3.NewLoader()
	doc, _ := loader.LoadFromFile(specPath)
	var missing []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if c.seen[op.OperationID] == nil {
				missing = append(missing, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("operations never exercised against the simulator: %v", missing)
	}
}

func ptr[T any](v T) *T { return &v }
