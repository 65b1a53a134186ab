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

// The columns come from the URL's cols, else from the user's choice, else
// the defaults; a custom field is a column too, and the choice is the
// user's own (a viewer's as well), kept per workspace.
func TestContactsUI_Columns(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateCustomField(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID},
		store.NewCustomField{Entity: "contact", Label: "City", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateContact(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID},
		store.ContactInput{FirstName: s("Lis"), Phone: s("+351 555 0101"), Email: s("lis@porto.example"), Custom: map[string]any{"city": "Porto"}}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	heads := func(body string) string {
		var out []string
		for _, m := range regexp.MustCompile(`<th scope="col">(?:<a [^>]*>)?([^<↑↓]*)`).FindAllStringSubmatch(body, -1) {
			out = append(out, strings.TrimSpace(m[1]))
		}
		return strings.Join(out, ",")
	}
	base := "/w/" + f.a + "/contacts"
	for _, u := range []*store.User{f.viewer, f.member} {
		c := f.ts.loggedIn(t, u.Email)
		if got, want := heads(c.get(base).body), "Name,Email,Company,Stage,Owner,Tags,Added"; got != want {
			t.Fatalf("%s: default columns %q, want %q", u.Email, got, want)
		}
		r := c.get(base + "?q=lis&cols=phone,custom.city&cols=updated")
		if got, want := heads(r.body), "Name,Phone,Updated,City"; got != want {
			t.Fatalf("cols from the URL: %q, want %q", got, want)
		}
		table := r.body[strings.Index(r.body, "<table"):]
		if !strings.Contains(table, ">Porto<") || !strings.Contains(table, "351 555 0101") || strings.Contains(table, "lis@porto.example") {
			t.Errorf("the cells do not follow the columns: %s", table)
		}
		if !strings.Contains(r.body, `sort=updated`) {
			t.Error("the Updated column cannot sort")
		}
		if got := heads(c.get(base + "?cols=").body); got != "Name" {
			t.Errorf("no columns chosen shows %q", got)
		}
		if got := heads(c.get(base + "?cols=nonsense,email").body); got != "Name,Email" {
			t.Errorf("an unknown column shows %q", got)
		}
	}
	// The member keeps a choice: it applies without cols, to them only.
	member := f.ts.loggedIn(t, f.member.Email)
	r := member.post(base+"/columns", member.workspaceToken(f.a), url.Values{"cols": {"", "custom.city", "email"}, "back": {"q=lis&tag=x"}})
	wantStatus(t, "save columns", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != base+"?q=lis&tag=x" {
		t.Errorf("back to %q", loc)
	}
	if got, want := heads(member.get(base).body), "Name,Email,City"; got != want {
		t.Errorf("kept columns %q, want %q", got, want)
	}
	if got, want := heads(member.get(base+"?cols=phone").body), "Name,Phone"; got != want {
		t.Errorf("the URL does not win over the kept choice: %q", got)
	}
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	if got, want := heads(viewer.get(base).body), "Name,Email,Company,Stage,Owner,Tags,Added"; got != want {
		t.Errorf("another user sees the member's columns: %q", got)
	}
	wantStatus(t, "viewer saves theirs", viewer.post(base+"/columns", viewer.workspaceToken(f.a), url.Values{"cols": {"phone"}}), http.StatusSeeOther)
	if got := heads(viewer.get(base).body); got != "Name,Phone" {
		t.Errorf("the viewer's choice: %q", got)
	}
	// In workspace B the member's choice of A does not apply.
	f.contactIn(t, f.b, store.ContactInput{FirstName: s("Zed")})
	owner := f.ts.loggedIn(t, f.owner.Email)
	owner.post(base+"/columns", owner.workspaceToken(f.a), url.Values{"cols": {"phone"}})
	if got, want := heads(owner.get("/w/"+f.b+"/contacts").body), "Name,Email,Company,Stage,Owner,Tags,Added"; got != want {
		t.Errorf("workspace B shows A's choice: %q", got)
	}
}
