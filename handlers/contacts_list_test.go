package handlers

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"atrium/store"
)

// seedTagged adds n contacts with a tag of their own to workspace A, named
// p000, p001… in the order they were added.
func (f *fixture) seedTagged(t *testing.T, n int, tag string) {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for i := range n {
		if _, err := store.CreateContact(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID},
			store.ContactInput{FirstName: s(fmt.Sprintf("p%03d", i)), LastName: s("Paged"), Tags: &[]string{tag}}); err != nil {
			t.Fatal(err)
		}
	}
}

var pageRange = regexp.MustCompile(`class="muted page-range">([^<]*)<`)

// pagerLink is the href of the pager's link with this text ("" if none).
func pagerLink(body, text string) string {
	m := regexp.MustCompile(`<a (?:rel="\w+" )?href="([^"]*)">` + regexp.QuoteMeta(text) + `</a>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// The pager says where the page is, through Next, Last and Previous back
// to the first page, with the filters kept.
func TestContactsUI_PaginationRange(t *testing.T) {
	f := newFixture(t)
	f.seedTagged(t, 120, "paged")
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a + "/contacts"
	steps := []struct{ link, want, first string }{
		{"", "1–50 of 120", "p119"},
		{"Next ›", "51–100 of 120", "p069"},
		{"Next ›", "101–120 of 120", "p019"},
		{"‹ Previous", "51–100 of 120", "p069"},
		{"Last »", "71–120 of 120", "p049"}, // the last page is a full one
		{"‹ Previous", "21–70 of 120", "p099"},
		{"‹ Previous", "1–50 of 120", "p119"}, // short of a page: the first page whole
		{"Next ›", "51–100 of 120", "p069"},
		{"« First", "1–50 of 120", "p119"},
	}
	body := c.get(base + "?tag=paged").body
	for i, st := range steps {
		if st.link != "" {
			href := pagerLink(body, st.link)
			if href == "" {
				t.Fatalf("step %d: no %q link", i, st.link)
			}
			if !strings.Contains(href, "tag=paged") {
				t.Fatalf("step %d: %q lost the filter: %s", i, st.link, href)
			}
			body = c.get(base + href).body
		}
		m := pageRange.FindStringSubmatch(body)
		if m == nil || m[1] != st.want {
			t.Fatalf("step %d (%s): range %v, want %q", i, st.link, m, st.want)
		}
		if first := regexp.MustCompile(`>(p\d{3}) Paged<`).FindStringSubmatch(body); first == nil || first[1] != st.first {
			t.Fatalf("step %d (%s): first row %v, want %s", i, st.link, first, st.first)
		}
	}
	// The first page has no First or Previous, the last no Next or Last.
	first := c.get(base + "?tag=paged").body
	if pagerLink(first, "‹ Previous") != "" || pagerLink(first, "« First") != "" {
		t.Error("the first page links to a page before it")
	}
	last := c.get(base + "?tag=paged&page=last").body
	if pagerLink(last, "Next ›") != "" || pagerLink(last, "Last »") != "" {
		t.Error("the last page links to a page after it")
	}
	// A cursor without its position still pages, without a range.
	next := pagerLink(first, "Next ›")
	r := c.get(base + strings.Replace(next, "from=51", "", 1))
	if m := pageRange.FindStringSubmatch(r.body); m == nil || m[1] != "50 shown of 120" {
		t.Errorf("a page of unknown position says %v", m)
	}
}
