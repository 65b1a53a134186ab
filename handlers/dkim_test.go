package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// keyBody is a line from the middle of a PEM key: what a leak would show.
func keyBody(tb testing.TB, pemText string) string {
	tb.Helper()
	lines := strings.Split(strings.TrimSpace(pemText), "\n")
	if len(lines) < 3 {
		tb.Fatalf("not a PEM key: %q", pemText)
	}
	return lines[1]
}

// noKeyIn fails when a page or an answer shows a private key.
func noKeyIn(tb testing.TB, what, body, pemText string) {
	tb.Helper()
	line := keyBody(tb, pemText)
	if strings.Contains(body, line) || strings.Contains(body, strings.ReplaceAll(line, "+", "&#43;")) ||
		strings.Contains(body, strings.ReplaceAll(line, "/", `\/`)) {
		tb.Errorf("%s shows the private key: %.3000s", what, body)
	}
}

// verifies checks a message's DKIM signature against record, published
// at name (no network).
func verifies(data []byte, name, record string) error {
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(n string) ([]string, error) {
		if n == name {
			return []string{record}, nil
		}
		return nil, errors.New("no record at " + n)
	}})
	if err != nil {
		return err
	}
	if len(vs) != 1 {
		return errors.New(strconv.Itoa(len(vs)) + " signatures")
	}
	return vs[0].Err
}

// An admin pastes a DKIM key or has one generated; the account's page
// shows the record to publish, never the key; errors name the field.
func TestMailboxesUI_DKIM(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/email-accounts"
	key, err := store.GenerateDKIMKey(store.DKIMRSA)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ErrInvalidPEM", func(t *testing.T) {
		form := mailboxForm(srv, srv.Password)
		form.Set("dkim_selector", "s1")
		form.Set("dkim_private_key", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
		r := c.post(base, token, form)
		wantStatus(t, "a broken key", r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.body, `id="e-dkim_private_key"`) || !strings.Contains(r.body, "cannot be read") {
			t.Errorf("the form does not say what is wrong with the key: %.4000s", r.body)
		}
		// A good key refused for another field is not sent back either.
		form.Set("dkim_selector", "not a selector")
		form.Set("dkim_private_key", key)
		r = c.post(base, token, form)
		wantStatus(t, "a bad selector", r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.body, `id="e-dkim_selector"`) {
			t.Errorf("no selector error: %.4000s", r.body)
		}
		noKeyIn(t, "the refused form", r.body, key)
	})

	form := mailboxForm(srv, srv.Password)
	form.Set("dkim_selector", "s1")
	form.Set("dkim_private_key", key)
	r := c.post(base, token, form)
	wantStatus(t, "create with a key", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	body := c.get(page).body
	if !strings.Contains(body, "s1._domainkey.acme.example") || !strings.Contains(body, "v=DKIM1; k=rsa; p=") {
		t.Errorf("the account's page does not show the record: %.4000s", body)
	}
	noKeyIn(t, "the account's page", body, key)
	edit := c.get(page + "/edit").body
	if !strings.Contains(edit, `value="s1"`) || !strings.Contains(edit, "Keep the key set") {
		t.Errorf("the edit form: %.4000s", edit)
	}
	noKeyIn(t, "the edit form", edit, key)

	// The test message is signed for the from address's domain.
	wantStatus(t, "test message", c.post(page+"/test", token, map[string][]string{"to": {"client@example.org"}}), http.StatusOK)
	msgs := srv.Messages()
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Data, []byte("DKIM-Signature:")) || !bytes.Contains(msgs[0].Data, []byte("d=acme.example")) {
		t.Fatalf("the test message is not signed: %+v", msgs)
	}

	// Generate: a new Ed25519 key, under the selector given.
	form.Set("state", "active")
	form.Set("dkim_private_key", "")
	form.Set("dkim_selector", "gen")
	form.Set("dkim_generate", "ed25519")
	wantStatus(t, "generate", c.post(page, token, form), http.StatusSeeOther)
	if body := c.get(page).body; !strings.Contains(body, "gen._domainkey.acme.example") || !strings.Contains(body, "k=ed25519") {
		t.Errorf("after generating: %.4000s", body)
	}
	audit := c.get("/w/" + f.a + "/audit").body
	if !strings.Contains(audit, "DKIM selector") || !strings.Contains(audit, "DKIM private key") || strings.Contains(audit, "PRIVATE KEY") || strings.Contains(audit, "sealed") {
		t.Errorf("the audit log: %.4000s", audit)
	}
	noKeyIn(t, "the audit log", audit, key)

	// An empty selector sends unsigned again.
	form.Set("dkim_selector", "")
	form.Set("dkim_generate", "")
	wantStatus(t, "turn off", c.post(page, token, form), http.StatusSeeOther)
	if body := c.get(page).body; !strings.Contains(body, "Messages go out unsigned") {
		t.Errorf("after turning DKIM off: %.4000s", body)
	}
}

// Through the API the key is write-only: dkim_set and the record come
// back, the key never; a bad key is a validation error on its field.
func TestAPI_MailboxesDKIM(t *testing.T) {
	f := newAPIFixture(t)
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	key, err := store.GenerateDKIMKey(store.DKIMEd25519)
	if err != nil {
		t.Fatal(err)
	}
	quoted, _ := json.Marshal(key)
	body := `{"name":"API","from_email":"api@example.com","smtp_host":"127.0.0.1","smtp_port":` + strconv.Itoa(srv.Port) +
		`,"tls_mode":"none","username":"` + srv.Username + `","password":"` + srv.Password + `","dkim_selector":"s1","dkim_private_key":` + string(quoted) + `}`
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/mailboxes", body)
	wantStatus(t, "create", r, http.StatusCreated)
	noKeyIn(t, "create", r.body, key)
	var mb struct {
		ID           string `json:"id"`
		DKIMSet      bool   `json:"dkim_set"`
		DKIMSelector string `json:"dkim_selector"`
		DKIMRecord   string `json:"dkim_record"`
	}
	mustDecode(t, r.body, &mb)
	if !mb.DKIMSet || mb.DKIMSelector != "s1" || !strings.HasPrefix(mb.DKIMRecord, "v=DKIM1; k=ed25519; p=") || strings.Contains(r.body, "dkim_key") {
		t.Fatalf("create answered %s", r.body)
	}
	for _, path := range []string{"/api/v1/mailboxes", "/api/v1/mailboxes/" + mb.ID} {
		noKeyIn(t, path, f.ts.api(t, f.a.key, "GET", path, "").body, key)
	}

	r = f.ts.api(t, f.a.key, "POST", "/api/v1/mailboxes/"+mb.ID+"/test", `{"to":"me@example.org"}`)
	if strings.TrimSpace(r.body) != `{"ok":true}` {
		t.Fatalf("test message: %s", r.body)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || verifies(msgs[0].Data, "s1._domainkey.example.com", mb.DKIMRecord) != nil {
		t.Fatalf("the test message does not verify against the record: %v", verifies(srv.Messages()[0].Data, "s1._domainkey.example.com", mb.DKIMRecord))
	}

	wantAPIError(t, "not PEM", f.ts.api(t, f.a.key, "PATCH", "/api/v1/mailboxes/"+mb.ID, `{"dkim_private_key":"hello"}`),
		http.StatusUnprocessableEntity, "validation", "dkim_private_key")
	wantAPIError(t, "unknown kind", f.ts.api(t, f.a.key, "PATCH", "/api/v1/mailboxes/"+mb.ID, `{"dkim_generate":"dsa"}`),
		http.StatusUnprocessableEntity, "validation", "dkim_generate")
	r = f.ts.api(t, f.a.key, "PATCH", "/api/v1/mailboxes/"+mb.ID, `{"dkim_generate":"rsa","dkim_selector":"s2"}`)
	wantStatus(t, "generate", r, http.StatusOK)
	mustDecode(t, r.body, &mb)
	if !mb.DKIMSet || mb.DKIMSelector != "s2" || !strings.HasPrefix(mb.DKIMRecord, "v=DKIM1; k=rsa; p=") || strings.Contains(r.body, "PRIVATE") {
		t.Fatalf("generate answered %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "PATCH", "/api/v1/mailboxes/"+mb.ID, `{"dkim_selector":""}`)
	wantStatus(t, "turn off", r, http.StatusOK)
	if !strings.Contains(r.body, `"dkim_set":false`) || !strings.Contains(r.body, `"dkim_record":""`) {
		t.Fatalf("turning DKIM off answered %s", r.body)
	}
}
