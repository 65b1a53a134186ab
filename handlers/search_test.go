package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atrium/store"
)

// TestSearchUI_Groups: the search page groups results by kind (companies
// first) with counts and a "show all" page per kind, and shows nothing of
// another workspace.
func TestSearchUI_Groups(t *testing.T) {
	f := newFixture(t)
	for i := range 7 {
		f.contactIn(t, f.a, store.ContactInput{FirstName: s("Miles"), LastName: s("Dyson"), Email: s("miles" + string(rune('a'+i)) + "@cyberdyne.example")})
	}
	f.contactIn(t, f.a, store.ContactInput{FirstName: s("Sarah"), Company: s("Cyberdyne")})
	f.contactIn(t, f.b, store.ContactInput{FirstName: s("Spy"), Email: s("spy@cyberdyne.example")})
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a + "/search"

	r := c.get(base + "?q=cyberdyne")
	wantStatus(t, "search", r, http.StatusOK)
	companies, contacts := strings.Index(r.body, "Companies <span"), strings.Index(r.body, "Contacts <span")
	if companies < 0 || contacts < companies {
		t.Fatalf("companies (%d) are not listed before contacts (%d)", companies, contacts)
	}
	if !strings.Contains(r.body, "(1)") || !strings.Contains(r.body, "(7)") {
		t.Error("the groups do not show their counts")
	}
	all := "?" + url.Values{"q": {"cyberdyne"}, "kind": {"contact"}}.Encode()
	if !strings.Contains(r.body, `href="/w/`+f.a+`/search`+strings.ReplaceAll(all, "&", "&amp;")+`"`) || !strings.Contains(r.body, "Show all 7 contacts") {
		t.Error("no show-all link for the contacts")
	}
	if strings.Contains(r.body, "Spy") {
		t.Error("the search of A shows B's contact")
	}
	if first := strings.Index(r.body, ">Cyberdyne</a>"); first < 0 || first > strings.Index(r.body, "Miles Dyson") {
		t.Error("the company is not the first result")
	}

	r = c.get(base + all)
	wantStatus(t, "show all", r, http.StatusOK)
	if n := strings.Count(r.body, "Miles Dyson"); n != 7 || strings.Contains(r.body, "Sarah") || strings.Contains(r.body, "Spy") {
		t.Errorf("show all lists %d of the 7 contacts, or others", n)
	}
	wantStatus(t, "unknown kind", c.get(base+"?q=cyberdyne&kind=planet"), http.StatusBadRequest)
	wantStatus(t, "bad cursor", c.get(base+"?q=cyberdyne&kind=contact&cursor=zzz"), http.StatusBadRequest)
	if r := c.get(base + "?q=nothingmatches"); !strings.Contains(r.body, "Nothing found") {
		t.Error("no empty state")
	}
}
