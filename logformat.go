package main

import (
	"fmt"
	"io"
	"log/slog"
)

// newLogger returns the process's logger writing to w in format: "text"
// (slog's key=value lines, the default) or "json" (one object a line, for
// log shippers).
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q is not text or json", format)
}
