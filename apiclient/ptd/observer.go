package ptd

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"
)

// Observer receives the drivers' measurements of their calls: the REST driver's requests to
// PT Distinction and the Zapier driver's POSTs to its catch hooks. metrics.UpstreamObserver
// implements it, so PTD traffic lands in the same families as HighLevel's. Implementations
// must be safe for concurrent use and must not block: they are called on the request path.
type Observer interface {
	// ObserveRequest reports one HTTP attempt of operation; status 0 means no response arrived.
	ObserveRequest(operation string, status int, d time.Duration)
	// ObserveRetry reports one retry of operation and why: RetryRateLimited,
	// RetryServerError, RetryTransport or RetryTimeout.
	ObserveRetry(operation, reason string)
}

// Retry reasons reported to Observer.ObserveRetry (the HighLevel client's vocabulary).
const (
	RetryRateLimited = "rate_limited"
	RetryServerError = "server_error"
	RetryTransport   = "transport"
	RetryTimeout     = "timeout"
)

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, int, time.Duration) {}
func (nopObserver) ObserveRetry(string, string)               {}

var _ Observer = nopObserver{}

func orNopObserver(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}

// restOps are the REST driver's operations as its error messages name them ("cannot list
// clients: ..."); operationLabel turns each into the operation label. Every call of the driver
// must use one of these, so that Operations can declare them all at start (rest_test checks).
func restOps() []string {
	return []string{
		"read capabilities", "list clients", "get client", "find client by email", "create client",
		"update client", "add tags", "remove tags", "list groups", "list packages",
		"add client to group", "remove client from group", "assign package", "set access",
		"list tasks", "create task", "update task", "delete task", "list notes", "create note",
		"update note", "delete note", "upsert appointment", "list appointments", "send reminder",
	}
}

// operationLabel is the operation label of a REST call: its name with dashes, in the style of
// HighLevel's operation ids ("list clients" -> "list-clients").
func operationLabel(op string) string { return strings.ReplaceAll(op, " ", "-") }

// zapierOperation is the operation label of a POST to a Zapier catch hook: "zapier-" and the
// action ("add_client" -> "zapier-add-client"), so that the route shows apart from REST calls.
func zapierOperation(action string) string {
	return "zapier-" + strings.ReplaceAll(action, "_", "-")
}

// transportReason tells a timeout from another transport failure for ObserveRetry.
func transportReason(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return RetryTimeout
	}
	return RetryTransport
}

// statusReason is the retry reason of a retried HTTP status.
func statusReason(status int) string {
	if status == 429 {
		return RetryRateLimited
	}
	return RetryServerError
}
