package tenant

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
)

// lastError is the latest replication error Litestream logged for one file.
type lastError struct {
	At      time.Time
	Message string
}

// lastErrors remembers the latest error per database file name. Litestream
// reports upload failures only through its logger, so the logger is where
// backup status learns of them.
type lastErrors struct {
	mu sync.Mutex
	m  map[string]lastError // by file base name, e.g. <id>.db
}

func (l *lastErrors) set(name, msg string) {
	l.mu.Lock()
	l.m[name] = lastError{At: time.Now().UTC(), Message: msg}
	l.mu.Unlock()
}

func (l *lastErrors) get(name string) (lastError, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[name]
	return e, ok
}

// errorTap passes Litestream's warnings and errors to the app's log (its
// info lines are chatter per sync) and records each error under the
// database it concerns, which Litestream names in a "db" attribute.
type errorTap struct {
	next slog.Handler
	db   string
	last *lastErrors
}

func (h *errorTap) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn
}

func (h *errorTap) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError && h.db != "" {
		msg := rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" || a.Key == "err" {
				msg += ": " + a.Value.String()
			}
			return true
		})
		h.last.set(h.db, msg)
	}
	if !h.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.next.Handle(ctx, rec)
}

func (h *errorTap) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == litestream.LogKeyDB {
			c.db = a.Value.String()
		}
	}
	c.next = h.next.WithAttrs(attrs)
	return &c
}

func (h *errorTap) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
