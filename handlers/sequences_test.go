package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

// A member builds a sequence, activates it and enrolls contacts from the
// contacts list; the skipped ones are named with their reason.
func TestSequencesUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	r := c.post("/w/"+f.a+"/sequences", token, url.Values{"name": {""}})
	wantStatus(t, "no name", r, http.StatusUnprocessableEntity)
	r = c.post("/w/"+f.a+"/sequences", token, url.Values{"name": {"Q3 founders"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	id := page[strings.LastIndex(page, "/")+1:]

	r = c.post(page+"/steps", token, url.Values{"kind": {"email"}})
	wantStatus(t, "an email step without a template", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "choose its template") {
		t.Errorf("the page does not say what is missing")
	}
	wantStatus(t, "email step", c.post(page+"/steps", token, url.Values{"kind": {"email"}, "template_id": {f.template}}), http.StatusSeeOther)
	wantStatus(t, "wait step", c.post(page+"/steps", token, url.Values{"kind": {"wait"}, "wait": {"2"}, "unit": {"days"}, "business_days": {"1"}}), http.StatusSeeOther)
	wantStatus(t, "bad wait", c.post(page+"/steps", token, url.Values{"kind": {"wait"}, "wait": {"soon"}, "unit": {"days"}}), http.StatusUnprocessableEntity)
	r = c.post(page+"/state", token, url.Values{"state": {"active"}})
	wantStatus(t, "activate without an account", r, http.StatusConflict)
	wantStatus(t, "settings", c.post(page, token, url.Values{"name": {"Q3 founders"}, "mailbox_ids": {f.mailbox}, "stop_on_reply": {"1"}}), http.StatusSeeOther)
	wantStatus(t, "activate", c.post(page+"/state", token, url.Values{"state": {"active"}}), http.StatusSeeOther)
	body := c.get(page).body
	for _, want := range []string{"Intro", "2880 minutes, business days only", "active"} {
		if !strings.Contains(body, want) {
			t.Errorf("the sequence page lacks %q", want)
		}
	}

	// Enrol from the contacts list: Ana, and one without an email.
	noEmail := f.ts.mustContact(t, f.a, store.ContactInput{FirstName: ptrTo("Nomail")})
	r = c.post("/w/"+f.a+"/contacts/bulk", token, url.Values{"action": {"enroll"}, "value": {id}, "id": {f.contact, noEmail}})
	wantStatus(t, "enrol", r, http.StatusSeeOther)
	list := c.get(r.header.Get("Location")).body
	if !strings.Contains(list, "1 contact enrolled. Skipped: 1 without an email.") {
		t.Errorf("the flash does not say who was enrolled and skipped")
	}
	if body := c.get(page).body; !strings.Contains(body, "ana@acme.example") {
		t.Error("the sequence does not list Ana")
	}
	// Another workspace's sequence id enrolls nobody.
	other := f.ts.mustAPIWorkspace(t, "Other", "Otherword")
	r = c.post("/w/"+f.a+"/contacts/bulk", token, url.Values{"action": {"enroll"}, "value": {other.sequence}, "id": {f.contact}})
	if !strings.Contains(c.get(r.header.Get("Location")).body, "Choose a sequence of this workspace") {
		t.Error("another workspace's sequence was not refused")
	}
}

// The API enrolls and answers who was skipped and why; contacts of another
// workspace are not found, never enrolled.
func TestAPI_Sequences(t *testing.T) {
	f := newAPIFixture(t)
	body := `{"name":"API launch","mailbox_ids":["` + f.a.mailbox + `"],"steps":[{"kind":"email","template_id":"` + f.a.template +
		`","variant_template_id":"` + f.a.template + `"},{"kind":"wait","wait_minutes":0},{"kind":"task","task_title":"Call"}]}`
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/sequences", body)
	wantStatus(t, "create", r, http.StatusCreated)
	var seq store.Sequence
	mustDecode(t, r.body, &seq)
	if len(seq.Steps) != 3 || !strings.Contains(r.body, `"template_id":"`+f.a.template+`"`) || seq.State != "draft" {
		t.Fatalf("%s", r.body)
	}
	wantAPIError(t, "a template of B", f.ts.api(t, f.a.key, "PATCH", "/api/v1/sequences/"+seq.ID,
		`{"steps":[{"kind":"email","template_id":"`+f.b.template+`"}]}`), http.StatusUnprocessableEntity, "validation", "steps.0")
	wantAPIError(t, "a mailbox of B", f.ts.api(t, f.a.key, "PATCH", "/api/v1/sequences/"+seq.ID,
		`{"mailbox_ids":["`+f.b.mailbox+`"]}`), http.StatusUnprocessableEntity, "validation", "mailbox_ids")
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/sequences/"+seq.ID+"/enrollments", `{"contact_ids":["`+f.a.contact+`","`+f.b.contact+`"]}`)
	wantStatus(t, "enrol", r, http.StatusOK)
	if strings.TrimSpace(r.body) != `{"enrolled":1,"skipped":[{"contact_id":"`+f.b.contact+`","reason":"not_found"}]}` {
		t.Fatalf("enrol: %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/sequences/"+seq.ID+"/enrollments", `{"contact_ids":["`+f.a.contact+`"]}`)
	if !strings.Contains(r.body, `"reason":"already_enrolled"`) {
		t.Fatalf("enrol again: %s", r.body)
	}
	wantAPIError(t, "no contacts", f.ts.api(t, f.a.key, "POST", "/api/v1/sequences/"+seq.ID+"/enrollments", `{"contact_ids":[]}`),
		http.StatusUnprocessableEntity, "validation", "contact_ids")
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/sequences/"+seq.ID+"/activate", "")
	if !strings.Contains(r.body, `"state":"active"`) {
		t.Fatalf("activate: %s", r.body)
	}
	r = f.ts.api(t, f.a.readKey, "GET", "/api/v1/sequences/"+seq.ID+"/enrollments?state=active", "")
	if !strings.Contains(r.body, `"contact_id":"`+f.a.contact+`"`) || strings.Contains(r.body, f.b.contact) {
		t.Fatalf("enrollments: %s", r.body)
	}
	if r := f.ts.api(t, f.a.key, "POST", "/api/v1/sequences/"+seq.ID+"/pause", ""); !strings.Contains(r.body, `"state":"paused"`) {
		t.Fatalf("pause: %s", r.body)
	}
}

// mustContact adds a contact to workspace id and returns its id.
func (ts *testServer) mustContact(tb testing.TB, id string, in store.ContactInput) string {
	tb.Helper()
	l, err := ts.tenants.Acquire(tb.Context(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	c, err := store.CreateContact(tb.Context(), l.DB, store.Actor{Kind: "system", ID: "test"}, in)
	if err != nil {
		tb.Fatal(err)
	}
	return c.ID
}

// mustUnknownMessage records a ledger row for an enrollment's step as a
// dead process would leave it, then as the next pass finds it: unknown.
func mustUnknownMessage(tb testing.TB, db *store.DB, e *store.Enrollment, stepID string) string {
	tb.Helper()
	now := time.Now().UTC()
	m := &store.Message{ID: store.NewID(), EnrollmentID: e.ID, StepID: stepID, SequenceID: e.SequenceID, ContactID: e.ContactID,
		MailboxID: e.MailboxID, ToEmail: "ana@acme.example", Subject: "Hello Ana", Variant: "a", MessageID: store.NewID() + "@acme.example",
		CreatedAt: now, UpdatedAt: now}
	if _, claimed, err := store.ClaimMessage(tb.Context(), db, m); err != nil || !claimed {
		tb.Fatalf("claim: %v, %v", claimed, err)
	}
	if _, err := store.RecoverSending(tb.Context(), db, now); err != nil {
		tb.Fatal(err)
	}
	return m.ID
}

// A message of unknown delivery is shown with what to do; a member settles
// it; the API lists and settles the ledger too.
func TestLedger_UnknownIsSettled(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	page := "/w/" + f.a + "/sequences/" + f.sequence
	body := c.get(page).body
	if !strings.Contains(body, "1 message of unknown delivery") || !strings.Contains(body, "It arrived") || !strings.Contains(body, "Hello Ana") {
		t.Fatalf("the sequence page does not show the unknown message")
	}
	r := c.post(page+"/messages/"+f.message+"/settle", c.workspaceToken(f.a), url.Values{"as": {"sent"}})
	wantStatus(t, "settle", r, http.StatusSeeOther)
	if body := c.get(page + "?messages=sent").body; !strings.Contains(body, "Hello Ana") || strings.Contains(body, "of unknown delivery") {
		t.Error("the settled message is not sent")
	}
	wantStatus(t, "settle again", c.post(page+"/messages/"+f.message+"/settle", c.workspaceToken(f.a), url.Values{"as": {"sent"}}), http.StatusConflict)
	wantStatus(t, "viewer", f.ts.loggedIn(t, f.viewer.Email).post(page+"/messages/"+f.message+"/settle", "", url.Values{"as": {"skip"}}), http.StatusForbidden)
}

func TestAPI_Messages(t *testing.T) {
	f := newAPIFixture(t)
	r := f.ts.api(t, f.a.readKey, "GET", "/api/v1/messages?state=unknown", "")
	if !strings.Contains(r.body, `"id":"`+f.a.message+`"`) || strings.Contains(r.body, f.b.message) {
		t.Fatalf("list: %s", r.body)
	}
	wantAPIError(t, "bad state", f.ts.api(t, f.a.readKey, "GET", "/api/v1/messages?state=lost", ""), http.StatusBadRequest, "invalid", "")
	wantAPIError(t, "bad settle", f.ts.api(t, f.a.key, "POST", "/api/v1/messages/"+f.a.message+"/settle", `{"as":"maybe"}`),
		http.StatusUnprocessableEntity, "validation", "as")
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/messages/"+f.a.message+"/settle", `{"as":"retry"}`)
	if !strings.Contains(r.body, `"state":"scheduled"`) {
		t.Fatalf("retry: %s", r.body)
	}
	wantAPIError(t, "B's message", f.ts.api(t, f.a.key, "POST", "/api/v1/messages/"+f.b.message+"/settle", `{"as":"skip"}`),
		http.StatusNotFound, "not_found", "")
}

// Everyone the list's filters match is enrolled from the bulk bar ("all
// matching"), the one way to: the flash says how many were enrolled and
// who was skipped and why (suppressed, already enrolled), the list comes
// back with its filters, and a viewer is refused.
func TestSequencesUI_EnrollFiltered(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	for _, email := range []string{"vip1@example.com", "vip2@example.com", "gone@example.com"} {
		f.ts.mustContact(t, f.a, store.ContactInput{Email: ptrTo(email), Tags: &[]string{"vip"}})
	}
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.AddSuppression(t.Context(), l.DB, store.Actor{Kind: "system", ID: "test"},
		store.SuppressionInput{Email: "gone@example.com", Reason: store.SuppressUnsubscribed}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	body := c.get("/w/" + f.a + "/contacts?tag=vip").body
	if !strings.Contains(body, `<option value="enroll">Enrol in sequence</option>`) || !strings.Contains(body, `name="sequence_id"`) {
		t.Fatal("the bulk bar does not offer to enrol in a sequence")
	}
	if strings.Contains(body, `action="/w/`+f.a+`/contacts/enroll"`) || strings.Contains(body, "matching in") {
		t.Error("the list still has the enrol-all form of its own besides the bulk bar")
	}
	all := url.Values{"action": {"enroll"}, "sequence_id": {f.sequence}, "all": {"matching"}, "back": {"tag=vip"}}
	seq := "/w/" + f.a + "/sequences/" + f.sequence

	v := f.ts.loggedIn(t, f.viewer.Email)
	wantStatus(t, "a viewer enrols", v.post("/w/"+f.a+"/contacts/bulk", v.workspaceToken(f.a), all), http.StatusForbidden)
	if strings.Contains(c.get(seq).body, "vip1@example.com") {
		t.Fatal("a viewer enrolled the matching contacts")
	}

	r := c.post("/w/"+f.a+"/contacts/bulk", c.workspaceToken(f.a), all)
	wantStatus(t, "enrol matching", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/w/"+f.a+"/contacts?tag=vip" {
		t.Errorf("back to %s, not the filtered list", loc)
	}
	if body := c.get(r.header.Get("Location")).body; !strings.Contains(body, "2 contacts enrolled. Skipped: 1 on the suppression list.") {
		t.Error("the flash does not say 2 were enrolled and the suppressed one skipped")
	}
	list := c.get(seq).body
	if !strings.Contains(list, "vip1@example.com") || !strings.Contains(list, "vip2@example.com") || strings.Contains(list, "gone@example.com") {
		t.Error("the sequence does not hold exactly the matching contacts that may be mailed")
	}

	r = c.post("/w/"+f.a+"/contacts/bulk", c.workspaceToken(f.a), all)
	wantStatus(t, "enrol matching again", r, http.StatusSeeOther)
	if body := c.get(r.header.Get("Location")).body; !strings.Contains(body, "0 contacts enrolled. Skipped: 1 on the suppression list, 2 already enrolled.") {
		t.Error("enrolling again does not say they are enrolled already")
	}
}

// More matching contacts than one "enrol all" takes are refused whole,
// saying how many match: none is enrolled, rather than the first 10,000.
func TestSequencesUI_EnrollFilteredRefusesTooMany(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(context.Background(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	seedContacts(t, l.DB, maxFilterEnroll)
	var before int
	if err := l.DB.R.Get(&before, `SELECT count(*) FROM enrollments`); err != nil {
		t.Fatal(err)
	}
	l.Release()
	c := f.ts.loggedIn(t, f.member.Email)
	r := c.post("/w/"+f.a+"/contacts/bulk", c.workspaceToken(f.a), url.Values{"action": {"enroll"}, "sequence_id": {f.sequence}, "all": {"matching"}})
	wantStatus(t, "enrol too many", r, http.StatusSeeOther)
	// The fixture's own contacts match too.
	want := fmt.Sprintf("contacts match these filters; enrol at most %d at once", maxFilterEnroll)
	if body := c.get(r.header.Get("Location")).body; !strings.Contains(body, want) {
		t.Errorf("the flash does not say %q", want)
	}
	var n int
	l, _ = f.ts.tenants.Acquire(context.Background(), f.a)
	defer l.Release()
	if err := l.DB.R.Get(&n, `SELECT count(*) FROM enrollments`); err != nil || n != before {
		t.Errorf("%d enrollments (%v), want the %d there were", n, err, before)
	}
}
