package ghl

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// secretSink is an hclog output that fails the test when a registered secret appears in any
// log line (acceptance 11). Register every token, refresh token and client secret a test uses.
type secretSink struct {
	t       testing.TB
	mu      sync.Mutex
	secrets []string
	lines   int
	buf     bytes.Buffer
}

func newSecretSink(t testing.TB) *secretSink { return &secretSink{t: t} }

func (s *secretSink) Register(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range secrets {
		if x != "" {
			s.secrets = append(s.secrets, x)
		}
	}
}

func (s *secretSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines += bytes.Count(p, []byte("\n"))
	line := string(p)
	for _, x := range s.secrets {
		if strings.Contains(line, x) {
			s.t.Errorf("secret leaked into a log line: %q", strings.ReplaceAll(line, x, "<SECRET>"))
		}
	}
	if s.buf.Len() < 1<<16 {
		s.buf.Write(p)
	}
	return len(p), nil
}

// Lines returns how many log lines were checked.
func (s *secretSink) Lines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines
}

// Logger returns a Trace-level logger writing into the sink.
func (s *secretSink) Logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Trace, Output: s})
}
