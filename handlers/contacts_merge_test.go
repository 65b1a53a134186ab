package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"atrium/store"
)

// mustContactIn creates a contact in a workspace of the fixture.
func mustContactIn(t *testing.T, f *fixture, ws string, in store.ContactInput) *store.Contact {
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

// From Ana's page: find Bo by name, see the two side by side with Ana's
// values picked unless empty, take Bo's last name, merge; Bo is gone and
// Ana's timeline tells the merge.
func TestContactsUI_Merge(t *testing.T) {
	f := newFixture(t)
	bo := mustContactIn(t, f, f.a, store.ContactInput{FirstName: ptrTo("Bo"), LastName: ptrTo("Berg"), Email: ptrTo("bo@acme.example"), Phone: ptrTo("+1 555")})
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	page := "/w/" + f.a + "/contacts/" + f.contact

	if !strings.Contains(c.get(page).body, `href="`+page+`/merge"`) {
		t.Error("the contact page has no Merge with… link")
	}
	picker := c.get(page + "/merge?q=berg")
	wantStatus(t, "picker", picker, http.StatusOK)
	if !strings.Contains(picker.body, page+"/merge?with="+bo.ID) || strings.Contains(picker.body, "?with="+f.contact) {
		t.Error("the picker does not list Bo alone")
	}
	if !strings.Contains(c.get(page+"/merge?q=bo%40acme").body, "?with="+bo.ID) {
		t.Error("the picker does not find Bo by email")
	}
	preview := c.get(page + "/merge?with=" + bo.ID)
	wantStatus(t, "preview", preview, http.StatusOK)
	for _, want := range []string{`name="pick.last_name" value="other" checked`, `name="pick.phone" value="other" checked`,
		`name="pick.first_name" value="kept" checked`, `name="pick.email" value="kept" checked`, "Merge Bo Berg into Ana</button>", "data-confirm="} {
		if !strings.Contains(preview.body, want) {
			t.Errorf("the preview lacks %s", want)
		}
	}
	// Nothing changed yet: the preview is the confirmation.
	wantStatus(t, "Bo after the preview", c.get("/w/"+f.a+"/contacts/"+bo.ID), http.StatusOK)

	wantStatus(t, "merge without the other", c.post(page+"/merge", token, url.Values{}), http.StatusBadRequest)
	// Zed has only an email and Dee only a name: keeping neither is
	// refused, the preview shown again with the picks.
	zed := mustContactIn(t, f, f.a, store.ContactInput{Email: ptrTo("zed@acme.example")})
	dee := mustContactIn(t, f, f.a, store.ContactInput{FirstName: ptrTo("Dee")})
	zedPage := "/w/" + f.a + "/contacts/" + zed.ID
	r := c.post(zedPage+"/merge", token, url.Values{"with": {dee.ID}, "pick.first_name": {"kept"}, "pick.email": {"other"}})
	wantStatus(t, "picks leaving no name and no email", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "would have no name and no email") || !strings.Contains(r.body, `name="pick.email" value="other" checked`) {
		t.Error("the refused picks are not shown again with the reason")
	}
	wantStatus(t, "Dee after the refusal", c.get("/w/"+f.a+"/contacts/"+dee.ID), http.StatusOK)
	r = c.post(page+"/merge", token, url.Values{"with": {bo.ID}, "pick.first_name": {"kept"}, "pick.last_name": {"other"},
		"pick.email": {"kept"}, "pick.phone": {"kept"}})
	wantStatus(t, "merge", r, http.StatusSeeOther)
	if r.header.Get("Location") != page {
		t.Errorf("after the merge: Location %q", r.header.Get("Location"))
	}
	body := c.get(page).body
	for _, want := range []string{"<h1>Ana Berg</h1>", "Merged Bo Berg &lt;bo@acme.example&gt; into Ana", "Merged Bo Berg into Ana."} {
		if !strings.Contains(body, want) {
			t.Errorf("Ana's page lacks %q", want)
		}
	}
	if strings.Contains(body, "+1 555") {
		t.Error("Ana took Bo's phone, which was not picked")
	}
	wantStatus(t, "Bo after the merge", c.get("/w/"+f.a+"/contacts/"+bo.ID), http.StatusNotFound)
}

// Contacts of another workspace are not found through this one's URLs,
// either side of the merge; a merge that could send a step twice is
// refused with the reason and without a merge button.
func TestContactsUI_MergeRefused(t *testing.T) {
	f := newFixture(t)
	elsewhere := mustContactIn(t, f, f.b, store.ContactInput{FirstName: ptrTo("Cy")})
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	page := w + "/contacts/" + f.contact
	wantStatus(t, "preview with B's contact", c.get(page+"/merge?with="+elsewhere.ID), http.StatusNotFound)
	wantStatus(t, "merge B's contact in", c.post(page+"/merge", token, url.Values{"with": {elsewhere.ID}}), http.StatusNotFound)
	wantStatus(t, "picker of B's contact", c.get(w+"/contacts/"+elsewhere.ID+"/merge"), http.StatusNotFound)
	wantStatus(t, "merge into B's contact", c.post(w+"/contacts/"+elsewhere.ID+"/merge", token, url.Values{"with": {f.contact}}), http.StatusNotFound)
	wantStatus(t, "with itself", c.post(page+"/merge", token, url.Values{"with": {f.contact}}), http.StatusBadRequest)

	// Ana is in the sequence Launch; Bo joins it: both running.
	bo := mustContactIn(t, f, f.a, store.ContactInput{FirstName: ptrTo("Bo"), Email: ptrTo("bo@acme.example")})
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ts.tenants.Service(l).Enroll(t.Context(), store.Actor{Kind: "user", ID: f.owner.ID}, f.sequence, []string{bo.ID})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	preview := c.get(page + "/merge?with=" + bo.ID)
	wantStatus(t, "preview", preview, http.StatusOK)
	if !strings.Contains(preview.body, "both enrolled in the sequence “Launch”") || strings.Contains(preview.body, "Merge Bo into Ana</button>") {
		t.Error("the preview does not refuse the merge")
	}
	wantStatus(t, "merge anyway", c.post(page+"/merge", token, url.Values{"with": {bo.ID}}), http.StatusConflict)
	wantStatus(t, "Bo after the refusal", c.get(w+"/contacts/"+bo.ID), http.StatusOK)
}

// TestBrowser_MergeContacts walks the merge in a browser: Merge with… on
// Ana's page, find Bo, keep Ana's phone instead of Bo's, confirm; Ana's
// page then has Bo's last name and note.
func TestBrowser_MergeContacts(t *testing.T) {
	f := newFixture(t)
	bo := mustContactIn(t, f, f.a, store.ContactInput{FirstName: ptrTo("Bo"), LastName: ptrTo("Berg"), Email: ptrTo("bo@acme.example"), Phone: ptrTo("+1 555")})
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.CreateNote(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.NoteInput{ContactID: bo.ID, Body: "Met Bo at the fair"})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	run(t, b, "sign in", chromedp.Navigate(f.ts.URL+"/login"), chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": f.member.Email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".sidebar")))
	page := f.ts.URL + "/w/" + f.a + "/contacts/" + f.contact
	run(t, b, "open Merge with…", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`a[href$="/merge"]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/merge"]`)), chromedp.WaitVisible(chromedp.ID("mq")))
	run(t, b, "find Bo", fill(map[string]string{"mq": "Berg"}, "form[role=search] button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".merge-picks a")), chromedp.Click(chromedp.CSS(".merge-picks a")),
		chromedp.WaitVisible(chromedp.CSS(".merge-table")))
	// The page asks before merging (app.js's data-confirm): "no" stays
	// on the page, "yes" merges.
	answer := func(yes bool) step {
		eval := chromedp.Evaluate[bool](fmt.Sprintf(`window.confirm = (m) => { window.asked = m; return %v; }, true`, yes))
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := eval(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	run(t, b, "keep Ana's phone, merge, answer no", chromedp.Click(chromedp.CSS(`input[name="pick.phone"][value="kept"]`)),
		answer(false), chromedp.Click(chromedp.CSS(".merge-preview button.danger")))
	if asked := read(t, b, "the question", chromedp.Evaluate[string](`window.asked || ""`)); !strings.Contains(asked, "Merge Bo Berg into Ana?") {
		t.Errorf("the question asked: %q", asked)
	}
	run(t, b, "merge, answer yes", chromedp.WaitVisible(chromedp.CSS(".merge-table")), answer(true),
		chromedp.Click(chromedp.CSS(".merge-preview button.danger")), chromedp.WaitVisible(chromedp.CSS(".timeline")))
	h1 := read(t, b, "heading", chromedp.Text(chromedp.CSS("h1")))
	body := read(t, b, "page", chromedp.Text(chromedp.CSS("main")))
	if h1 != "Ana Berg" || !strings.Contains(body, "Met Bo at the fair") || strings.Contains(body, "+1 555") || !strings.Contains(body, "Merged Bo Berg") {
		t.Errorf("after the merge: h1 %q, page %.2000s", h1, body)
	}
}
