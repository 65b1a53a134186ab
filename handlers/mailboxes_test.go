package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// mailboxForm is a valid form for an account on the test server ts.
func mailboxForm(ts *smtptest.Server, password string) url.Values {
	return url.Values{"name": {"Sales"}, "from_name": {"Ana Nuñez"}, "from_email": {"ana@acme.example"}, "smtp_host": {ts.Host},
		"smtp_port": {strconv.Itoa(ts.Port)}, "tls_mode": {"none"}, "username": {ts.Username}, "password": {password},
		"daily_limit": {"30"}, "gap_min_seconds": {"90"}, "gap_max_seconds": {"180"}, "ramp_per_day": {"0"},
		"window_start": {"09:00"}, "window_end": {"17:00"}, "window_days": {"1", "2", "3", "4", "5"}, "time_zone": {"Europe/Paris"}}
}

// An admin adds an email account, checks it and sends a test message
// through a real SMTP server; the password is never shown again.
func TestMailboxesUI(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/email-accounts"

	bad := mailboxForm(srv, srv.Password)
	bad.Set("smtp_host", "smtp.example.com")
	r := c.post(base, token, bad)
	wantStatus(t, "plain text to a remote server", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "only a server on this machine") || strings.Contains(r.body, srv.Password) {
		t.Errorf("the form does not say why, or echoes the password: %.3000s", r.body)
	}

	r = c.post(base, token, mailboxForm(srv, srv.Password))
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	body := c.get(page).body
	if !strings.Contains(body, "set, kept encrypted") || strings.Contains(body, srv.Password) || !strings.Contains(body, "Monday to Friday") {
		t.Errorf("the account's page: %.3000s", body)
	}
	if body := c.get(base).body; !strings.Contains(body, "Sales") || !strings.Contains(body, "not checked yet") {
		t.Errorf("the list: %.3000s", body)
	}

	r = c.post(page+"/check", token, nil)
	wantStatus(t, "check", r, http.StatusOK)
	if !strings.Contains(r.body, "The server accepted the login") {
		t.Errorf("check: %.3000s", r.body)
	}
	r = c.post(page+"/test", token, url.Values{"to": {"client@example.org"}})
	wantStatus(t, "test message", r, http.StatusOK)
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].To[0] != "client@example.org" || !strings.Contains(string(msgs[0].Data), "Sales") {
		t.Fatalf("the server received %+v", msgs)
	}
	wantStatus(t, "test message to nobody", c.post(page+"/test", token, url.Values{"to": {"nobody"}}), http.StatusUnprocessableEntity)

	// A wrong password: the server's own words, and the account's health.
	edit := mailboxForm(srv, "wrong")
	edit.Set("state", "active")
	wantStatus(t, "edit", c.post(page, token, edit), http.StatusSeeOther)
	r = c.post(page+"/check", token, nil)
	wantStatus(t, "check with a wrong password", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "Authentication credentials invalid") || !strings.Contains(r.body, "failing") {
		t.Errorf("failed check: %.3000s", r.body)
	}
	// Saving without a password keeps the one set.
	edit.Set("password", "")
	wantStatus(t, "edit without a password", c.post(page, token, edit), http.StatusSeeOther)
	if body := c.get(page).body; !strings.Contains(body, "set, kept encrypted") {
		t.Error("saving without a password dropped the one set")
	}

	// A member sees the account, and cannot change or use it.
	m := f.ts.loggedIn(t, f.member.Email)
	wantStatus(t, "member reads", m.get(page), http.StatusOK)
	wantStatus(t, "member checks", m.post(page+"/check", m.workspaceToken(f.a), nil), http.StatusForbidden)
}

// The API never returns a password; a check answers with the server's
// words.
func TestAPI_Mailboxes(t *testing.T) {
	f := newAPIFixture(t)
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	body := `{"name":"API","from_email":"api@example.com","smtp_host":"127.0.0.1","smtp_port":` + strconv.Itoa(srv.Port) +
		`,"tls_mode":"none","username":"user","password":"smtp-secret-7Zq"}`
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/mailboxes", body)
	wantStatus(t, "create", r, http.StatusCreated)
	var mb store.Mailbox
	mustDecode(t, r.body, &mb)
	if strings.Contains(r.body, "smtp-secret-7Zq") || !strings.Contains(r.body, `"password_set":true`) {
		t.Fatalf("create answered %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/mailboxes/"+mb.ID+"/check", "")
	wantStatus(t, "check", r, http.StatusOK)
	if strings.TrimSpace(r.body) != `{"ok":true}` {
		t.Fatalf("check: %s", r.body)
	}
	wantStatus(t, "wrong password", f.ts.api(t, f.a.key, "PATCH", "/api/v1/mailboxes/"+mb.ID, `{"password":"nope"}`), http.StatusOK)
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/mailboxes/"+mb.ID+"/check", "")
	if !strings.Contains(r.body, `"ok":false`) || !strings.Contains(r.body, "Authentication credentials invalid") {
		t.Fatalf("check with a wrong password: %s", r.body)
	}
	wantAPIError(t, "no TLS to a remote host", f.ts.api(t, f.a.key, "PATCH", "/api/v1/mailboxes/"+mb.ID, `{"smtp_host":"smtp.example.com"}`),
		http.StatusUnprocessableEntity, "validation", "tls_mode")
	wantAPIError(t, "test to nobody", f.ts.api(t, f.a.key, "POST", "/api/v1/mailboxes/"+mb.ID+"/test", `{"to":"nobody"}`),
		http.StatusUnprocessableEntity, "validation", "to")
	wantAPIError(t, "B's key", f.ts.api(t, f.b.key, "GET", "/api/v1/mailboxes/"+mb.ID, ""), http.StatusNotFound, "not_found", "")
}
