package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"

	"atrium/store"
	"atrium/tenant"
)

type ctxKey int

const (
	authKey ctxKey = iota
	workspaceKey
)

// maxFormBytes bounds a form body, maxUploadBytes a multipart upload (a CSV
// of contacts); larger ones are refused with 413.
const (
	maxFormBytes   = 1 << 20
	maxUploadBytes = 64 << 20
)

// auth is who is asking: the cookie session, and the server-side session
// and user once signed in.
type auth struct {
	cookie  *sessions.Session
	session *store.Session // nil when anonymous
	user    *store.User    // nil when anonymous
	seed    []byte         // CSRF seed, kept in the cookie
}

// workspaceCtx is the workspace a request acts on: its catalog row as of
// this request, the lease of its file, the workspace service on that lease
// (for every write a rule across files concerns), and the caller's role.
type workspaceCtx struct {
	ws    *store.Workspace
	lease *tenant.Lease
	svc   *tenant.Service
	role  string
}

func authFrom(r *http.Request) *auth {
	a, _ := r.Context().Value(authKey).(*auth)
	if a == nil {
		return &auth{}
	}
	return a
}

func workspaceFrom(r *http.Request) *workspaceCtx {
	wc, _ := r.Context().Value(workspaceKey).(*workspaceCtx)
	return wc
}

// statusRecorder remembers the status a handler wrote and counts the
// bytes of the body, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				w.Header().Set("Connection", "close")
				if strings.HasPrefix(r.URL.Path, "/api/") {
					writeAPIError(w, http.StatusInternalServerError, apiErrorBody{Code: store.EInternal, Message: "An internal error occurred."})
					return
				}
				http.Error(w, "An internal error occurred.", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy forbids inline script and style, framing, and any
// origin but our own.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.isHTTPS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) isHTTPS(r *http.Request) bool {
	return r.TLS != nil || (s.trustProxy && r.Header.Get("X-Forwarded-Proto") == "https")
}

// clientIP is the address that sign-in limits and the audit log use: the
// peer's, or with --trust-proxy the one the proxies vouch for (see
// forwardedClient); never simply what the client wrote in a header.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !s.trustProxy {
		return host
	}
	return forwardedClient(r.Header.Values("X-Forwarded-For"), host, s.trustedProxies)
}

// loadSession reads the cookie, gives every visitor a CSRF seed, and looks
// up the server-side session: a revoked or expired one signs the user out.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookie, _ := s.cookies.Get(r, cookieName) // a bad cookie yields a new session
		a := &auth{cookie: cookie}
		dirty := false
		if seed, ok := cookie.Values["csrf"].([]byte); ok && len(seed) == 32 {
			a.seed = seed
		} else {
			a.seed = newSeed()
			cookie.Values["csrf"] = a.seed
			dirty = true
		}
		if token, ok := cookie.Values["sid"].(string); ok {
			if err := s.resumeSession(r.Context(), a, token); err != nil {
				delete(cookie.Values, "sid")
				dirty = true
			}
		}
		if dirty {
			s.saveCookie(w, r, cookie)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey, a)))
	})
}

func (s *Server) resumeSession(ctx context.Context, a *auth, token string) error {
	sess, err := store.SessionByToken(ctx, s.catalog.R, token)
	if err != nil {
		return err
	}
	user, err := store.UserByID(ctx, s.catalog.R, sess.UserID)
	if err != nil {
		return err
	}
	if time.Since(sess.LastSeenAt) > time.Minute {
		if err := store.TouchSession(ctx, s.catalog, sess.ID); err != nil {
			s.log.Warn("touch session", "err", err)
		}
	}
	a.session, a.user = sess, user
	return nil
}

// csrfToken derives the token for forms of one scope: a workspace id, or ""
// outside workspaces. A token of workspace A is therefore refused by B.
func csrfToken(seed []byte, scope string) string {
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("atrium-csrf|" + scope))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// checkCSRF refuses a state-changing request without the token of the
// scope it is sent to, from the form field csrf_token or the X-CSRF-Token
// header (htmx). Uploads (multipart bodies) are read only where uploads
// allows them (routes for signed-in users); elsewhere they are refused
// unread.
func (s *Server) checkCSRF(uploads bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				next.ServeHTTP(w, r)
				return
			}
			if isMultipart(r) && !uploads {
				s.renderError(w, r, http.StatusUnsupportedMediaType, "This form does not take files.")
				return
			}
			err := parseForm(w, r)
			// net/http removes the temporary files of the request it made,
			// not of this copy (the middleware above made it); without this
			// every upload left its file in the temporary directory.
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
			if isTimeout(err) {
				s.renderError(w, r, http.StatusRequestTimeout, "The form took too long to arrive. Try again.")
				return
			}
			if err != nil {
				s.renderError(w, r, http.StatusRequestEntityTooLarge, "The form is too large or malformed.")
				return
			}
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostForm.Get("csrf_token")
			}
			want := csrfToken(authFrom(r).seed, mux.Vars(r)["workspace"])
			if !hmac.Equal([]byte(got), []byte(want)) {
				s.renderError(w, r, http.StatusForbidden, "This form has expired or belongs to another workspace. Reload the page and try again.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireUser sends anonymous visitors to the sign-in page.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if authFrom(r).user == nil {
			target := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) requireSuperadmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authFrom(r).user.Superadmin {
			s.notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// workspace checks membership of the workspace in the URL and holds a lease
// on its file for the rest of the request. Anything but a member of a live
// workspace gets 404, so existence does not leak.
func (s *Server) workspace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := tenant.ParseID(mux.Vars(r)["workspace"])
		if err != nil {
			s.notFound(w, r)
			return
		}
		ws, role, err := store.WorkspaceForMember(r.Context(), s.catalog.R, authFrom(r).user.ID, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if role == "viewer" && r.Method != http.MethodGet && r.Method != http.MethodHead && !ownPreference(r) {
			s.renderError(w, r, http.StatusForbidden, "Viewers can look but not change anything in this workspace.")
			return
		}
		if err := s.limitRate(w, r, id, ""); err != nil {
			s.fail(w, r, err)
			return
		}
		lease, err := s.tenants.Acquire(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer lease.Release()
		svc := s.tenants.Service(lease)
		if err := checkStorage(r, svc); err != nil {
			s.fail(w, r, err)
			return
		}
		s.noteSignIn(r, svc)
		ctx := context.WithValue(r.Context(), workspaceKey, &workspaceCtx{ws: ws, lease: lease, svc: svc, role: role})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireRole returns middleware refusing callers below role min with 403.
func (s *Server) requireRole(min string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if role := workspaceFrom(r).role; store.RoleRank(role) < store.RoleRank(min) {
				s.renderError(w, r, http.StatusForbidden, "Your role in this workspace ("+role+") does not allow this; ask an owner or admin.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// noteSignIn has the workspace service note, once per session and
// workspace, that the user entered this workspace. A failure is logged,
// not shown: the page the user asked for does not depend on it.
func (s *Server) noteSignIn(r *http.Request, svc *tenant.Service) {
	a := authFrom(r)
	if a.session == nil {
		return
	}
	if err := svc.NoteSignIn(r.Context(), s.actor(r), a.session); err != nil {
		s.log.Error("note sign-in", "err", err)
	}
}

// parseForm reads a urlencoded form of up to maxFormBytes, or a multipart
// upload of up to maxUploadBytes (files past 8 MiB go to temporary files).
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if isMultipart(r) {
		r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
		return r.ParseMultipartForm(8 << 20)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm()
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/")
}

// ownPreferencePrefix names the routes that write a user's own preferences
// (the columns and saved views of a list), not the workspace's data: a
// viewer may use them too.
const ownPreferencePrefix = "pref:"

// ownPreference reports whether the request's route is one of those.
func ownPreference(r *http.Request) bool {
	route := mux.CurrentRoute(r)
	return route != nil && strings.HasPrefix(route.GetName(), ownPreferencePrefix)
}
