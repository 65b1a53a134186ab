package handlers

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"atrium/outreach/imaptest"
	"atrium/store"
)

// mustReply stores an answer of kind to the ledger message messageID, as
// the IMAP poll does, and returns its id.
func mustReply(tb testing.TB, db *store.DB, messageID, kind, text string) string {
	tb.Helper()
	m, err := store.GetMessage(tb.Context(), db, messageID)
	if err != nil {
		tb.Fatal(err)
	}
	mb, err := store.GetMailbox(tb.Context(), db, m.MailboxID)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	out, err := store.RecordInbound(tb.Context(), db, m.MailboxID, 1, mb.IMAPLastUID+1, store.Inbound{Kind: kind, MessageID: store.NewID() + "@client.example",
		FromEmail: m.ToEmail, FromName: "Ana Client", Subject: "Re: " + m.Subject, Text: text, Refs: []string{m.MessageID}, ReceivedAt: now}, now)
	if err != nil || out.ReplyID == "" {
		tb.Fatalf("reply: %+v, %v", out, err)
	}
	return out.ReplyID
}

// mustAPIReply stores an automatic reply to w's ledger message.
func (ts *testServer) mustAPIReply(tb testing.TB, w *apiWorkspace) string {
	tb.Helper()
	l, err := ts.tenants.Acquire(tb.Context(), w.id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	return mustReply(tb, l.DB, w.message, store.ReplyAuto, w.word+" is away")
}

// The inbox lists the replies newest first, marks the automatic ones, and
// a member sorts and handles them; handled ones leave the default view.
// Another workspace's reply is not found.
func TestInbox(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	person := mustReply(t, l.DB, f.message, store.ReplyPerson, "Thursday works <b>for me</b>")
	l.Release()

	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	inbox := "/w/" + f.a + "/inbox"
	body := c.get(inbox).body
	if strings.Index(body, "Thursday works") < 0 || strings.Index(body, "Out of office") < 0 ||
		strings.Index(body, "Thursday works") > strings.Index(body, "Out of office") {
		t.Fatalf("the inbox does not list both replies, newest first: %.4000s", body)
	}
	if !strings.Contains(body, "To handle (2)") || !strings.Contains(body, "automatic reply") || !strings.Contains(body, "&lt;b&gt;for me&lt;/b&gt;") || !strings.Contains(body, "Launch</a>, step 1") {
		t.Fatalf("the inbox does not mark the auto-reply, escape the text or name the sequence and step: %.4000s", body)
	}

	// The reply is on the contact's timeline, as text.
	if body := c.get("/w/" + f.a + "/contacts/" + f.contact).body; !strings.Contains(body, ">replied<") ||
		!strings.Contains(body, "Thursday works &lt;b&gt;for me&lt;/b&gt;") {
		t.Fatalf("the contact's timeline does not show the reply: %.6000s", body)
	}

	r := c.post(inbox+"/"+person, token, url.Values{"category": {"interested"}})
	wantStatus(t, "set the category", r, http.StatusSeeOther)
	r = c.post(inbox+"/"+person, token, url.Values{"handled": {"true"}, "show": {"all"}})
	wantStatus(t, "mark handled", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != inbox+"?show=all" {
		t.Fatalf("back to %q, want the view it came from", loc)
	}
	if body := c.get(inbox).body; strings.Contains(body, "Thursday works") || !strings.Contains(body, "Out of office") {
		t.Fatalf("the handled reply is still to handle: %.4000s", body)
	}
	if body := c.get(inbox + "?show=all").body; !strings.Contains(body, "Thursday works") || !strings.Contains(body, "Interested") ||
		!strings.Contains(body, "Mark as not handled") {
		t.Fatalf("all replies: %.4000s", body)
	}
	wantStatus(t, "an unknown category", c.post(inbox+"/"+person, token, url.Values{"category": {"spam"}}), http.StatusUnprocessableEntity)

	// Handling the last one leaves the empty state.
	wantStatus(t, "mark handled", c.post(inbox+"/"+f.reply, token, url.Values{"handled": {"true"}}), http.StatusSeeOther)
	if body := c.get(inbox).body; !strings.Contains(body, "Nothing to handle") {
		t.Fatalf("no empty state: %.4000s", body)
	}

	// A's reply through B's inbox is not found, and changes nothing.
	wantStatus(t, "A's reply in B", c.post("/w/"+f.b+"/inbox/"+person, c.workspaceToken(f.b), url.Values{"handled": {"false"}}), http.StatusNotFound)
	owner := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "A's reply in B, by their owner", owner.post("/w/"+f.b+"/inbox/"+person, owner.workspaceToken(f.b), url.Values{"handled": {"false"}}), http.StatusNotFound)
	if body := c.get(inbox).body; strings.Contains(body, "Thursday works") {
		t.Fatal("a request in B changed A's reply")
	}
	if body := owner.get("/w/" + f.b + "/inbox?show=all").body; strings.Contains(body, "Thursday works") || !strings.Contains(body, "No replies yet") {
		t.Fatalf("B's inbox shows A's reply: %.4000s", body)
	}

	// A viewer reads and cannot change.
	v := f.ts.loggedIn(t, f.viewer.Email)
	wantStatus(t, "viewer reads", v.get(inbox), http.StatusOK)
	wantStatus(t, "viewer handles", v.post(inbox+"/"+person, v.workspaceToken(f.a), url.Values{"handled": {"false"}}), http.StatusForbidden)
}

// The API lists, reads and sorts replies; another workspace's is 404.
func TestAPI_Replies(t *testing.T) {
	f := newAPIFixture(t)
	r := f.ts.api(t, f.a.key, "GET", "/api/v1/replies?handled=false", "")
	wantStatus(t, "list", r, http.StatusOK)
	if !strings.Contains(r.body, f.a.reply) || strings.Contains(r.body, f.b.reply) || !strings.Contains(r.body, `"kind":"auto_reply"`) {
		t.Fatalf("list: %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "PATCH", "/api/v1/replies/"+f.a.reply, `{"handled":true,"category":"not_now"}`)
	wantStatus(t, "patch", r, http.StatusOK)
	if !strings.Contains(r.body, `"handled":true`) || !strings.Contains(r.body, `"category":"not_now"`) {
		t.Fatalf("patch: %s", r.body)
	}
	if r := f.ts.api(t, f.a.key, "GET", "/api/v1/replies?handled=false", ""); strings.Contains(r.body, f.a.reply) {
		t.Fatalf("a handled reply is listed as unhandled: %s", r.body)
	}
	wantAPIError(t, "bad category", f.ts.api(t, f.a.key, "PATCH", "/api/v1/replies/"+f.a.reply, `{"category":"spam"}`),
		http.StatusUnprocessableEntity, "validation", "category")
	wantAPIError(t, "B's reply", f.ts.api(t, f.a.key, "PATCH", "/api/v1/replies/"+f.b.reply, `{"handled":true}`), http.StatusNotFound, "not_found", "")
}

// The IMAP settings are in the form and the API; the password is never
// shown nor returned, and no TLS is for this machine only.
func TestMailboxIMAPSettings(t *testing.T) {
	f := newAPIFixture(t)
	path := "/api/v1/mailboxes/" + f.a.mailbox
	wantAPIError(t, "no TLS to a remote IMAP host", f.ts.api(t, f.a.key, "PATCH", path, `{"imap_host":"imap.example.com","imap_tls":"none","imap_username":"u"}`),
		http.StatusUnprocessableEntity, "validation", "imap_tls")
	wantAPIError(t, "no username", f.ts.api(t, f.a.key, "PATCH", path, `{"imap_host":"imap.example.com"}`),
		http.StatusUnprocessableEntity, "validation", "imap_username")
	r := f.ts.api(t, f.a.key, "PATCH", path, `{"imap_host":"imap.example.com","imap_username":"ana","imap_password":"imap-secret-9Xw"}`)
	wantStatus(t, "set IMAP", r, http.StatusOK)
	if strings.Contains(r.body, "imap-secret-9Xw") || !strings.Contains(r.body, `"imap_password_set":true`) || !strings.Contains(r.body, `"imap_port":993`) ||
		!strings.Contains(r.body, `"imap_folder":"INBOX"`) || !strings.Contains(r.body, `"imap_last_error":""`) {
		t.Fatalf("answer: %s", r.body)
	}

	ui := newFixture(t)
	c := ui.ts.loggedIn(t, ui.admin.Email)
	page := "/w/" + ui.a + "/email-accounts/" + ui.mailbox
	form := ui.formFor(route{})
	form.Set("name", "Outbound")
	form.Set("from_email", "outbound@acme.example")
	form.Set("smtp_port", "1")
	form.Set("state", "active")
	form.Set("imap_host", "127.0.0.1")
	form.Set("imap_tls", "none")
	form.Set("imap_port", "")
	form.Set("imap_username", "ana")
	form.Set("imap_password", "imap-secret-4Kp")
	wantStatus(t, "save IMAP settings", c.post(page, c.workspaceToken(ui.a), form), http.StatusSeeOther)
	body := c.get(page).body
	if !strings.Contains(body, "127.0.0.1:143") || !strings.Contains(body, "Replies and bounces") || strings.Contains(body, "imap-secret-4Kp") {
		t.Fatalf("the account's page: %.4000s", body)
	}
	if edit := c.get(page + "/edit").body; strings.Contains(edit, "imap-secret-4Kp") || !strings.Contains(edit, `value="ana"`) {
		t.Fatalf("the edit form: %.4000s", edit)
	}

	// The health of the last poll shows on the page and the list.
	l, err := ui.ts.tenants.Acquire(t.Context(), ui.a)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = store.RecordPoll(t.Context(), l.DB, ui.mailbox, "127.0.0.1:143 refused the login: wrong password", now, now.Add(2*time.Minute))
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	if body := c.get(page).body; !strings.Contains(body, "refused the login: wrong password") || !strings.Contains(body, "failing") {
		t.Fatalf("the account's page does not show the poll's error: %.4000s", body)
	}
	if body := c.get("/w/" + ui.a + "/email-accounts").body; !strings.Contains(body, "replies: <span class=\"badge state-deleting\"") {
		t.Fatalf("the list does not show the failing poll: %.4000s", body)
	}
}

// memIMAP serves an in-memory IMAP account on loopback; it returns its
// port and the account.
func memIMAP(t *testing.T, username, password string) (int, *imapmemserver.User) {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(username, password)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return imaptest.NewSession(u), nil, nil
		},
		InsecureAuth: true, Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}, Logger: log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, u
}

// "Read replies now" reads the folder through a real IMAP conversation
// and says what came of it, or the server's words.
func TestMailbox_ReadRepliesNow(t *testing.T) {
	f := newFixture(t)
	port, account := memIMAP(t, "ana", "imap-pw")
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.GetMessage(t.Context(), l.DB, f.message)
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: Ana <" + m.ToEmail + ">\r\nSubject: Re: " + m.Subject + "\r\nIn-Reply-To: <" + m.MessageID + ">\r\nMessage-ID: <r1@client.example>\r\n\r\nYes, let us talk.\r\n"
	if _, err := account.Append("INBOX", strings.NewReader(raw), &imap.AppendOptions{Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	page := "/w/" + f.a + "/email-accounts/" + f.mailbox
	wantStatus(t, "read without IMAP settings", c.post(page+"/poll", token, nil), http.StatusUnprocessableEntity)

	form := f.formFor(route{})
	for k, v := range map[string]string{"name": "Outbound", "from_email": "outbound@acme.example", "smtp_port": "1", "state": "active",
		"imap_host": "127.0.0.1", "imap_tls": "none", "imap_port": strconv.Itoa(port), "imap_username": "ana", "imap_password": "wrong"} {
		form.Set(k, v)
	}
	wantStatus(t, "save IMAP settings", c.post(page, token, form), http.StatusSeeOther)
	r := c.post(page+"/poll", token, nil)
	wantStatus(t, "read with a wrong password", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "The IMAP folder could not be read") || !strings.Contains(r.body, "refused the login") {
		t.Fatalf("a wrong password: %.4000s", r.body)
	}
	form.Set("imap_password", "imap-pw")
	wantStatus(t, "save the right password", c.post(page, token, form), http.StatusSeeOther)
	r = c.post(page+"/poll", token, nil)
	wantStatus(t, "read", r, http.StatusOK)
	if !strings.Contains(r.body, "The folder was read: 1 new message, 1 reply") {
		t.Fatalf("read: %.4000s", r.body)
	}
	if body := c.get("/w/" + f.a + "/inbox").body; !strings.Contains(body, "Yes, let us talk.") {
		t.Fatalf("the reply is not in the inbox: %.4000s", body)
	}
	if r := c.post(page+"/poll", token, nil); !strings.Contains(r.body, "The folder was read: 0 new messages") {
		t.Fatalf("a second read: %.4000s", r.body)
	}
}

// A mailbox and a sequence paused by bounce protection say why on their
// pages; the sequence lists its bounced messages.
func TestBounceProtectionShown(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	why := store.BounceProtectionReason(7, 100)
	for _, stmt := range []string{`UPDATE sequences SET state = 'paused', paused_reason = ?1`, `UPDATE mailboxes SET state = 'paused', paused_reason = ?1`,
		`UPDATE messages SET state = 'bounced', error = '5.1.1 User unknown'`} {
		if _, err := l.DB.W.Exec(stmt, why); err != nil {
			t.Fatal(err)
		}
	}
	l.Release()
	c := f.ts.loggedIn(t, f.viewer.Email)
	seq := "/w/" + f.a + "/sequences/" + f.sequence
	if body := c.get(seq).body; !strings.Contains(body, "Paused by bounce protection: 7 of the last 100 sends bounced.") || !strings.Contains(body, "bounced (1)") {
		t.Fatalf("the sequence page: %.5000s", body)
	}
	if body := c.get(seq + "?messages=bounced").body; !strings.Contains(body, "5.1.1 User unknown") {
		t.Fatalf("the bounced messages: %.5000s", body)
	}
	for _, page := range []string{"/w/" + f.a + "/email-accounts/" + f.mailbox, "/w/" + f.a + "/email-accounts"} {
		if body := c.get(page).body; !strings.Contains(body, why) {
			t.Fatalf("%s does not say why the account is paused: %.5000s", page, body)
		}
	}
	// A person resuming the sequence clears the reason.
	owner := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "activate", owner.post(seq+"/state", owner.workspaceToken(f.a), url.Values{"state": {"active"}}), http.StatusSeeOther)
	if body := c.get(seq).body; strings.Contains(body, "Paused by") {
		t.Fatal("the reason stays after a person activated the sequence")
	}
}

// An out-of-office stops nothing, unless a person says so in the inbox.
func TestInbox_StopOnAutoReply(t *testing.T) {
	f := newFixture(t)
	state := func() string {
		l, err := f.ts.tenants.Acquire(t.Context(), f.a)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		e, err := store.GetEnrollment(t.Context(), l.DB, f.enrollment)
		if err != nil {
			t.Fatal(err)
		}
		return e.State + ":" + e.StopReason
	}
	if got := state(); got != "active:" {
		t.Fatalf("the fixture's auto-reply left Ana's enrolment %s", got)
	}
	c := f.ts.loggedIn(t, f.member.Email)
	inbox := "/w/" + f.a + "/inbox"
	if body := c.get(inbox).body; !strings.Contains(body, "Stop their sequences") {
		t.Fatalf("no way to stop on an automatic reply: %.4000s", body)
	}
	wantStatus(t, "A's reply stopped in B", c.post("/w/"+f.b+"/inbox/"+f.reply+"/stop", c.workspaceToken(f.b), nil), http.StatusNotFound)
	if got := state(); got != "active:" {
		t.Fatalf("a request in B stopped A's enrolment: %s", got)
	}
	r := c.post(inbox+"/"+f.reply+"/stop", c.workspaceToken(f.a), nil)
	wantStatus(t, "stop on the auto-reply", r, http.StatusSeeOther)
	if got := state(); got != "stopped:replied" {
		t.Fatalf("Ana's enrolment after stopping on the auto-reply: %s", got)
	}
	if body := c.get(inbox).body; !strings.Contains(body, "1 enrolment stopped.") {
		t.Fatalf("no word of it: %.4000s", body)
	}
}
