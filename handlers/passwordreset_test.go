package handlers

import (
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"atrium/outreach/smtptest"
	"atrium/store"
	"atrium/tenant"
)

// mailServer starts a test server whose instance sends its own mail
// through a real SMTP server (STARTTLS and a login), and returns both.
func mailServer(t *testing.T) (*testServer, *smtptest.Server) {
	t.Helper()
	smtp := smtptest.NewServer(t, smtptest.Options{})
	cfg := &tenant.Config{Mail: &tenant.MailConfig{
		SMTP: "smtp://" + smtp.Username + ":" + smtp.Password + "@" + smtp.Addr(),
		From: "Atrium <no-reply@example.com>",
	}}
	ts := newTestServerWith(t, tenant.Options{Config: cfg, SMTPTLS: smtp.ClientTLS, PublicURL: "https://crm.example.com/"})
	return ts, smtp
}

// waitMail waits for the server to have n messages and returns them.
func waitMail(t *testing.T, srv *smtptest.Server, n int) []smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Messages()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages arrived, want %d", len(srv.Messages()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return srv.Messages()
}

var resetLink = regexp.MustCompile(`https://crm\.example\.com(/reset/[A-Za-z0-9_-]{43})\b`)

// resetPath reads a reset message and returns its link's path.
func resetPath(t *testing.T, m smtptest.Message) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Subject") != "Reset your Atrium password" || m.From != "no-reply@example.com" {
		t.Errorf("header %v, envelope from %s", msg.Header, m.From)
	}
	link := resetLink.FindStringSubmatch(string(body))
	if link == nil {
		t.Fatalf("no reset link in %q", body)
	}
	return link[1]
}

func TestPasswordReset_ByEmailLink(t *testing.T) {
	ts, smtp := mailServer(t)
	ana := ts.mustUser(t, "ana@example.com", false)
	old := ts.loggedIn(t, ana.Email) // a session the reset must end
	wantStatus(t, "old session works", old.get("/account"), http.StatusOK)

	c := ts.newClient(t)
	if !strings.Contains(c.get("/login").body, `href="/login/forgot"`) {
		t.Fatal("the sign-in page has no \"Forgot password?\" link")
	}
	token := c.token("/login/forgot")
	ask := func(email string) response {
		return c.post("/login/forgot", token, url.Values{"email": {email}})
	}
	unknown := ask("nobody@example.com")
	known := ask(ana.Email)
	wantStatus(t, "unknown address", unknown, http.StatusOK)
	wantStatus(t, "known address", known, http.StatusOK)
	if !strings.Contains(known.body, "If an account exists for ana@example.com, we sent a link") ||
		strings.ReplaceAll(unknown.body, "nobody@example.com", "ana@example.com") != known.body {
		t.Fatalf("the answers differ, or say nothing:\n%s\n---\n%s", unknown.body, known.body)
	}
	msgs := waitMail(t, smtp, 1)
	time.Sleep(100 * time.Millisecond) // room for a wrong second message
	if msgs = smtp.Messages(); len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != ana.Email {
		t.Fatalf("want one message, to %s: %+v", ana.Email, msgs)
	}
	path := resetPath(t, msgs[0])

	form := c.get(path)
	wantStatus(t, "the link's page", form, http.StatusOK)
	if !strings.Contains(form.body, "For ana@example.com.") {
		t.Fatalf("the page does not say whose password: %.2000s", form.body)
	}
	set := func(pw, again string) response {
		return c.post(path, c.token(path), url.Values{"new_password": {pw}, "confirm_password": {again}})
	}
	wantStatus(t, "passwords differ", set("a brand new password", "another password"), http.StatusUnprocessableEntity)
	short := set("short", "short")
	wantStatus(t, "too short", short, http.StatusUnprocessableEntity)
	if !strings.Contains(short.body, "at least 8 characters") {
		t.Errorf("the password rule is not shown: %.2000s", short.body)
	}
	done := set("a brand new password", "a brand new password")
	wantStatus(t, "set", done, http.StatusSeeOther)
	if done.header.Get("Location") != "/login" {
		t.Errorf("after the reset: %s, want /login (no one is signed in)", done.header.Get("Location"))
	}
	if r := old.get("/account"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("the old session still works: %d", r.status)
	}
	bad := c.post("/login", c.token("/login"), url.Values{"email": {ana.Email}, "password": {testPassword}})
	wantStatus(t, "old password", bad, http.StatusUnauthorized)
	good := c.post("/login", c.token("/login"), url.Values{"email": {ana.Email}, "password": {"a brand new password"}})
	wantStatus(t, "new password", good, http.StatusSeeOther)

	again := ts.newClient(t)
	reuse := again.get(path)
	wantStatus(t, "the used link", reuse, http.StatusNotFound)
	if !strings.Contains(reuse.body, "This password reset link is not valid") || strings.Contains(reuse.body, "new_password") {
		t.Errorf("the used link's page: %.2000s", reuse.body)
	}
	wantStatus(t, "the used link, posted", again.post(path, again.token("/login"), url.Values{"new_password": {"yet another password"}, "confirm_password": {"yet another password"}}), http.StatusNotFound)
	if _, err := store.Authenticate(t.Context(), ts.tenants.Catalog(), ana.Email, "a brand new password"); err != nil {
		t.Errorf("the used link changed the password again: %v", err)
	}
}

func TestPasswordReset_ExpiredAndUnknownLinks(t *testing.T) {
	ts, _ := mailServer(t)
	ana := ts.mustUser(t, "ana@example.com", false)
	cat := ts.tenants.Catalog()
	expired, err := store.CreatePasswordReset(t.Context(), cat, ana.ID, "", time.Now().Add(-store.PasswordResetLifetime-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c := ts.newClient(t)
	for name, path := range map[string]string{"expired": "/reset/" + expired, "unknown": "/reset/" + store.NewToken()} {
		r := c.get(path)
		wantStatus(t, name, r, http.StatusNotFound)
		if !strings.Contains(r.body, "it has expired (links work for an hour)") || !strings.Contains(r.body, `href="/login/forgot"`) {
			t.Errorf("%s: %.2000s", name, r.body)
		}
		wantStatus(t, name+", posted", c.post(path, c.token("/login"), url.Values{"new_password": {"a brand new password"}, "confirm_password": {"a brand new password"}}), http.StatusNotFound)
	}
	if _, err := store.Authenticate(t.Context(), cat, ana.Email, testPassword); err != nil {
		t.Errorf("a dead link changed the password: %v", err)
	}
	// Only the newest link works.
	first, _ := store.CreatePasswordReset(t.Context(), cat, ana.ID, "", time.Now())
	second, _ := store.CreatePasswordReset(t.Context(), cat, ana.ID, "", time.Now())
	wantStatus(t, "an older link", c.get("/reset/"+first), http.StatusNotFound)
	wantStatus(t, "the newest link", c.get("/reset/"+second), http.StatusOK)
}

func TestPasswordReset_RateLimited(t *testing.T) {
	ts, smtp := mailServer(t)
	ts.mustUser(t, "ana@example.com", false)
	c := ts.newClient(t)
	token := c.token("/login/forgot")
	ask := func(email string) response {
		return c.post("/login/forgot", token, url.Values{"email": {email}})
	}
	for i := range maxResetsPerEmail {
		wantStatus(t, "request "+strconv.Itoa(i+1), ask("ana@example.com"), http.StatusOK)
	}
	r := ask("Ana@Example.com")
	wantStatus(t, "one request too many for the address", r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many reset requests. Try again in") {
		t.Errorf("the refusal: %v %.2000s", r.header, r.body)
	}
	waitMail(t, smtp, maxResetsPerEmail)
	// Per client address, whatever the addresses asked for, known or not.
	for i := maxResetsPerEmail; i < maxResetsPerIP; i++ {
		wantStatus(t, "another address", ask("someone"+strconv.Itoa(i)+"@example.com"), http.StatusOK)
	}
	wantStatus(t, "one request too many for the client", ask("someone-else@example.com"), http.StatusTooManyRequests)
	wantStatus(t, "not an address", ask("not an address"), http.StatusUnprocessableEntity)
	time.Sleep(100 * time.Millisecond)
	if n := len(smtp.Messages()); n != maxResetsPerEmail {
		t.Errorf("%d messages sent, want %d", n, maxResetsPerEmail)
	}
}

func TestPasswordReset_NoMailServer(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "ana@example.com", false)
	c := ts.newClient(t)
	if strings.Contains(c.get("/login").body, "/login/forgot") {
		t.Error("the sign-in page offers a reset the instance cannot send")
	}
	r := c.get("/login/forgot")
	wantStatus(t, "the page", r, http.StatusOK)
	if !strings.Contains(r.body, "atrium user password") || strings.Contains(r.body, `name="email"`) {
		t.Errorf("the page does not send to the administrator: %.2000s", r.body)
	}
	wantStatus(t, "a request", c.post("/login/forgot", c.token("/login"), url.Values{"email": {"ana@example.com"}}), http.StatusNotFound)
}
