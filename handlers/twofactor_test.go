package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"atrium/store"
)

var (
	secretOnPage   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryOnPage = regexp.MustCompile(`<li>([a-z2-7]{5}-[a-z2-7]{5})</li>`)
)

// codeAt is the TOTP code of secret for the step of t.
func codeAt(tb testing.TB, secret string, t time.Time) string {
	tb.Helper()
	c, err := totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// wrongCode is a well-formed code that is none of the accepted ones now.
func wrongCode(tb testing.TB, secret string) string {
	now := time.Now()
	ok := map[string]bool{}
	for _, d := range []time.Duration{-60, -30, 0, 30, 60} {
		ok[codeAt(tb, secret, now.Add(d*time.Second))] = true
	}
	for i := 0; ; i++ {
		c := strconv.Itoa(100000 + i)
		if !ok[c] {
			return c
		}
	}
}

// enableTwoFactor sets up two-factor sign-in for the signed-in client and
// returns the secret and the recovery codes.
func enableTwoFactor(t *testing.T, c *client) (secret string, codes []string) {
	t.Helper()
	page := c.get("/account/2fa")
	wantStatus(t, "set-up page", page, http.StatusOK)
	m := secretOnPage.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no secret on the set-up page:\n%s", page.body)
	}
	secret = m[1]
	if !strings.Contains(page.body, "otpauth://totp/") || !strings.Contains(page.body, "data:image/png;base64,") {
		t.Fatal("no otpauth URI or QR code image on the set-up page")
	}
	if again := secretOnPage.FindStringSubmatch(c.get("/account/2fa").body); again == nil || again[1] != secret {
		t.Fatal("the pending secret changed on reload")
	}
	token := c.token("/account/2fa")
	wantStatus(t, "malformed code", c.post("/account/2fa/enable", token, url.Values{"code": {"12ab"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "wrong code", c.post("/account/2fa/enable", token, url.Values{"code": {wrongCode(t, secret)}}), http.StatusUnauthorized)
	on := c.post("/account/2fa/enable", token, url.Values{"code": {codeAt(t, secret, time.Now())}})
	wantStatus(t, "right code", on, http.StatusOK)
	for _, m := range recoveryOnPage.FindAllStringSubmatch(on.body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %d, want 10", len(codes))
	}
	if on.header.Get("Cache-Control") != "no-store" {
		t.Error("recovery codes page may be cached")
	}
	return secret, codes
}

// passwordStep signs in with the password and expects the code's page.
func passwordStep(t *testing.T, c *client, email string) string {
	t.Helper()
	r := c.post("/login", c.token("/login"), url.Values{"email": {email}, "password": {testPassword}, "next": {"/account"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login/2fa" {
		t.Fatalf("password step: status %d to %q, want 303 to /login/2fa", r.status, r.header.Get("Location"))
	}
	page := c.get("/login/2fa")
	wantStatus(t, "code page", page, http.StatusOK)
	return c.token("/login/2fa")
}

func TestTwoFactor_SignIn(t *testing.T) {
	ts := newTestServer(t)
	u := ts.mustUser(t, "ann@example.com", false)
	ws := ts.mustWorkspace(t, "Acme", u.Email)
	secret, codes := enableTwoFactor(t, ts.loggedIn(t, u.Email))
	c := ts.newClient(t)
	token := passwordStep(t, c, u.Email)
	// Half signed in: nothing else is reachable.
	for _, path := range []string{"/", "/account", "/w/" + ws + "/", "/w/" + ws + "/contacts"} {
		if r := c.get(path); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
			t.Errorf("GET %s half signed in: status %d to %q, want a redirect to sign in", path, r.status, r.header.Get("Location"))
		}
	}
	wantStatus(t, "malformed code", c.post("/login/2fa", token, url.Values{"code": {"12 34"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "empty code", c.post("/login/2fa", token, url.Values{"code": {""}}), http.StatusUnprocessableEntity)
	wantStatus(t, "wrong code", c.post("/login/2fa", token, url.Values{"code": {wrongCode(t, secret)}}), http.StatusUnauthorized)
	// The code that turned it on (this step's, or the next's after
	// loggedInWithCode) is spent: the next step's code signs in.
	next := codeAt(t, secret, time.Now().Add(30*time.Second))
	r := c.post("/login/2fa", token, url.Values{"code": {next}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("right code: status %d to %q, want 303 to /account", r.status, r.header.Get("Location"))
	}
	wantStatus(t, "signed in", c.get("/account"), http.StatusOK)

	// Replay: the same code, again, within its window, is refused.
	c2 := ts.newClient(t)
	token2 := passwordStep(t, c2, u.Email)
	replay := c2.post("/login/2fa", token2, url.Values{"code": {next}})
	wantStatus(t, "replayed code", replay, http.StatusUnauthorized)
	if !strings.Contains(replay.body, "used already") {
		t.Error("the replay is not explained")
	}
	// A recovery code signs in once, in any case and spacing.
	rc := strings.ToUpper(strings.Replace(codes[0], "-", " ", 1))
	r = c2.post("/login/2fa", token2, url.Values{"code": {rc}})
	wantStatus(t, "recovery code", r, http.StatusSeeOther)
	if !strings.Contains(c2.get("/account").body, "9 recovery codes left") {
		t.Error("the recovery code was not spent")
	}
	c3 := ts.newClient(t)
	token3 := passwordStep(t, c3, u.Email)
	wantStatus(t, "recovery code again", c3.post("/login/2fa", token3, url.Values{"code": {codes[0]}}), http.StatusUnauthorized)

	// A password reset ends a half-signed-in state as it ends sessions.
	c5 := ts.newClient(t)
	token5 := passwordStep(t, c5, u.Email)
	if _, _, err := store.ResetPassword(t.Context(), ts.tenants.Catalog(), u.Email, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if r := c5.post("/login/2fa", token5, url.Values{"code": {codes[2]}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("code after a password reset: status %d to %q, want a redirect to sign in", r.status, r.header.Get("Location"))
	}

	// Without a password step there is no code page.
	c4 := ts.newClient(t)
	if r := c4.get("/login/2fa"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("code page without a password: status %d to %q", r.status, r.header.Get("Location"))
	}
	if r := c4.post("/login/2fa", c4.token("/login"), url.Values{"code": {codes[1]}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("code without a password: status %d to %q", r.status, r.header.Get("Location"))
	}
}

// loggedInWithCode signs in with the password and the next step's code.
func (ts *testServer) loggedInWithCode(t *testing.T, email, secret string) *client {
	t.Helper()
	c := ts.newClient(t)
	token := passwordStep(t, c, email)
	r := c.post("/login/2fa", token, url.Values{"code": {codeAt(t, secret, time.Now().Add(30*time.Second))}})
	wantStatus(t, "sign-in with a code", r, http.StatusSeeOther)
	return c
}

// TestTwoFactor_CodesAreLimited: wrong codes after a right password are
// limited like passwords; a right password does not reset the count.
func TestTwoFactor_CodesAreLimited(t *testing.T) {
	ts := newTestServer(t)
	u := ts.mustUser(t, "ann@example.com", false)
	secret, _ := enableTwoFactor(t, ts.loggedIn(t, u.Email))
	c := ts.newClient(t)
	limited := false
	for i := 0; i < 3*maxFailuresPerPair && !limited; i++ {
		r := c.post("/login", c.token("/login"), url.Values{"email": {u.Email}, "password": {testPassword}})
		if r.status == http.StatusTooManyRequests {
			limited = true
			break
		}
		wantStatus(t, "password step", r, http.StatusSeeOther)
		r = c.post("/login/2fa", c.token("/login/2fa"), url.Values{"code": {wrongCode(t, secret)}})
		limited = r.status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("wrong codes were never limited, password after password")
	}
}

func TestTwoFactor_Disable(t *testing.T) {
	ts := newTestServer(t)
	u := ts.mustUser(t, "ann@example.com", false)
	c := ts.loggedIn(t, u.Email)
	secret, _ := enableTwoFactor(t, c)
	token := c.token("/account")
	wantStatus(t, "nothing given", c.post("/account/2fa/disable", token, nil), http.StatusUnprocessableEntity)
	wantStatus(t, "wrong password", c.post("/account/2fa/disable", token, url.Values{"password": {"not the password"}}), http.StatusUnauthorized)
	wantStatus(t, "wrong code", c.post("/account/2fa/disable", token, url.Values{"code": {wrongCode(t, secret)}}), http.StatusUnauthorized)
	wantStatus(t, "malformed code", c.post("/account/2fa/disable", token, url.Values{"code": {"abc"}}), http.StatusUnprocessableEntity)
	// New recovery codes with a current code: the old ones stop working.
	fresh := c.post("/account/2fa/recovery-codes", token, url.Values{"code": {codeAt(t, secret, time.Now().Add(30*time.Second))}})
	wantStatus(t, "new recovery codes", fresh, http.StatusOK)
	if n := len(recoveryOnPage.FindAllString(fresh.body, -1)); n != 10 {
		t.Fatalf("new recovery codes shown: %d", n)
	}
	r := c.post("/account/2fa/disable", token, url.Values{"password": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("disable with the password: status %d to %q", r.status, r.header.Get("Location"))
	}
	if !strings.Contains(c.get("/account").body, "Set up two-factor sign-in") {
		t.Error("still on after disabling")
	}
	ts.loggedIn(t, u.Email) // the password alone signs in again
}

func TestTwoFactor_Enforced(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.mustUser(t, "root@example.com", true)
	u := ts.mustUser(t, "ann@example.com", false)
	ws := ts.mustWorkspace(t, "Acme", u.Email)
	key, _ := ts.mustAPIKey(t, ws, "read")

	// Only a superadmin may switch it.
	uc := ts.loggedIn(t, u.Email)
	wantStatus(t, "a user switching the requirement", uc.post("/admin/two-factor", uc.token("/account"), url.Values{"require": {"on"}}), http.StatusNotFound)
	ac := ts.loggedIn(t, admin.Email)
	enableTwoFactor(t, ac)
	wantStatus(t, "superadmin switching it on", ac.post("/admin/two-factor", ac.token("/account"), url.Values{"require": {"on"}}), http.StatusSeeOther)

	// The user, signed in before and after, reaches only the set-up page.
	for _, c := range []*client{uc, ts.loggedIn(t, u.Email)} {
		for _, path := range []string{"/", "/account", "/w/" + ws + "/", "/w/" + ws + "/contacts", "/console"} {
			if r := c.get(path); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account/2fa" {
				t.Errorf("GET %s without 2FA: status %d to %q, want /account/2fa", path, r.status, r.header.Get("Location"))
			}
		}
		if r := c.post("/w/"+ws+"/contacts", c.token("/account/2fa"), url.Values{"first_name": {"X"}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account/2fa" {
			t.Errorf("POST without 2FA: status %d to %q", r.status, r.header.Get("Location"))
		}
	}
	// API keys are not affected.
	wantStatus(t, "API with a key", ts.api(t, key, http.MethodGet, "/api/v1/workspace", ""), http.StatusOK)

	secret, _ := enableTwoFactor(t, uc)
	wantStatus(t, "the workspace after set-up", uc.get("/w/"+ws+"/"), http.StatusOK)
	// It cannot be turned off while required.
	wantStatus(t, "disable while required", uc.post("/account/2fa/disable", uc.token("/account"), url.Values{"password": {testPassword}}), http.StatusForbidden)
	// And signing in now asks for the code.
	ts.loggedInWithCode(t, u.Email, secret)

	if r := ac.post("/admin/two-factor", ac.token("/account"), nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("superadmin switching it off: status %d to %q", r.status, r.header.Get("Location"))
	}
	wantStatus(t, "disable once no longer required", uc.post("/account/2fa/disable", uc.token("/account"), url.Values{"password": {testPassword}}), http.StatusSeeOther)
	wantStatus(t, "the user without 2FA once off", uc.get("/w/"+ws+"/"), http.StatusOK)
}
