package metrics

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newSlogLogger adapts hclog to the *slog.Logger that exporter-toolkit's web package wants, so
// its messages land in ptsync's log with ptsync's format. Its info chatter ("Listening on",
// "TLS is disabled") is demoted to debug: Open logs one line of its own.
func newSlogLogger(l hclog.Logger) *slog.Logger {
	return slog.New(slogHandler{log: l.Named("web")})
}

type slogHandler struct {
	log   hclog.Logger
	group string
}

func (h slogHandler) level(l slog.Level) hclog.Level {
	switch {
	case l >= slog.LevelError:
		return hclog.Error
	case l >= slog.LevelWarn:
		return hclog.Warn
	default:
		return hclog.Debug
	}
}

func (h slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.GetLevel() <= h.level(l)
}

func (h slogHandler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, h.key(a.Key), a.Value.Resolve().Any())
		return true
	})
	h.log.Log(h.level(r.Level), r.Message, args...)
	return nil
}

func (h slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	args := make([]any, 0, 2*len(attrs))
	for _, a := range attrs {
		args = append(args, h.key(a.Key), a.Value.Resolve().Any())
	}
	return slogHandler{log: h.log.With(args...), group: h.group}
}

func (h slogHandler) WithGroup(name string) slog.Handler {
	return slogHandler{log: h.log, group: h.key(name)}
}

func (h slogHandler) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}

var _ slog.Handler = slogHandler{}
