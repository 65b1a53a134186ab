package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// requestInfo is what the log line and the metrics of a request say of
// it: its id, route pattern and workspace, which the API learns only once
// the key is checked (apiAuthenticate sets it then).
type requestInfo struct {
	id        string
	route     string // the matched route's path template; "" when none matched
	workspace string // the workspace the route names or the API key belongs to
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	if info == nil {
		return &requestInfo{} // outside observe (tests calling a handler): a sink
	}
	return info
}

// requestIDHeader carries a request's id in and out: a proxy's id is kept
// when it is sane, so one id follows the request through both logs.
const requestIDHeader = "X-Request-Id"

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func requestID(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); saneRequestID.MatchString(id) {
		return id
	}
	return rand.Text()
}

// observe gives the request its id, then logs it and counts it in the
// metrics by its route pattern. It is the router's first middleware.
func (s *Server) observe(next http.Handler) http.Handler { return s.observed(next, true) }

// observeUnmatched is observe for the handlers of requests no route
// matched, which mux serves without middleware. Their route is
// unmatchedRoute: a subrouter's not-found handler sees the subrouter's
// prefix as the current route.
func (s *Server) observeUnmatched(next http.Handler) http.Handler { return s.observed(next, false) }

func (s *Server) observed(next http.Handler, matched bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.tenants.Serving()() // heavy work paces itself meanwhile (tenant.Pacer)
		start := time.Now()
		info := &requestInfo{id: requestID(r)}
		if route := mux.CurrentRoute(r); route != nil && matched {
			info.route, _ = route.GetPathTemplate()
			info.workspace = mux.Vars(r)["workspace"]
		}
		w.Header().Set(requestIDHeader, info.id)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		took := time.Since(start)
		s.metrics.observe(info.route, r.Method, rec.status, took)
		if quiet(info.route) {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", info.id), slog.String("method", r.Method), slog.String("route", cmp.Or(info.route, unmatchedRoute)),
			slog.String("path", loggedPath(info.route, r.URL.Path)), slog.Int("status", rec.status),
			slog.Float64("ms", float64(took.Microseconds())/1000), slog.Int64("bytes", rec.bytes), slog.String("ip", s.clientIP(r)),
		}
		if info.workspace != "" {
			attrs = append(attrs, slog.String("workspace", info.workspace))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// loggedPath is the path a request log shows: the route's pattern for a
// path that carries a secret token (password reset, invitation,
// unsubscribe and tracking links), which would let whoever reads the logs
// use it.
func loggedPath(route, path string) string {
	if strings.Contains(route, "{token}") {
		return route
	}
	return path
}

// quiet says a route is not logged: probes, scrapes and static files
// would drown the rest.
func quiet(route string) bool {
	return route == "/healthz" || route == "/readyz" || route == "/metrics" || strings.HasPrefix(route, "/static/")
}
