package handlers

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"atrium/store"
)

// contactOf creates a contact in a workspace directly, for fixtures.
func (f *fixture) contactIn(t *testing.T, ws string, in store.ContactInput) *store.Contact {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	c, err := store.CreateContact(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func s(v string) *string { return &v }

func TestContactsUI_CreateEditDelete(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/contacts"

	r := c.post(base, token, url.Values{"first_name": {"Bo"}, "email": {"not-an-email"}, "stage": {"lead"}})
	wantStatus(t, "bad email", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "is not a valid email address") || !strings.Contains(r.body, `value="Bo"`) {
		t.Error("the form did not show the error or lost the values")
	}
	r = c.post(base, token, url.Values{"first_name": {"Bo"}, "email": {"ANA@acme.example"}, "stage": {"lead"}})
	wantStatus(t, "duplicate email", r, http.StatusConflict)
	if !strings.Contains(r.body, "already used by Ana") {
		t.Error("the conflict does not name who has the email")
	}
	wantStatus(t, "owner not a member", c.post(base, token, url.Values{"first_name": {"Bo"}, "owner_id": {f.outsider.ID}, "stage": {"lead"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "bad custom value", c.post(base, token, url.Values{"first_name": {"Bo"}, "stage": {"lead"}, "custom.tier": {"Bronze"}}), http.StatusUnprocessableEntity)

	r = c.post(base, token, url.Values{"first_name": {"Bo"}, "last_name": {"Berg"}, "email": {"bo@example.com"}, "company": {"Initech"},
		"stage": {"qualified"}, "owner_id": {f.member.ID}, "tags": {"vip, event"}, "custom.tier": {"Gold"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := c.get(r.header.Get("Location"))
	for _, want := range []string{"Bo Berg", "Initech", "qualified", "vip", "event", "Gold", "member@example.com"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("contact page lacks %q", want)
		}
	}
	id := strings.TrimPrefix(r.header.Get("Location"), base+"/")
	wantStatus(t, "edit form", c.get(base+"/"+id+"/edit"), http.StatusOK)
	wantStatus(t, "update", c.post(base+"/"+id, token, url.Values{"first_name": {"Bo"}, "last_name": {"Berg"}, "email": {"bo@example.com"}, "stage": {"customer"}, "tags": {"vip"}}), http.StatusSeeOther)
	page = c.get(base + "/" + id)
	if !strings.Contains(page.body, "customer") || !strings.Contains(page.body, "Stage changed from Qualified to Customer") {
		t.Error("the timeline does not show the stage change")
	}
	wantStatus(t, "add note", c.post("/w/"+f.a+"/notes", token, url.Values{"contact_id": {id}, "body": {"Called about pricing"}}), http.StatusSeeOther)
	if page = c.get(base + "/" + id); !strings.Contains(page.body, "Called about pricing") {
		t.Error("the note is not on the timeline")
	}
	confirm := c.get(base + "/" + id + "/delete")
	if !strings.Contains(confirm.body, "Delete Bo Berg?") {
		t.Error("no confirmation page before deleting")
	}
	wantStatus(t, "delete", c.post(base+"/"+id+"/delete", token, nil), http.StatusSeeOther)
	wantStatus(t, "deleted", c.get(base+"/"+id), http.StatusNotFound)
}

// TestContactsUI_OtherWorkspacesRecords uses ids of workspace B in the URLs
// and forms of workspace A, as a member of both: always 404, B unchanged.
func TestContactsUI_OtherWorkspacesRecords(t *testing.T) {
	f := newFixture(t)
	theirs := f.contactIn(t, f.b, store.ContactInput{FirstName: s("Zed"), Email: s("zed@globex.example")})
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/contacts/" + theirs.ID
	wantStatus(t, "view", c.get(base), http.StatusNotFound)
	wantStatus(t, "edit form", c.get(base+"/edit"), http.StatusNotFound)
	wantStatus(t, "confirm delete", c.get(base+"/delete"), http.StatusNotFound)
	wantStatus(t, "update", c.post(base, token, url.Values{"first_name": {"Hacked"}, "stage": {"lead"}}), http.StatusNotFound)
	wantStatus(t, "delete", c.post(base+"/delete", token, nil), http.StatusNotFound)
	wantStatus(t, "note on it", c.post("/w/"+f.a+"/notes", token, url.Values{"contact_id": {theirs.ID}, "body": {"x"}}), http.StatusNotFound)
	wantStatus(t, "bulk delete", c.post("/w/"+f.a+"/contacts/bulk", token, url.Values{"id": {theirs.ID}, "action": {"delete"}, "confirm": {"yes"}}), http.StatusNotFound)
	list := c.get("/w/" + f.a + "/contacts?q=zed")
	search := c.get("/w/" + f.a + "/search?q=zed")
	export := c.get("/w/" + f.a + "/contacts?format=csv")
	for name, r := range map[string]response{"list": list, "search": search, "export": export} {
		if strings.Contains(r.body, "zed@globex.example") {
			t.Errorf("%s of A shows B's contact", name)
		}
	}
	l, _ := f.ts.tenants.Acquire(t.Context(), f.b)
	defer l.Release()
	got, err := store.GetContact(t.Context(), l.DB, theirs.ID)
	if err != nil || got.FirstName != "Zed" {
		t.Fatalf("B's contact changed: %+v %v", got, err)
	}
	if events, _, _ := store.ListAudit(t.Context(), l.DB, store.AuditFilter{EntityID: theirs.ID}); len(events) != 1 {
		t.Fatalf("B's contact has %d audit events, want only its creation", len(events))
	}
}

func TestContactsUI_ListFiltersBulkExport(t *testing.T) {
	f := newFixture(t)
	for _, in := range []store.ContactInput{
		{FirstName: s("Cara"), Email: s("cara@x.example"), Stage: s("customer"), Tags: &[]string{"vip"}},
		{FirstName: s("Dan"), Email: s("=cmd@x.example"), Stage: s("lead"), Tags: &[]string{"vip"}},
		{FirstName: s("Eve"), Stage: s("lead")},
	} {
		f.contactIn(t, f.a, in)
	}
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a + "/contacts"
	r := c.get(base + "?tag=vip&stage=lead")
	if !strings.Contains(r.body, "Dan") || strings.Contains(r.body, "Cara") || strings.Contains(r.body, "Eve") {
		t.Error("tag and stage filters did not narrow the list")
	}
	if r = c.get(base + "?q=nobody-matches"); !strings.Contains(r.body, "No contacts match") {
		t.Error("no empty state for an empty result")
	}
	for _, q := range []string{`"a OR`, "NEAR(", "*", `"`, strings.Repeat("é", 10000)} {
		wantStatus(t, "list q="+q[:1], c.get(base+"?q="+url.QueryEscape(q)), http.StatusOK)
		wantStatus(t, "search q="+q[:1], c.get("/w/"+f.a+"/search?q="+url.QueryEscape(q)), http.StatusOK)
	}
	wantStatus(t, "bad cursor", c.get(base+"?cursor=zzz"), http.StatusBadRequest)

	csvResp := c.get(base + "?format=csv&tag=vip")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(csvResp.body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "id" || rows[0][len(rows[0])-1] != "custom.tier" {
		t.Fatalf("csv export: %v %q", err, csvResp.body)
	}
	if !strings.Contains(csvResp.body, "'=cmd@x.example") {
		t.Error("a formula-like cell was not defused")
	}
	var list []store.Contact
	if err := json.Unmarshal([]byte(c.get(base+"?format=json").body), &list); err != nil || len(list) != 4 {
		t.Fatalf("json export: %d %v", len(list), err)
	}

	token := c.workspaceToken(f.a)
	var ids url.Values = url.Values{}
	for _, ct := range list {
		ids.Add("id", ct.ID)
	}
	tag := url.Values{"id": ids["id"], "action": {"tag"}, "value": {"newsletter"}}
	wantStatus(t, "bulk tag", c.post(base+"/bulk", token, tag), http.StatusSeeOther)
	if r = c.get(base + "?tag=newsletter"); strings.Count(r.body, `name="id"`) != 4 {
		t.Error("bulk tag did not tag everyone")
	}
	del := url.Values{"id": ids["id"][:2], "action": {"delete"}}
	r = c.post(base+"/bulk", token, del)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Delete 2 contacts?") {
		t.Fatalf("bulk delete did not ask first: %d", r.status)
	}
	del.Set("confirm", "yes")
	wantStatus(t, "bulk delete confirmed", c.post(base+"/bulk", token, del), http.StatusSeeOther)
	var after []store.Contact
	json.Unmarshal([]byte(c.get(base+"?format=json").body), &after)
	if len(after) != 2 {
		t.Fatalf("%d contacts after deleting 2 of 4", len(after))
	}
	wantStatus(t, "bulk with nothing selected", c.post(base+"/bulk", token, url.Values{"action": {"tag"}, "value": {"x"}}), http.StatusSeeOther)
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	// Exporting lists is for members and above unless an admin opens it
	// to viewers (see roles_export_test.go).
	wantStatus(t, "viewer export", viewer.get(base+"?format=csv"), http.StatusForbidden)
}

func TestAuditUI_ShowsChangesAndSignIns(t *testing.T) {
	f := newFixture(t)
	member := f.ts.loggedIn(t, f.member.Email)
	token := member.workspaceToken(f.a)
	member.post("/w/"+f.a+"/contacts/"+f.contact, token, url.Values{"first_name": {"Ana"}, "email": {"ana@acme.example"}, "stage": {"customer"}})
	admin := f.ts.loggedIn(t, f.admin.Email)
	r := admin.get("/w/" + f.a + "/audit")
	wantStatus(t, "audit", r, http.StatusOK)
	for _, want := range []string{"contact.update", "Stage changed from Lead to Customer", "member.sign_in", "member@example.com"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if r = admin.get("/w/" + f.a + "/audit?action=contact.update"); strings.Contains(r.body, "contact.create") {
		t.Error("the action filter did not filter")
	}
}

func TestFieldsUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	path := "/w/" + f.a + "/settings/fields"
	wantStatus(t, "no options", c.post(path, token, url.Values{"entity": {"contact"}, "label": {"Region"}, "type": {"select"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "duplicate key", c.post(path, token, url.Values{"entity": {"contact"}, "label": {"Tier"}, "type": {"text"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "add", c.post(path, token, url.Values{"entity": {"contact"}, "label": {"Budget (EUR)"}, "type": {"number"}}), http.StatusSeeOther)
	if r := c.get("/w/" + f.a + "/contacts/new"); !strings.Contains(r.body, "custom.budget_eur") {
		t.Error("the new field is not on the contact form")
	}

	// A multi-select and a checkbox through the contact form and back.
	wantStatus(t, "add channels", c.post(path, token, url.Values{"entity": {"contact"}, "label": {"Channels"}, "type": {"multiselect"},
		"options": {"Email, Phone, Post"}}), http.StatusSeeOther)
	wantStatus(t, "add newsletter", c.post(path, token, url.Values{"entity": {"contact"}, "label": {"Newsletter"}, "type": {"checkbox"}}), http.StatusSeeOther)
	r := c.post("/w/"+f.a+"/contacts", token, url.Values{"first_name": {"Multi"}, "stage": {"lead"}, "custom.channels": {"Post", "Email"}, "custom.newsletter": {"true"}})
	wantStatus(t, "create with choices", r, http.StatusSeeOther)
	page := c.get(r.header.Get("Location"))
	if !strings.Contains(page.body, "Email, Post") || !strings.Contains(page.body, "<dd>Yes</dd>") {
		t.Error("the contact page does not show the picks")
	}
	edit := c.get(r.header.Get("Location") + "/edit")
	if !strings.Contains(edit.body, `value="Post" checked`) || strings.Contains(edit.body, `value="Phone" checked`) ||
		!strings.Contains(edit.body, `name="custom.newsletter" value="true" checked`) {
		t.Error("the edit form does not show the picks ticked")
	}
	bad := c.post("/w/"+f.a+"/contacts", token, url.Values{"first_name": {"Bad"}, "stage": {"lead"}, "custom.channels": {"Fax"}})
	wantStatus(t, "an option that is not one", bad, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.body, "Channels takes only") {
		t.Error("no message naming the field")
	}

	// Renamed, options changed, moved; another workspace's field is not found.
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := store.CustomFields(t.Context(), l.DB, "contact")
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	channels := fields[len(fields)-2]
	wantStatus(t, "rename", c.post(path+"/"+channels.ID, token, url.Values{"label": {"Reach by"}, "options": {"Email, Post, SMS"}}), http.StatusSeeOther)
	wantStatus(t, "move up", c.post(path+"/"+channels.ID+"/move", token, url.Values{"dir": {"up"}}), http.StatusSeeOther)
	wantStatus(t, "move sideways", c.post(path+"/"+channels.ID+"/move", token, url.Values{"dir": {"left"}}), http.StatusBadRequest)
	list := c.get(path).body
	if !strings.Contains(list, "Reach by") || !strings.Contains(list, "Email, Post, SMS") || strings.Index(list, "Reach by") > strings.Index(list, "Budget (EUR)") {
		t.Error("the rename, the options or the move did not take")
	}
	r = c.post(path+"/"+channels.ID, token, url.Values{"label": {""}})
	wantStatus(t, "empty label", r, http.StatusSeeOther)
	if !strings.Contains(c.get(path).body, "The label is empty") {
		t.Error("no message for an empty label")
	}
	other := f.ts.loggedIn(t, f.owner.Email)
	bToken := other.workspaceToken(f.b)
	for _, p := range []string{"/w/" + f.b + "/settings/fields/" + channels.ID, "/w/" + f.b + "/settings/fields/" + channels.ID + "/move"} {
		wantStatus(t, "another workspace's field", other.post(p, bToken, url.Values{"label": {"X"}, "dir": {"up"}}), http.StatusNotFound)
	}
}

// TestContactsUI_HostileListQueries: a crafted cursor or thousands of
// custom-field filters get a clear error page, never a 500.
func TestContactsUI_HostileListQueries(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a
	t.Run("CraftedCursor", func(t *testing.T) {
		cursor := base64.RawURLEncoding.EncodeToString([]byte(`[[1]]`))
		for _, path := range []string{"/contacts", "/contacts?format=csv", "/companies", "/deals?view=table"} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			r := c.get(base + path + sep + "cursor=" + cursor)
			if path == "/contacts?format=csv" && r.status == http.StatusOK {
				continue // the export ignores the cursor
			}
			wantStatus(t, path, r, http.StatusBadRequest)
			if !strings.Contains(r.body, "cursor is not valid") {
				t.Errorf("%s: no clear message", path)
			}
		}
	})
	t.Run("TooManyCustomFilters", func(t *testing.T) {
		q := url.Values{}
		for i := range 2000 {
			q.Set(fmt.Sprintf("custom.f%d", i), "x")
		}
		for _, path := range []string{"/contacts?", "/contacts?format=csv&"} {
			r := c.get(base + path + q.Encode())
			wantStatus(t, path, r, http.StatusBadRequest)
			if !strings.Contains(r.body, "at most 20 custom fields") {
				t.Errorf("%s: the message does not name the limit", path)
			}
		}
	})
}

// A bulk action takes an owner by email, a stage in any letter case, says
// what it did, and brings the list back with its filters.
func TestContactsUI_BulkSaysWhatItDid(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/contacts"
	ids := url.Values{}
	for _, email := range []string{"b1@example.com", "b2@example.com", "b3@example.com"} {
		ids.Add("id", f.ts.mustContact(t, f.a, store.ContactInput{Email: ptrTo(email), Tags: &[]string{"bulk"}}))
	}
	bulk := func(action, value, back string) (string, string) {
		t.Helper()
		r := c.post(base+"/bulk", token, url.Values{"id": ids["id"], "action": {action}, "value": {value}, "back": {back}})
		wantStatus(t, action, r, http.StatusSeeOther)
		loc := r.header.Get("Location")
		return loc, c.get(loc).body
	}
	wantFlash := func(body, want string) {
		t.Helper()
		if !strings.Contains(body, html.EscapeString(want)) {
			t.Errorf("the list does not say %q", want)
		}
	}

	loc, body := bulk("stage", "Customer", "tag=bulk&sort=name&dir=asc")
	if want := base + "?dir=asc&sort=name&tag=bulk"; loc != want {
		t.Errorf("back to %q, want the filtered list %q", loc, want)
	}
	wantFlash(body, "Stage set to customer on 3 contacts.")
	_, body = bulk("owner", strings.ToUpper(f.member.Email), "")
	wantFlash(body, "on 3 contacts.")
	_, body = bulk("owner", "nobody@example.com", "")
	wantFlash(body, `"nobody@example.com" is not a member of this workspace`)
	_, body = bulk("tag", "bulk", "")
	wantFlash(body, `Tag "bulk" added to 0 contacts. 3 were already so.`)
	if loc, _ := bulk("untag", "nothing", "//evil.example/x"); !strings.HasPrefix(loc, base+"?") {
		t.Errorf("back to %q, outside the list", loc)
	}

	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for _, id := range ids["id"] {
		ct, err := store.GetContact(t.Context(), l.DB, id)
		if err != nil || ct.Stage != "customer" || ct.OwnerID != f.member.ID {
			t.Errorf("contact %+v, %v: want stage customer, owned by the member", ct, err)
		}
	}
}

// Active filters show as chips; each chip's link drops that filter and
// keeps the others and the sort.
func TestContactsUI_FilterChips(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a + "/contacts"
	r := c.get(base + "?q=ana&stage=lead&tag=vip&owner=" + f.member.ID + "&sort=name")
	wantStatus(t, "filtered list", r, http.StatusOK)
	chips := between(t, r.body, `<ul class="chips"`, "</ul>")
	for _, want := range []string{"Search: ana", "Stage: lead", "Tag: vip", "Owner: "} {
		if !strings.Contains(chips, want) {
			t.Errorf("no chip %q in %s", want, chips)
		}
	}
	m := regexp.MustCompile(`Stage: lead <a href="([^"]*)"`).FindStringSubmatch(chips)
	if m == nil {
		t.Fatalf("no link on the stage chip: %s", chips)
	}
	href := html.UnescapeString(m[1])
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Has("stage") || q.Get("tag") != "vip" || q.Get("q") != "ana" || q.Get("sort") != "name" || u.Path != base {
		t.Errorf("the stage chip's link is %s", href)
	}
	if strings.Contains(c.get(base).body, `class="chips"`) {
		t.Error("chips without filters")
	}
}
