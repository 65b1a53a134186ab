package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"atrium/store"
)

// The lists load again in place with htmx: a marker set on window before
// stays there (no page load), the address bar follows, and Back shows the
// list before.

// markJS sets the marker a page load would wipe out.
const markJS = `window.__marker = 1`

// keptJS is "kept" while the marker set by markJS is there.
const keptJS = `window.__marker === 1 ? "kept" : "reloaded"`

// firstContactJS is the name of the first contact in the table.
const firstContactJS = `(document.querySelector('.table tbody tr a[href*="/contacts/"]') || {textContent: ""}).textContent.trim()`

// tbodyJS is the text of the table's rows.
const tbodyJS = `(document.querySelector(".table tbody") || {textContent: ""}).textContent.replace(/\s+/g, " ")`

// backJS goes one step back in the history, as the Back button does.
const backJS = `history.back()`

// waitFor waits until the JavaScript condition is true, failing with what
// describe says about the page when it does not come.
func waitFor(t *testing.T, b context.Context, what, cond, describe string) {
	t.Helper()
	if _, err := chromedp.Run(b, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(15e9))); err != nil {
		t.Fatalf("%s: %v; the page has %s", what, err, read(t, b, "page", chromedp.Evaluate[string](describe)))
	}
}

// stillInPlace fails unless the page was not loaded again since markJS.
func stillInPlace(t *testing.T, b context.Context, after string) {
	t.Helper()
	if got := read(t, b, "marker", chromedp.Evaluate[string](keptJS)); got != "kept" {
		t.Fatalf("after %s, the whole page was loaded again", after)
	}
}

// contactsStateJS describes the contact list for failure messages.
const contactsStateJS = `location.search + " | " + ((document.querySelector(".page-range") || {textContent: "no pager"}).textContent) + " | " + ` + tbodyJS + `.slice(0, 200)`

// TestBrowser_ContactsListInPlace: filtering by stage, the next page,
// sorting by name, removing a chip, opening a saved view and typing in
// the search box each update the contact list without loading the page;
// the address bar shows the list (a reload shows the same one) and Back
// returns the list before.
func TestBrowser_ContactsListInPlace(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	for i := range 55 {
		if _, err := store.CreateContact(t.Context(), l.DB, a, store.ContactInput{FirstName: s(fmt.Sprintf("Q%02d", i)), LastName: s("Quinn"), Stage: s("qualified")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"Abe", "Zed"} {
		if _, err := store.CreateContact(t.Context(), l.DB, a, store.ContactInput{FirstName: s(name), LastName: s("Lead"), Stage: s("lead")}); err != nil {
			t.Fatal(err)
		}
	}
	view, err := store.CreateView(t.Context(), l.DB, f.member.ID, store.ViewContacts, store.ViewInput{Name: s("New leads"), Query: s("stage=lead")})
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	b := signInBrowser(t, f, f.member.Email)
	base := f.ts.URL + "/w/" + f.a + "/contacts"

	run(t, b, "the whole list",
		chromedp.Navigate(base+"?view=all"),
		chromedp.WaitVisible(chromedp.ID("fstage")),
		chromedp.Evaluate[chromedp.Void](markJS))

	run(t, b, "filter by stage",
		chromedp.SetValue(chromedp.ID("fstage"), "qualified"),
		chromedp.Click(chromedp.CSS(".filters button[type=submit]")))
	waitFor(t, b, "the qualified contacts", `location.search.includes("stage=qualified") && document.querySelector(".page-range").textContent.includes("of 55")`, contactsStateJS)
	stillInPlace(t, b, "filtering")
	if rows := read(t, b, "rows", chromedp.Evaluate[string](tbodyJS)); strings.Contains(rows, "Lead") || !strings.Contains(rows, "Quinn") {
		t.Errorf("filtered by stage, the table shows %q", rows)
	}
	// The focus moves once htmx has settled the new list, a moment after
	// it shows: given up to 2 s, then checked.
	chromedp.Run(b, chromedp.Poll[bool](`document.activeElement !== document.body`, chromedp.WithPollingTimeout(2e9)))
	if got := read(t, b, "focus", chromedp.Evaluate[string](`document.activeElement.tagName + ":" + document.activeElement.textContent.trim()`)); got != "H1:Contacts" {
		t.Errorf("after filtering, the focus is on %s, not the list's heading", got)
	}

	run(t, b, "next page", chromedp.Click(chromedp.CSS(`.pager a[rel="next"]`)))
	waitFor(t, b, "the second page", `location.search.includes("cursor=") && document.querySelector(".page-range").textContent.startsWith("51")`, contactsStateJS)
	stillInPlace(t, b, "paging")
	if rows := read(t, b, "rows", chromedp.Evaluate[string](tbodyJS)); strings.Contains(rows, "Q54") || !strings.Contains(rows, "Q00") {
		t.Errorf("the second page (newest first) shows %q", rows)
	}
	// The pager was clicked at the bottom of the page: the new page shows
	// from its top.
	if top, err := chromedp.Run(b, chromedp.Evaluate[float64](`document.getElementById("contacts-list").getBoundingClientRect().top`)); err != nil || top < 0 || top > 200 {
		t.Errorf("after paging, the top of the list is at %v px (%v), not in view", top, err)
	}
	second := read(t, b, "location", chromedp.Evaluate[string](`location.search`))
	run(t, b, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".page-range")))
	if got := read(t, b, "after reload", chromedp.Evaluate[string](`location.search + " " + document.querySelector(".page-range").textContent`)); !strings.HasPrefix(got, second+" 51") {
		t.Errorf("a reload shows %q, not the second page", got)
	}
	run(t, b, "mark again", chromedp.Evaluate[chromedp.Void](markJS))

	run(t, b, "sort by name", chromedp.Click(chromedp.CSS(`.table thead a[href*="sort=name"]`)))
	waitFor(t, b, "sorted by name", `location.search.includes("sort=name") && `+firstContactJS+` === "Q00 Quinn"`, contactsStateJS)
	stillInPlace(t, b, "sorting")
	sorted := read(t, b, "location", chromedp.Evaluate[string](`location.search`))

	run(t, b, "remove the stage chip", chromedp.Click(chromedp.CSS(`.chip a[aria-label*="qualified"]`)))
	waitFor(t, b, "everyone", `!location.search.includes("stage=") && `+tbodyJS+`.includes("Abe Lead")`, contactsStateJS)
	stillInPlace(t, b, "removing a chip")
	if !strings.Contains(read(t, b, "location", chromedp.Evaluate[string](`location.search`)), "sort=name") {
		t.Error("removing the chip lost the sort")
	}
	everyone := read(t, b, "location", chromedp.Evaluate[string](`location.search`))

	run(t, b, "open the saved view", chromedp.Click(chromedp.CSS(`.tabs a[href*="`+view.ID+`"]`)))
	waitFor(t, b, "the view", `document.querySelector('.tabs a[aria-current="page"]').textContent.trim().startsWith("New leads") && !`+tbodyJS+`.includes("Quinn")`, contactsStateJS)
	stillInPlace(t, b, "opening a saved view")
	if rows := read(t, b, "rows", chromedp.Evaluate[string](tbodyJS)); !strings.Contains(rows, "Abe Lead") || !strings.Contains(rows, "Zed Lead") || strings.Contains(rows, "Quinn") || strings.Contains(rows, "qualified") {
		t.Errorf("the view shows %q", rows)
	}
	if loc := read(t, b, "location", chromedp.Evaluate[string](`location.search`)); loc == everyone {
		t.Errorf("the address bar did not follow the view: %s", loc)
	}

	run(t, b, "back", chromedp.Evaluate[chromedp.Void](backJS))
	waitFor(t, b, "the list before the view", `location.search === `+jsString(everyone)+` && `+tbodyJS+`.includes("Abe Lead") && `+tbodyJS+`.includes("Quinn")`, contactsStateJS)
	run(t, b, "back again", chromedp.Evaluate[chromedp.Void](backJS))
	waitFor(t, b, "the list before removing the chip", `location.search === `+jsString(sorted)+` && `+firstContactJS+` === "Q00 Quinn" && !`+tbodyJS+`.includes("Lead")`, contactsStateJS)
	stillInPlace(t, b, "going back")
	// The lists hold the workspace's people: htmx keeps no copy of them in
	// the browser's storage (Back asked the server).
	if got := read(t, b, "history cache", chromedp.Evaluate[string](`String(sessionStorage.getItem("htmx-history-cache"))`)); got != "null" && got != "[]" {
		t.Errorf("htmx keeps the lists in sessionStorage: %.200s", got)
	}

	run(t, b, "type a search",
		chromedp.Evaluate[chromedp.Void](markJS),
		chromedp.Click(chromedp.ID("fq")),
		chromedp.SendKeys(chromedp.ID("fq"), "Q07"))
	waitFor(t, b, "the search", `location.search.includes("q=Q07") && `+tbodyJS+`.trim().startsWith("Q07 Quinn") && document.querySelectorAll(".table tbody tr").length === 1`, contactsStateJS)
	stillInPlace(t, b, "typing a search")
	if got := read(t, b, "focus", chromedp.Evaluate[string](`document.activeElement.id + ":" + document.activeElement.value`)); got != "fq:Q07" {
		t.Errorf("while searching, the focus is on %q, not the search box", got)
	}
	// A letter typed while the list was on its way (the answer is in,
	// not yet shown) is not lost: the search box keeps it and the list
	// follows it.
	run(t, b, "type while the list loads",
		chromedp.Evaluate[chromedp.Void](`document.addEventListener("htmx:beforeOnLoad", function once() {
			document.removeEventListener("htmx:beforeOnLoad", once);
			const box = document.getElementById("fq");
			box.value += "9";
			box.dispatchEvent(new Event("input", {bubbles: true}));
		})`),
		chromedp.SendKeys(chromedp.ID("fq"), "\b\b\bQ1"))
	waitFor(t, b, "the search typed on", `location.search.includes("q=Q19") && document.getElementById("fq").value === "Q19" && document.querySelectorAll(".table tbody tr").length === 1 && `+tbodyJS+`.trim().startsWith("Q19 Quinn")`, `document.getElementById("fq").value + " | " + `+contactsStateJS)
	// The search took the place of the list it searched in the history:
	// Back goes to the list before that one, not through each letter.
	run(t, b, "back from the search", chromedp.Evaluate[chromedp.Void](backJS))
	waitFor(t, b, "the second page again", `location.search === `+jsString(second)+` && document.querySelector(".page-range").textContent.startsWith("51")`, contactsStateJS)
	stillInPlace(t, b, "going back from the search")
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestBrowser_CompaniesListInPlace: searching and the next page update
// the company list without loading the page; Back returns the list
// before.
func TestBrowser_CompaniesListInPlace(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	for i := range 55 {
		if _, err := store.CreateCompany(t.Context(), l.DB, a, store.CompanyInput{Name: s(fmt.Sprintf("Borealis %02d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.CreateCompany(t.Context(), l.DB, a, store.CompanyInput{Name: s("Zenith Works")}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	b := signInBrowser(t, f, f.viewer.Email)
	const state = `location.search + " | " + document.querySelector("#companies-list .lead").textContent + " | " + ((document.querySelector(".pager .muted") || {textContent: ""}).textContent)`

	run(t, b, "the whole list",
		chromedp.Navigate(f.ts.URL+"/w/"+f.a+"/companies"),
		chromedp.WaitVisible(chromedp.ID("cq")),
		chromedp.Evaluate[chromedp.Void](markJS),
		chromedp.Click(chromedp.ID("cq")),
		chromedp.SendKeys(chromedp.ID("cq"), "Borealis"))
	waitFor(t, b, "the search", `location.search.includes("q=Borealis") && document.querySelector(".pager .muted").textContent.trim() === "50 shown of 55 companies"`, state)
	stillInPlace(t, b, "searching")
	if rows := read(t, b, "rows", chromedp.Evaluate[string](tbodyJS)); strings.Contains(rows, "Zenith") {
		t.Errorf("the search shows %q", rows)
	}
	searched := read(t, b, "location", chromedp.Evaluate[string](`location.search`))

	run(t, b, "next page", chromedp.Click(chromedp.CSS(`.pager a[rel="next"]`)))
	waitFor(t, b, "the second page", `location.search.includes("cursor=") && location.search.includes("q=Borealis") && document.querySelector(".pager .muted").textContent.trim() === "5 shown of 55 companies"`, state)
	stillInPlace(t, b, "paging")

	run(t, b, "back", chromedp.Evaluate[chromedp.Void](backJS))
	waitFor(t, b, "the first page again", `location.search === `+jsString(searched)+` && document.querySelector(".pager .muted").textContent.trim() === "50 shown of 55 companies"`, state)
}

// TestBrowser_DealsInPlace: searching the board and switching to the
// table update the deals without loading the page; Back returns the
// board, whose cards still move with htmx after the swaps.
func TestBrowser_DealsInPlace(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	deal, err := store.CreateDeal(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.DealInput{Title: s("Zephyr renewal"), StageID: &f.stage})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pipelineOf(t, f, f.a)
	target := p.Stages[2]
	b := signInBrowser(t, f, f.member.Email)
	const state = `location.search + " | " + [...document.querySelectorAll(".deal-card .deal-title, .table tbody td:first-child")].map(e => e.textContent.trim()).join(", ")`

	run(t, b, "the board",
		chromedp.Navigate(f.ts.URL+"/w/"+f.a+"/deals"),
		chromedp.WaitVisible(chromedp.CSS(".board")),
		chromedp.Evaluate[chromedp.Void](markJS),
		chromedp.Click(chromedp.ID("dq")),
		chromedp.SendKeys(chromedp.ID("dq"), "Zephyr"))
	waitFor(t, b, "the search", `location.search.includes("q=Zephyr") && document.querySelectorAll(".board .deal-card").length === 1 && document.querySelector(".board .deal-card").textContent.includes("Zephyr")`, state)
	stillInPlace(t, b, "searching the board")
	board := read(t, b, "location", chromedp.Evaluate[string](`location.search`))

	run(t, b, "the table", chromedp.Click(chromedp.CSS(`.tabs[aria-label="View"] a:nth-of-type(2)`)))
	waitFor(t, b, "the table", `location.search.includes("view=table") && location.search.includes("q=Zephyr") && document.querySelector(".table tbody") && `+tbodyJS+`.includes("Zephyr") && !`+tbodyJS+`.includes("Big sale")`, state)
	stillInPlace(t, b, "switching to the table")

	run(t, b, "back", chromedp.Evaluate[chromedp.Void](backJS))
	waitFor(t, b, "the board again", `location.search === `+jsString(board)+` && document.querySelectorAll(".board .deal-card").length === 1`, state)
	stillInPlace(t, b, "going back")

	drag := `(() => {
		const card = document.querySelector('.deal-card[data-deal="` + deal.ID + `"]');
		const col = document.querySelector('.column[data-stage="` + target.ID + `"]');
		const dt = new DataTransfer();
		card.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: dt}));
		col.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt}));
		col.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
	})()`
	run(t, b, "move the card", chromedp.Evaluate[chromedp.Void](drag))
	waitFor(t, b, "the card moved", `!!document.querySelector('.column[data-stage="`+target.ID+`"] .deal-card[data-deal="`+deal.ID+`"]')`, state)
	stillInPlace(t, b, "moving a card")
}

// TestBrowser_ListInPlaceAfterSignOut: when the session has ended, a list
// loading in place shows the sign-in page whole (coming back to the list
// after), not an empty list.
func TestBrowser_ListInPlaceAfterSignOut(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set ATRIUM_CHROMIUM); skipping the browser test")
	}
	f := newFixture(t)
	f.seedTagged(t, 60, "paged")
	b := signInBrowser(t, f, f.member.Email)
	run(t, b, "the list",
		chromedp.Navigate(f.ts.URL+"/w/"+f.a+"/contacts?tag=paged"),
		chromedp.WaitVisible(chromedp.CSS(`.pager a[rel="next"]`)),
		chromedp.Evaluate[chromedp.Void](markJS),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
			return err
		}),
		chromedp.Click(chromedp.CSS(`.pager a[rel="next"]`)))
	run(t, b, "the sign-in page", chromedp.WaitVisible(chromedp.ID("f-email")))
	if loc := read(t, b, "location", chromedp.Evaluate[string](`location.pathname`)); loc != "/login" {
		t.Errorf("the sign-in form is shown at %s", loc)
	}
	if next := read(t, b, "location", chromedp.Evaluate[string](`new URLSearchParams(location.search).get("next") || ""`)); !strings.Contains(next, "/contacts?") || !strings.Contains(next, "tag=paged") {
		t.Errorf("the sign-in page leads back to %q, not the list", next)
	}
}
