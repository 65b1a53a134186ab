package handlers

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"atrium/store"
)

// setupMu serialises first-run setup so two racing requests cannot both
// create a first superadmin.
var setupMu sync.Mutex

func (s *Server) setupForm(w http.ResponseWriter, r *http.Request) {
	if n, err := store.CountUsers(r.Context(), s.catalog.R); err != nil || n > 0 {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "setup", s.newView(r, "Set up Atrium"))
}

// setup creates the first user, a superadmin, and signs them in.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	setupMu.Lock()
	defer setupMu.Unlock()
	if n, err := store.CountUsers(r.Context(), s.catalog.R); err != nil || n > 0 {
		s.renderError(w, r, http.StatusForbidden, "Atrium is already set up; sign in instead.")
		return
	}
	f := newForm(r.PostForm)
	u, err := store.CreateUser(r.Context(), s.catalog, store.NewUser{
		Email: f.Get("email"), Name: f.Get("name"), Password: f.Values.Get("password"), Superadmin: true, Verified: true,
	})
	if err != nil {
		s.failForm(w, r, f, err, func(status int) {
			v := s.newView(r, "Set up Atrium")
			v.Form = f
			s.render(w, r, status, "setup", v)
		})
		return
	}
	if err := s.signIn(w, r, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.flash(w, r, "success", "Welcome to Atrium. Create your first workspace.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if authFrom(r).user != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	if n, err := store.CountUsers(r.Context(), s.catalog.R); err == nil && n == 0 {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	v := s.newView(r, "Sign in")
	v.Form.Values.Set("next", safeNext(r.URL.Query().Get("next")))
	v.Page = loginPage{CanReset: s.tenants.SystemMail()}
	s.render(w, r, http.StatusOK, "login", v)
}

// login signs a user in. Unknown email and wrong password get the same
// answer; repeated failures per account and per address are slowed down.
// Every attempt is counted as a failure before the password is checked, and
// given back only if it succeeds, so concurrent attempts cannot overrun the
// limit.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	f := newForm(r.PostForm)
	email, ip, now := f.Get("email"), s.clientIP(r), time.Now()
	if wait := s.limiter.reserve(email, ip, now); wait > 0 {
		tooMany(w, f, "email", wait)
		s.renderLogin(w, r, http.StatusTooManyRequests, f)
		return
	}
	u, err := store.Authenticate(r.Context(), s.catalog, email, f.Values.Get("password"))
	if err != nil {
		if store.ErrorCode(err) != store.EUnauthorized {
			s.limiter.release(email, ip, now)
			s.serverError(w, r, err)
			return
		}
		f.Fail("email", store.ErrorMessage(err))
		s.renderLogin(w, r, http.StatusUnauthorized, f)
		return
	}
	on, err := store.TwoFactorEnabled(r.Context(), s.catalog.R, u.ID)
	if err != nil {
		s.limiter.release(email, ip, now)
		s.serverError(w, r, err)
		return
	}
	if on {
		// Half signed in: the password was no failure, but neither is it a
		// success that would clear the account's count before the code.
		s.limiter.release(email, ip, now)
		s.startPending(w, r, u, safeNext(f.Get("next")))
		http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
		return
	}
	s.limiter.succeed(email, ip, now)
	if err := s.signIn(w, r, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, safeNext(f.Get("next")), http.StatusSeeOther)
}

// tooMany sets Retry-After and the form's error for a refused attempt.
func tooMany(w http.ResponseWriter, f *form, field string, wait time.Duration) {
	f.Fail(field, "Too many failed sign-ins. Try again in "+retryAfter(w, wait)+".")
}

// retryAfter sets Retry-After for a refused attempt and says the wait in
// words: "30 seconds", "4 minutes".
func retryAfter(w http.ResponseWriter, wait time.Duration) string {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if secs > 90 {
		minutes := int(math.Ceil(wait.Minutes()))
		return fmt.Sprintf("%d minute%s", minutes, plural(minutes))
	}
	return fmt.Sprintf("%d second%s", secs, plural(secs))
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v := s.newView(r, "Sign in")
	v.Form = f
	v.Page = loginPage{CanReset: s.tenants.SystemMail()}
	s.render(w, r, status, "login", v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// safeNext is the one gate for a redirect target taken from the request
// (the next parameter): it returns a path of this site, or "/". The target
// is first normalised as browsers do when they read a Location, because
// the check must see what the browser will follow: "/\t/evil" passes a
// plain prefix test, and a browser drops the tab and goes to //evil.
func safeNext(next string) string {
	next = browserNormal(next)
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, isControl) {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// browserNormal applies the WHATWG URL parser's clean-ups: leading and
// trailing controls and spaces go, tabs and newlines anywhere go, and a
// backslash is a slash in http(s) URLs.
func browserNormal(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r == ' ' || isControl(r) })
	return browserDrops.Replace(s)
}

var browserDrops = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/")

// isControl reports an ASCII control character (C0 or DEL).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.signOut(w, r)
	s.flash(w, r, "success", "You have signed out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// logoutEverywhere ends every session of the user, this one included.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	n, err := store.DeleteUserSessions(r.Context(), s.catalog, a.user.ID, "")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.signOut(w, r)
	s.flash(w, r, "success", fmt.Sprintf("You have signed out on every device (%d session%s).", n, plural(int(n))))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, newForm(nil))
}

// setPreferences saves how the user has dates shown.
func (s *Server) setPreferences(w http.ResponseWriter, r *http.Request) {
	f := newForm(r.PostForm)
	err := store.SetPreferences(r.Context(), s.catalog, authFrom(r).user.ID, store.Preferences{
		DateFormat: f.Get("date_format"), TimeZone: f.Get("time_zone"), Clock: f.Get("clock"),
	})
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderAccount(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", "Dates are now shown your way.")
	http.Redirect(w, r, "/account#dates", http.StatusSeeOther)
}

// changePassword checks the current password, sets the new one, ends every
// other session and gives this one a new token.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	f := newForm(r.PostForm)
	fail := func(status int, field, msg string) {
		f.Fail(field, msg)
		s.renderAccount(w, r, status, f)
	}
	if _, err := store.Authenticate(r.Context(), s.catalog, a.user.Email, f.Values.Get("current_password")); err != nil {
		fail(http.StatusUnprocessableEntity, "current_password", "The current password is not right.")
		return
	}
	if f.Values.Get("new_password") != f.Values.Get("confirm_password") {
		fail(http.StatusUnprocessableEntity, "confirm_password", "The two new passwords differ.")
		return
	}
	if err := store.SetPassword(r.Context(), s.catalog, a.user.ID, f.Values.Get("new_password")); err != nil {
		if store.ErrorCode(err) == store.EInternal {
			s.serverError(w, r, err)
			return
		}
		fail(http.StatusUnprocessableEntity, "new_password", store.ErrorMessage(err))
		return
	}
	if _, err := store.DeleteUserSessions(r.Context(), s.catalog, a.user.ID, a.session.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	token, err := store.RotateSession(r.Context(), s.catalog, a.session.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	a.cookie.Values["sid"] = token
	s.flash(w, r, "success", "Your password was changed, and your other sessions were signed out.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}
