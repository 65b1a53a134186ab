package handlers

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"atrium/store"
)

// How long a request body may take to arrive. Without a bound a client
// sending a few bytes a minute held a connection (and a goroutine) for as
// long as it liked; uploads get longer, for slow links. Variables so tests
// need not wait.
var (
	bodyReadTimeout   = 30 * time.Second
	uploadReadTimeout = 10 * time.Minute
)

// limitBodyTime sets the read deadline of each request's body: the
// connection's reads fail after it, and the handler answers 408.
func (s *Server) limitBodyTime(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			d := bodyReadTimeout
			if isUpload(r) {
				d = uploadReadTimeout
			}
			// Not every ResponseWriter can (an httptest recorder): then
			// the server's own timeouts are all there is.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// isUpload tells a file upload (a multipart form, or a CSV posted to the
// API) from a form or a JSON body.
func isUpload(r *http.Request) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	return isMultipart(r) || strings.HasPrefix(ct, "text/csv") || r.ContentLength > maxFormBytes
}

// isTimeout says a body read failed because its deadline passed.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// errBodyTimeout answers a request whose body did not arrive in time.
var errBodyTimeout = store.Errorf(store.ETimeout, "The request body took too long to arrive.")
