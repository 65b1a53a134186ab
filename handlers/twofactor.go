package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"image/png"
	"net/http"
	"time"

	"atrium/store"
)

// Two-factor sign-in. After the right password, a user whose two-factor
// sign-in is on is only half signed in: the cookie holds who they are and
// until when they may give their code (pendingTTL), and no session exists,
// so every other page still sends them to sign in. The code's page makes
// the session (signIn), which also clears the half state.

// pendingTTL is how long a right password waits for its code.
const pendingTTL = 5 * time.Minute

// Cookie values of the half-signed-in state.
const (
	pendingUser  = "mfa_user"
	pendingUntil = "mfa_until"
	pendingNext  = "mfa_next"
	pendingPass  = "mfa_pass"
)

// passwordMark ties a half-signed-in state to the password it was given
// with: a password changed or reset meanwhile ends it, as it ends sessions.
func passwordMark(u *store.User) string {
	sum := sha256.Sum256([]byte("atrium-pending|" + u.PasswordHash))
	return hex.EncodeToString(sum[:16])
}

// startPending records the half-signed-in state in the cookie.
func (s *Server) startPending(w http.ResponseWriter, r *http.Request, u *store.User, next string) {
	a := authFrom(r)
	a.seed = newSeed()
	a.cookie.Values = map[any]any{"csrf": a.seed, pendingUser: u.ID, pendingUntil: time.Now().Add(pendingTTL).Unix(), pendingNext: next,
		pendingPass: passwordMark(u)}
	s.saveCookie(w, r, a.cookie)
}

// pending returns the half-signed-in user, or nil when there is none or
// its time is up.
func (s *Server) pending(r *http.Request) *store.User {
	a := authFrom(r)
	if a.cookie == nil {
		return nil
	}
	id, _ := a.cookie.Values[pendingUser].(string)
	until, _ := a.cookie.Values[pendingUntil].(int64)
	if id == "" || time.Now().Unix() > until {
		return nil
	}
	u, err := store.UserByID(r.Context(), s.catalog.R, id)
	if err != nil {
		return nil
	}
	if mark, _ := a.cookie.Values[pendingPass].(string); mark != passwordMark(u) {
		return nil
	}
	return u
}

func (s *Server) renderSecondFactor(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v := s.newView(r, "Two-factor sign-in")
	v.Form = f
	v.Page = loginPage{SecondFactor: true}
	s.render(w, r, status, "login", v)
}

// loginPage tells the sign-in page which step it shows.
type loginPage struct {
	SecondFactor bool
	// CanReset shows "Forgot password?": the instance can send mail.
	CanReset bool
}

func (s *Server) secondFactorForm(w http.ResponseWriter, r *http.Request) {
	if s.pending(r) == nil {
		s.flash(w, r, "error", "Sign in with your password first; a code is asked for within five minutes of it.")
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.renderSecondFactor(w, r, http.StatusOK, newForm(nil))
}

// secondFactor checks the code of a half-signed-in user and signs them in.
// Codes are limited like passwords, on the same account and address: a
// right password then buys no more guesses.
func (s *Server) secondFactor(w http.ResponseWriter, r *http.Request) {
	u := s.pending(r)
	if u == nil {
		s.flash(w, r, "error", "Sign in with your password first; a code is asked for within five minutes of it.")
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	f := newForm(r.PostForm)
	ip, now := s.clientIP(r), time.Now()
	if wait := s.limiter.reserve(u.Email, ip, now); wait > 0 {
		tooMany(w, f, "code", wait)
		s.renderSecondFactor(w, r, http.StatusTooManyRequests, f)
		return
	}
	err := store.VerifyTwoFactor(r.Context(), s.catalog, u.ID, f.Values.Get("code"), now)
	if err != nil {
		if code := store.ErrorCode(err); code != store.EUnauthorized {
			// A malformed code is no guess; an internal error no failure.
			s.limiter.release(u.Email, ip, now)
			if code == store.EInternal {
				s.serverError(w, r, err)
				return
			}
		}
		f.Values.Del("code")
		s.failForm(w, r, f, err, func(status int) { s.renderSecondFactor(w, r, status, f) })
		return
	}
	s.limiter.succeed(u.Email, ip, now)
	next, _ := authFrom(r).cookie.Values[pendingNext].(string)
	if err := s.signIn(w, r, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// twoFactorPage is the set-up page's data.
type twoFactorPage struct {
	Enabled       bool
	Required      bool // by the instance
	Secret        string
	URI           string
	QR            template.URL // a data: URL of the QR code's PNG
	RecoveryCodes []string     // shown once, just after they are made
}

// twoFactorSetup shows the secret to scan, or, when two-factor sign-in is
// already on, sends the user to their account page.
func (s *Server) twoFactorSetup(w http.ResponseWriter, r *http.Request) {
	s.renderSetup(w, r, http.StatusOK, newForm(nil))
}

func (s *Server) renderSetup(w http.ResponseWriter, r *http.Request, status int, f *form) {
	a := authFrom(r)
	tf, err := store.BeginTwoFactor(r.Context(), s.catalog, a.user.ID)
	if store.ErrorCode(err) == store.EConflict {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	key, err := tf.Key(a.user.Email)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	img, err := key.Image(240, 240)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		s.serverError(w, r, err)
		return
	}
	required, err := store.RequireTwoFactor(r.Context(), s.catalog.R)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Two-factor sign-in")
	v.Form = f
	v.Page = twoFactorPage{Required: required, Secret: key.Secret(), URI: key.URL(),
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "twofactor", v)
}

// enableTwoFactor turns two-factor sign-in on with a code of the app that
// scanned the secret, and shows the recovery codes, this once.
func (s *Server) enableTwoFactor(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	f := newForm(r.PostForm)
	codes, err := store.EnableTwoFactor(r.Context(), s.catalog, a.user.ID, f.Values.Get("code"), time.Now())
	if store.ErrorCode(err) == store.ENotFound {
		http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
		return
	}
	if err != nil {
		f.Values.Del("code")
		s.failForm(w, r, f, err, func(status int) { s.renderSetup(w, r, status, f) })
		return
	}
	s.showRecoveryCodes(w, r, codes, "Two-factor sign-in is on.")
}

func (s *Server) showRecoveryCodes(w http.ResponseWriter, r *http.Request, codes []string, headline string) {
	v := s.newView(r, "Recovery codes")
	v.Page = twoFactorPage{Enabled: true, RecoveryCodes: codes}
	v.Flashes = append(v.Flashes, flashMessage{Kind: "success", Text: headline})
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "twofactor", v)
}

// checkSecondFactorOrPassword accepts a current code, a recovery code or
// the password, for changes to two-factor sign-in itself.
func (s *Server) checkSecondFactorOrPassword(r *http.Request, f *form) error {
	a := authFrom(r)
	if p := f.Values.Get("password"); p != "" {
		if _, err := store.Authenticate(r.Context(), s.catalog, a.user.Email, p); err != nil {
			if store.ErrorCode(err) == store.EUnauthorized {
				return &store.Error{Code: store.EUnauthorized, Field: "password", Message: "The password is not right."}
			}
			return err
		}
		return nil
	}
	if f.Values.Get("code") == "" {
		return store.FieldError("code", "Enter a current code of your app, or your password.")
	}
	return store.VerifyTwoFactor(r.Context(), s.catalog, a.user.ID, f.Values.Get("code"), time.Now())
}

// disableTwoFactor turns two-factor sign-in off, with a code or the
// password; not while the instance requires it.
func (s *Server) disableTwoFactor(w http.ResponseWriter, r *http.Request) {
	s.changeTwoFactor(w, r, func() {
		if required, err := store.RequireTwoFactor(r.Context(), s.catalog.R); err != nil || required {
			if err != nil {
				s.serverError(w, r, err)
				return
			}
			s.renderError(w, r, http.StatusForbidden, "Two-factor sign-in is required on this instance; it cannot be turned off.")
			return
		}
		if err := store.DisableTwoFactor(r.Context(), s.catalog, authFrom(r).user.ID); err != nil {
			s.serverError(w, r, err)
			return
		}
		s.flash(w, r, "success", "Two-factor sign-in is off.")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
}

// newRecoveryCodes replaces the recovery codes, with a code or the password.
func (s *Server) newRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	s.changeTwoFactor(w, r, func() {
		codes, err := store.NewRecoveryCodes(r.Context(), s.catalog, authFrom(r).user.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		s.showRecoveryCodes(w, r, codes, "New recovery codes; the old ones no longer work.")
	})
}

// changeTwoFactor checks the proof of a change to two-factor sign-in
// (limited like sign-in attempts) and runs do when it holds.
func (s *Server) changeTwoFactor(w http.ResponseWriter, r *http.Request, do func()) {
	a := authFrom(r)
	f := newForm(r.PostForm)
	rerender := func(status int) {
		f.Values.Del("code")
		f.Values.Del("password")
		s.renderAccount(w, r, status, f)
	}
	on, err := store.TwoFactorEnabled(r.Context(), s.catalog.R, a.user.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !on {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	ip, now := s.clientIP(r), time.Now()
	if wait := s.limiter.reserve(a.user.Email, ip, now); wait > 0 {
		tooMany(w, f, "code", wait)
		rerender(http.StatusTooManyRequests)
		return
	}
	if err := s.checkSecondFactorOrPassword(r, f); err != nil {
		if store.ErrorCode(err) != store.EUnauthorized {
			// Only a wrong code or password is a guess.
			s.limiter.release(a.user.Email, ip, now)
		}
		s.failForm(w, r, f, err, rerender)
		return
	}
	s.limiter.release(a.user.Email, ip, now)
	do()
}

// accountPage is the account page's data.
type accountPage struct {
	TwoFactor     bool
	RecoveryLeft  int
	TwoFactorNeed bool // the instance requires it
	// DateFormats are the choices of the dates form; Now shows the
	// user's clock.
	DateFormats []store.DateFormat
	Now         time.Time
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, f *form) {
	a := authFrom(r)
	p := accountPage{DateFormats: store.DateFormats, Now: time.Now()}
	if f.Values.Get("date_format") == "" { // not the dates form sent back
		f.Values.Set("date_format", a.user.DateFormat)
		f.Values.Set("time_zone", a.user.TimeZone)
		f.Values.Set("clock", a.user.Clock)
	}
	var err error
	if p.TwoFactor, err = store.TwoFactorEnabled(r.Context(), s.catalog.R, a.user.ID); err == nil {
		if p.RecoveryLeft, err = store.RecoveryCodesLeft(r.Context(), s.catalog.R, a.user.ID); err == nil {
			p.TwoFactorNeed, err = store.RequireTwoFactor(r.Context(), s.catalog.R)
		}
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Your account")
	v.Form = f
	v.Page = p
	s.render(w, r, status, "account", v)
}

// enforceTwoFactor keeps a signed-in user without two-factor sign-in on
// the set-up page while the instance requires it.
func (s *Server) enforceTwoFactor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/account/2fa", "/account/2fa/enable":
			next.ServeHTTP(w, r)
			return
		}
		var missing bool
		err := s.catalog.R.GetContext(r.Context(), &missing, `SELECT
			coalesce((SELECT CAST(value AS TEXT) = '1' FROM settings WHERE key = 'require_2fa'), 0)
			AND NOT EXISTS (SELECT 1 FROM user_totp WHERE user_id = ? AND enabled_at IS NOT NULL)`, authFrom(r).user.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if missing {
			if r.Method == http.MethodGet {
				s.flash(w, r, "error", "This instance requires two-factor sign-in: set it up to go on.")
			}
			http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// setRequireTwoFactor is the superadmin's switch of the requirement.
func (s *Server) setRequireTwoFactor(w http.ResponseWriter, r *http.Request) {
	on := r.PostForm.Get("require") == "on"
	if err := store.SetRequireTwoFactor(r.Context(), s.catalog, on); err != nil {
		s.serverError(w, r, err)
		return
	}
	msg := "Two-factor sign-in is no longer required."
	if on {
		msg = "Two-factor sign-in is now required: users without it set it up at their next page."
	}
	s.flash(w, r, "success", msg)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}
