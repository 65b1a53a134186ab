package handlers

import (
	"net/http"
	"net/mail"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
)

// Password reset requests allowed per loginWindow: per address asked for
// (an inbox is not flooded) and per client address (no spray).
const (
	maxResetsPerEmail = 3
	maxResetsPerIP    = 10
)

// forgotPage is the "Forgot password?" page: the form, the answer once
// sent, or, on an instance that sends no mail, who can reset a password.
type forgotPage struct {
	NoMail bool
	Sent   bool
}

// resetPage is the page a reset link opens: the new password form for
// Email, or Invalid's explanation.
type resetPage struct {
	Token   string
	Email   string
	Invalid string
}

func (s *Server) renderForgot(w http.ResponseWriter, r *http.Request, status int, f *form, p forgotPage) {
	v := s.newView(r, "Reset your password")
	v.Form = f
	p.NoMail = !s.tenants.SystemMail()
	v.Page = p
	s.render(w, r, status, "forgot_password", v)
}

func (s *Server) forgotPasswordForm(w http.ResponseWriter, r *http.Request) {
	s.renderForgot(w, r, http.StatusOK, newForm(nil), forgotPage{})
}

// forgotPassword sends a reset link to the address when an account has
// it. The answer is the same whether one has or not, and so is its time
// (the mail goes out in the background): no one learns who has an
// account here. Requests are limited per address and per client, counted
// whether an account exists or not.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) {
	f := newForm(r.PostForm)
	if !s.tenants.SystemMail() {
		s.renderForgot(w, r, http.StatusNotFound, f, forgotPage{})
		return
	}
	email, err := store.NormalizeEmail(f.Get("email"))
	if err != nil {
		f.Fail("email", store.ErrorMessage(err))
		s.renderForgot(w, r, http.StatusUnprocessableEntity, f, forgotPage{})
		return
	}
	now := time.Now()
	emailKey, ipKey, _ := limiterKeys(email, s.clientIP(r))
	if wait := s.resets.take(now, keyLimit{emailKey, maxResetsPerEmail}, keyLimit{ipKey, maxResetsPerIP}); wait > 0 {
		f.Fail("email", "Too many reset requests. Try again in "+retryAfter(w, wait)+".")
		s.renderForgot(w, r, http.StatusTooManyRequests, f, forgotPage{})
		return
	}
	u, err := store.UserByEmail(r.Context(), s.catalog.R, email)
	switch {
	case store.ErrorCode(err) == store.ENotFound:
	case err != nil:
		s.serverError(w, r, err)
		return
	default:
		token, err := store.CreatePasswordReset(r.Context(), s.catalog, u.ID, s.clientIP(r), now)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		s.tenants.QueueSystemMail(mail.Address{Name: u.Name, Address: u.Email}, "Reset your Atrium password", resetMailText(s.tenants.PublicURL()+"/reset/"+token))
	}
	s.renderForgot(w, r, http.StatusOK, f, forgotPage{Sent: true})
}

// resetMailText is the body of a password reset message.
func resetMailText(link string) string {
	return "Someone, probably you, asked to reset the password of your Atrium account.\n\n" +
		"To choose a new password, open this link within an hour:\n\n" + link + "\n\n" +
		"It works once. Setting a new password signs your account out everywhere.\n\n" +
		"If you did not ask for this, ignore this message: your password stays as it is.\n"
}

func (s *Server) renderReset(w http.ResponseWriter, r *http.Request, status int, f *form, p resetPage) {
	v := s.newView(r, "Choose a new password")
	v.Form = f
	p.Token = mux.Vars(r)["token"]
	v.Page = p
	s.render(w, r, status, "reset_password", v)
}

// resetPasswordForm is the page a reset link opens.
func (s *Server) resetPasswordForm(w http.ResponseWriter, r *http.Request) {
	u, err := store.PasswordResetUser(r.Context(), s.catalog.R, mux.Vars(r)["token"], time.Now())
	if err != nil {
		s.resetFailed(w, r, newForm(nil), err)
		return
	}
	s.renderReset(w, r, http.StatusOK, newForm(nil), resetPage{Email: u.Email})
}

// resetPassword sets the new password of a reset link's account, ends
// every session of theirs and uses the link up. It signs no one in: the
// user signs in with the new password, and two-factor sign-in, when on,
// still asks for its code.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	f := newForm(r.PostForm)
	token, now := mux.Vars(r)["token"], time.Now()
	if f.Values.Get("new_password") != f.Values.Get("confirm_password") {
		u, err := store.PasswordResetUser(r.Context(), s.catalog.R, token, now)
		if err != nil {
			s.resetFailed(w, r, f, err)
			return
		}
		f.Fail("confirm_password", "The two new passwords differ.")
		s.renderReset(w, r, http.StatusUnprocessableEntity, f, resetPage{Email: u.Email})
		return
	}
	u, err := store.UsePasswordReset(r.Context(), s.catalog, token, f.Values.Get("new_password"), now)
	if err != nil {
		s.resetFailed(w, r, f, err)
		return
	}
	s.log.Info("password reset by email link", "user", u.ID, "ip", s.clientIP(r))
	if a := authFrom(r); a.user != nil && a.user.ID == u.ID {
		s.signOut(w, r) // its session has ended already; drop the cookie too
	}
	s.flash(w, r, "success", "Your password was changed, and your account was signed out everywhere. Sign in with the new password.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// resetFailed answers a reset link that does not work (404 with its
// explanation) or a new password that breaks the rules (422).
func (s *Server) resetFailed(w http.ResponseWriter, r *http.Request, f *form, err error) {
	switch store.ErrorCode(err) {
	case store.ENotFound:
		s.renderReset(w, r, http.StatusNotFound, newForm(nil), resetPage{Invalid: store.ErrorMessage(err)})
	case store.EValidation:
		u, uerr := store.PasswordResetUser(r.Context(), s.catalog.R, mux.Vars(r)["token"], time.Now())
		if uerr != nil {
			s.resetFailed(w, r, f, uerr)
			return
		}
		f.Fail("new_password", store.ErrorMessage(err))
		s.renderReset(w, r, http.StatusUnprocessableEntity, f, resetPage{Email: u.Email})
	default:
		s.serverError(w, r, err)
	}
}
