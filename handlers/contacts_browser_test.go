package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"atrium/store"
)

// signInBrowser signs a fixture user in, in a browser of their own, at
// 1280 px wide.
func signInBrowser(t *testing.T, f *fixture, email string) context.Context {
	t.Helper()
	b := newBrowser(t)
	run(t, b, "sign in",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".user-menu")))
	return b
}

// headings are the texts of the contact table's column headings.
const headingsJS = `[...document.querySelectorAll(".table thead th")].map(th => th.textContent.trim()).filter(Boolean).join(",")`

// TestBrowser_ContactColumnsAndViews: the column chooser changes the table
// and keeps the choice; a view saved from a filtered list opens it again
// from its tab.
func TestBrowser_ContactColumnsAndViews(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateCustomField(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID},
		store.NewCustomField{Entity: "contact", Label: "City", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	f.contactIn(t, f.a, store.ContactInput{FirstName: s("Lis"), Stage: s("qualified"), Custom: map[string]any{"city": "Porto"}})
	f.contactIn(t, f.a, store.ContactInput{FirstName: s("Rui"), Stage: s("churned"), Custom: map[string]any{"city": "Braga"}})
	b := signInBrowser(t, f, f.viewer.Email) // a viewer: their own preferences only
	base := f.ts.URL + "/w/" + f.a + "/contacts"

	run(t, b, "choose columns",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#columns-menu summary")),
		chromedp.Click(chromedp.CSS("#columns-menu summary")),
		chromedp.WaitVisible(chromedp.CSS(`#columns-menu input[value="custom.city"]`)),
		chromedp.Click(chromedp.CSS(`#columns-menu input[value="email"]`)),
		chromedp.Click(chromedp.CSS(`#columns-menu input[value="tags"]`)),
		chromedp.Click(chromedp.CSS(`#columns-menu input[value="custom.city"]`)),
		chromedp.Click(chromedp.CSS(`#columns-menu input[value="updated"]`)),
		chromedp.Click(chromedp.CSS("#columns-menu button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`td[data-label="City"]`)))
	want := "Name,Company,Stage,Owner,Added ↓,Updated,City"
	if got := read(t, b, "headings", chromedp.Evaluate[string](headingsJS)); got != want {
		t.Fatalf("after choosing: %q, want %q", got, want)
	}
	run(t, b, "again later", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`td[data-label="City"]`)))
	if got := read(t, b, "headings", chromedp.Evaluate[string](headingsJS)); got != want {
		t.Fatalf("the choice was not kept: %q", got)
	}
	if text := read(t, b, "cities", chromedp.Text(chromedp.CSS(".table tbody"))); !strings.Contains(text, "Porto") || !strings.Contains(text, "Braga") {
		t.Fatalf("the City column shows %q", text)
	}

	run(t, b, "save a view of a filtered list",
		chromedp.Navigate(base+"?stage=qualified"),
		chromedp.WaitVisible(chromedp.CSS("#views-menu summary")),
		chromedp.Click(chromedp.CSS("#views-menu summary")),
		chromedp.WaitVisible(chromedp.ID("view-name")),
		chromedp.SendKeys(chromedp.ID("view-name"), "Qualified people"),
		chromedp.Click(chromedp.CSS(`form[action$="/contacts/views"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tabs a:nth-of-type(2)[aria-current="page"]`)))
	if tab := read(t, b, "current tab", chromedp.Text(chromedp.CSS(`.tabs a[aria-current="page"]`))); tab != "Qualified people" {
		t.Fatalf("after saving, the current tab is %q", tab)
	}
	run(t, b, "open it from the whole list",
		chromedp.Navigate(base+"?view=all"),
		chromedp.WaitVisible(chromedp.CSS(".tabs a:nth-of-type(2)")),
		chromedp.Click(chromedp.CSS(".tabs a:nth-of-type(2)")),
		chromedp.WaitVisible(chromedp.CSS(`.tabs a:nth-of-type(2)[aria-current="page"]`)))
	if loc := read(t, b, "location", chromedp.Location()); !strings.Contains(loc, "stage=qualified") {
		t.Errorf("the view opened at %s", loc)
	}
	if text := read(t, b, "rows", chromedp.Text(chromedp.CSS(".table tbody"))); !strings.Contains(text, "Lis") || strings.Contains(text, "Rui") {
		t.Errorf("the view shows %q", text)
	}
}

// TestBrowser_BulkAllMatching: with the whole page checked, the list offers
// every contact the filters match; tagging them all runs as a job whose
// page shows its progress until it is done, then leads back to the list
// with its filters.
func TestBrowser_BulkAllMatching(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	f.seedTagged(t, 620, "many")
	b := signInBrowser(t, f, f.member.Email)
	base := f.ts.URL + "/w/" + f.a + "/contacts"
	run(t, b, "the filtered list",
		chromedp.Navigate(base+"?tag=many"),
		chromedp.WaitVisible(chromedp.CSS("[data-check-all]")))
	if read(t, b, "offer before", chromedp.Evaluate[string](`String(document.querySelector(".select-all-matching").offsetParent !== null)`)) != "false" {
		t.Error("all matching is offered before the page is checked")
	}
	run(t, b, "check the page, then all matching",
		chromedp.Click(chromedp.CSS("[data-check-all]")),
		chromedp.WaitVisible(chromedp.ID("all-matching")))
	if text := read(t, b, "offer", chromedp.Text(chromedp.CSS(".select-all-matching"))); !strings.Contains(text, "all 620 contacts matching") {
		t.Fatalf("the offer says %q", text)
	}
	run(t, b, "tag them all",
		chromedp.Click(chromedp.ID("all-matching")),
		chromedp.SetValue(chromedp.ID("bulk-action"), "tag"),
		chromedp.SendKeys(chromedp.ID("bulk-tag"), "vip"),
		chromedp.Click(chromedp.CSS(".bulk-bar button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("bulk-progress")))
	if loc := read(t, b, "location", chromedp.Location()); !strings.Contains(loc, "/contacts/bulk/") {
		t.Fatalf("the action did not start a job: %s", loc)
	}
	run(t, b, "progress to the end", chromedp.WaitVisible(chromedp.CSS("#bulk-progress .bulk-result")))
	if text := read(t, b, "result", chromedp.Text(chromedp.ID("bulk-progress"))); !strings.Contains(text, `Tag "vip" added to 620 contacts.`) {
		t.Fatalf("the job's page says %q", text)
	}
	run(t, b, "back to the list",
		chromedp.Click(chromedp.CSS("#bulk-progress a.button")),
		chromedp.WaitVisible(chromedp.CSS(".page-range")))
	if loc := read(t, b, "location", chromedp.Location()); !strings.Contains(loc, "tag=many") {
		t.Errorf("back at %s: the filters are lost", loc)
	}
	if n := f.countIn(t, store.ContactFilter{Tag: "vip"}); n < 620 {
		t.Errorf("%d contacts tagged vip", n)
	}
}
