package handlers

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"atrium/store"
)

// fullPage fails unless r is a whole page (the layout around the list)
// holding the list's container: what a link gives without JavaScript, and
// what htmx takes the container out of.
func fullPage(t *testing.T, what string, r response, container string) {
	t.Helper()
	wantStatus(t, what, r, http.StatusOK)
	if !strings.HasPrefix(r.body, "<!doctype html>") || !strings.Contains(r.body, `<main id="main"`) || !strings.HasSuffix(strings.TrimSpace(r.body), "</html>") {
		t.Errorf("%s: not a whole page", what)
	}
	if !strings.Contains(r.body, `<div id="`+container+`" data-list hx-history="false">`) {
		t.Errorf("%s: the page has no #%s", what, container)
	}
}

// resolve is the path a link of a list page leads to.
func resolve(t *testing.T, page, href string) string {
	t.Helper()
	u, err := url.Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(html.UnescapeString(href))
	if err != nil {
		t.Fatal(err)
	}
	return u.ResolveReference(ref).String()
}

// firstHref is the first href the pattern's group finds in body ("" if none).
func firstHref(body, pattern string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

var postFormTag = regexp.MustCompile(`<form method="post"[^>]*>`)

// TestLists_InPlaceLinksArePlainPages: what loads the contact list in
// place with htmx (pager, sort, chip, saved-view tab, filter form) is a
// plain GET link or form that gives the whole page without JavaScript;
// an htmx request gets the whole page too (hx-select picks the list); the
// forms that post (bulk bar, views) stay full-page posts.
func TestLists_InPlaceLinksArePlainPages(t *testing.T) {
	f := newFixture(t)
	f.seedTagged(t, 60, "paged")
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a + "/contacts"
	page := base + "?tag=paged&view=all"
	body := c.get(page).body
	fullPage(t, "the list", response{status: http.StatusOK, body: body}, "contacts-list")
	for what, want := range map[string]string{
		"the filter form":   `<form method="get" action="` + base + `" class="filters" role="search" aria-label="Filter contacts" hx-boost="true" hx-target="#contacts-list" hx-select="#contacts-list" hx-swap="outerHTML show:top">`,
		"the search box":    `hx-get="` + base + `" hx-trigger="input changed delay:300ms" hx-include="closest form" hx-replace-url="true"`,
		"the chips":         `<ul class="chips" aria-label="Active filters" hx-boost="true" hx-target="#contacts-list"`,
		"the tabs":          `<nav class="tabs" aria-label="Saved views" hx-boost="true" hx-target="#contacts-list"`,
		"the sort links":    `<thead hx-boost="true" hx-target="#contacts-list"`,
		"the column chosen": `aria-label="Choose the columns" hx-boost="true" hx-target="#contacts-list"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("%s does not load the list in place: no %s", what, want)
		}
	}
	for _, tag := range postFormTag.FindAllString(body, -1) {
		if strings.Contains(tag, "hx-") && !strings.Contains(tag, `action="`+base+`/columns"`) {
			t.Errorf("a form that posts goes through htmx: %s", tag)
		}
	}
	links := map[string]string{
		"next page":    pagerLink(body, "Next ›"),
		"last page":    pagerLink(body, "Last »"),
		"sort by name": firstHref(body, `<th scope="col"><a href="([^"]*)">Name`),
		"remove chip":  firstHref(body, `<a href="([^"]*)" aria-label="Remove the filter`),
		"all tab":      firstHref(body, `<nav class="tabs"[^>]*>\s*<a href="([^"]*)"`),
	}
	for what, href := range links {
		if href == "" {
			t.Errorf("the list has no %s link", what)
			continue
		}
		fullPage(t, what, c.get(resolve(t, page, href)), "contacts-list")
	}
	next := resolve(t, page, links["next page"])
	fullPage(t, "the next page, asked by htmx", c.getHX(next), "contacts-list")
	if r := c.get(next); !strings.Contains(r.body, "51–60 of 60") {
		t.Errorf("the next page link leads to %q", pageRange.FindString(r.body))
	}
	// The filter form's own GET, as a browser sends it without JavaScript.
	r := c.get(base + "?q=&stage=&tag=paged&owner=&sort=&cols=")
	fullPage(t, "the filter form", r, "contacts-list")
	if !strings.Contains(r.body, "60 contacts match these filters") {
		t.Error("the filter form's GET does not filter")
	}
}

// TestLists_CompaniesAndDealsInPlace: the company and deal lists load in
// place with htmx through plain links and GET forms that give whole pages
// without JavaScript; the board's own htmx (moving a card) is untouched.
func TestLists_CompaniesAndDealsInPlace(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	for i := range store.DefaultLimit + 5 {
		if _, err := store.CreateCompany(t.Context(), l.DB, a, store.CompanyInput{Name: s(fmt.Sprintf("Borealis %02d", i)), Tags: &[]string{"north"}}); err != nil {
			t.Fatal(err)
		}
		title := fmt.Sprintf("Deal %02d", i)
		if _, err := store.CreateDeal(t.Context(), l.DB, a, store.DealInput{Title: &title, StageID: &f.stage}); err != nil {
			t.Fatal(err)
		}
	}
	l.Release()
	c := f.ts.loggedIn(t, f.member.Email)

	companies := "/w/" + f.a + "/companies"
	body := c.get(companies + "?q=Borealis").body
	fullPage(t, "the companies", response{status: http.StatusOK, body: body}, "companies-list")
	for what, want := range map[string]string{
		"the filter form": `aria-label="Filter companies" hx-boost="true" hx-target="#companies-list" hx-select="#companies-list"`,
		"the search box":  `hx-get="` + companies + `" hx-trigger="input changed delay:300ms" hx-include="closest form" hx-replace-url="true"`,
		"the sort links":  `<thead hx-boost="true" hx-target="#companies-list"`,
		"the pager":       `<nav class="pager" aria-label="Pages" hx-boost="true" hx-target="#companies-list"`,
		"the tags":        `<a class="tag" href="?q=Borealis&amp;tag=north" hx-boost="true" hx-target="#companies-list"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("%s does not load the companies in place: no %s", what, want)
		}
	}
	next := pagerLink(body, "Next ›")
	if next == "" {
		t.Fatal("the companies have no next page link")
	}
	r := c.get(resolve(t, companies+"?q=Borealis", next))
	fullPage(t, "the next companies", r, "companies-list")
	if !strings.Contains(r.body, "5 shown of 55 companies") {
		t.Error("the next page link does not lead to the next page")
	}

	deals := "/w/" + f.a + "/deals"
	body = c.get(deals + "?view=table").body
	fullPage(t, "the deals", response{status: http.StatusOK, body: body}, "deals-list")
	for what, want := range map[string]string{
		"the filter form": `aria-label="Filter deals" hx-boost="true" hx-target="#deals-list" hx-select="#deals-list"`,
		"the view tabs":   `<nav class="tabs" aria-label="View" hx-boost="true" hx-target="#deals-list"`,
		"the pager":       `<nav class="pager" aria-label="Pages" hx-boost="true" hx-target="#deals-list"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("%s does not load the deals in place: no %s", what, want)
		}
	}
	next = pagerLink(body, "Next ›")
	if next == "" {
		t.Fatal("the deals table has no next page link")
	}
	fullPage(t, "the next deals", c.get(resolve(t, deals+"?view=table", next)), "deals-list")
	board := firstHref(body, `<nav class="tabs" aria-label="View"[^>]*>\s*<a href="([^"]*)"`)
	r = c.get(resolve(t, deals+"?view=table", board))
	fullPage(t, "the board", r, "deals-list")
	if !strings.Contains(r.body, `hx-target="#board-area" hx-select="#board-area" hx-swap="outerHTML"`) {
		t.Error("the board's cards no longer move in place")
	}
}
