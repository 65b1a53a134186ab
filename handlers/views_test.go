package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atrium/store"
)

// viewID is the id of the user's view of this name in workspace A.
func (f *fixture) viewID(t *testing.T, user *store.User, name string) string {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	p, err := store.UserListPrefs(t.Context(), l.DB, user.ID, store.ViewContacts)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.Views {
		if v.Name == name {
			return v.ID
		}
	}
	t.Fatalf("%s has no view %q", user.Email, name)
	return ""
}

// Saved views: save the list's filters, sort and columns under a name,
// open, rename, make default, delete; names are checked; a viewer keeps
// views of their own; another user's view is not found.
func TestContactsUI_SavedViews(t *testing.T) {
	f := newFixture(t)
	for _, in := range []store.ContactInput{
		{FirstName: s("Cara"), Stage: s("customer"), Tags: &[]string{"vip"}},
		{FirstName: s("Dan"), Stage: s("lead"), Tags: &[]string{"vip"}},
	} {
		f.contactIn(t, f.a, in)
	}
	c := f.ts.loggedIn(t, f.viewer.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/contacts"
	save := func(name, back string, extra ...string) response {
		form := url.Values{"name": {name}, "back": {back}}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		return c.post(base+"/views", token, form)
	}

	t.Run("OK", func(t *testing.T) {
		r := save("  VIP leads ", "tag=vip&stage=lead&sort=name&dir=asc&cols=phone&cursor=abc&from=51")
		wantStatus(t, "save", r, http.StatusSeeOther)
		id := f.viewID(t, f.viewer, "VIP leads")
		loc := r.header.Get("Location")
		for _, want := range []string{"tag=vip", "stage=lead", "sort=name", "cols=phone", "view=" + id} {
			if !strings.Contains(loc, want) {
				t.Errorf("the view opens at %q, without %s", loc, want)
			}
		}
		if strings.Contains(loc, "cursor") || strings.Contains(loc, "from=") {
			t.Errorf("the view kept the page: %q", loc)
		}
		page := c.get(loc).body
		if !strings.Contains(page, `aria-current="page">VIP leads`) || !strings.Contains(page, "Dan") || strings.Contains(page, "Cara") {
			t.Error("the opened view is not the current tab or does not filter")
		}
		// Rename, then default: the bare list opens it.
		wantStatus(t, "rename", c.post(base+"/views/"+id, token, url.Values{"name": {"Hot leads"}}), http.StatusSeeOther)
		wantStatus(t, "make default", c.post(base+"/views/"+id, token, url.Values{"default": {"on"}}), http.StatusSeeOther)
		page = c.get(base).body
		if !strings.Contains(page, `aria-current="page">Hot leads`) || strings.Contains(page, "Cara") {
			t.Error("the list does not open the default view")
		}
		if page = c.get(base + "?view=all").body; !strings.Contains(page, "Cara") {
			t.Error("view=all does not show the whole list")
		}
		// Clearing the filters, or the last chip, shows the whole list, not
		// the default view again.
		page = c.get(base + "?tag=vip").body
		if !strings.Contains(page, `contacts?view=all">Clear</a>`) || !strings.Contains(page, `href="/w/`+f.a+`/contacts?view=all" aria-label="Remove the filter Tag: vip"`) {
			t.Error("Clear or the chip leads back to the default view")
		}
		// Changed filters can be kept in the view.
		wantStatus(t, "keep filters", c.post(base+"/views/"+id, token, url.Values{"keep": {"on"}, "back": {"tag=vip&view=" + id}}), http.StatusSeeOther)
		if page = c.get(base).body; !strings.Contains(page, "Cara") || !strings.Contains(page, "Dan") {
			t.Error("the view did not keep its new filters")
		}
		// A second default replaces the first.
		wantStatus(t, "second default", save("Customers", "stage=customer", "default", "on"), http.StatusSeeOther)
		if page = c.get(base).body; !strings.Contains(page, `aria-current="page">Customers`) {
			t.Error("the newer default does not open")
		}
		wantStatus(t, "delete", c.post(base+"/views/"+id+"/delete", token, nil), http.StatusSeeOther)
		if page = c.get(base + "?view=all").body; strings.Contains(page, "view="+id) {
			t.Error("the deleted view is still listed")
		}
		wantStatus(t, "deleted view", c.get(base+"?view="+id), http.StatusNotFound)
	})

	t.Run("ErrName", func(t *testing.T) {
		for name, tc := range map[string]struct{ name, want string }{
			"Empty":   {"  ", "Give the view a name."},
			"TooLong": {strings.Repeat("n", 61), "at most 60 characters"},
			"Taken":   {"customers", "You already have a view named"},
		} {
			t.Run(name, func(t *testing.T) {
				r := save(tc.name, "tag=vip")
				wantStatus(t, "save", r, http.StatusUnprocessableEntity)
				if !strings.Contains(r.body, tc.want) || !strings.Contains(r.body, `id="views-menu" open`) {
					t.Errorf("the list does not show %q in the open views menu", tc.want)
				}
			})
		}
		id := f.viewID(t, f.viewer, "Customers")
		save("Other", "")
		r := c.post(base+"/views/"+id, token, url.Values{"name": {"Other"}, "back": {"view=" + id + "&stage=customer"}})
		wantStatus(t, "rename to a taken name", r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.body, "You already have a view named") {
			t.Error("no message for a rename to a taken name")
		}
		// Another user may use the same name.
		member := f.ts.loggedIn(t, f.member.Email)
		wantStatus(t, "same name, another user", member.post(base+"/views", member.workspaceToken(f.a), url.Values{"name": {"Customers"}}), http.StatusSeeOther)
	})

	t.Run("ErrOtherUsersView", func(t *testing.T) {
		theirs := f.viewID(t, f.member, "Customers")
		wantStatus(t, "open", c.get(base+"?view="+theirs), http.StatusNotFound)
		wantStatus(t, "rename", c.post(base+"/views/"+theirs, token, url.Values{"name": {"Mine now"}}), http.StatusNotFound)
		wantStatus(t, "default", c.post(base+"/views/"+theirs, token, url.Values{"default": {"on"}}), http.StatusNotFound)
		wantStatus(t, "delete", c.post(base+"/views/"+theirs+"/delete", token, nil), http.StatusNotFound)
		if page := c.get(base + "?view=all").body; strings.Contains(page, "/views/"+theirs) {
			t.Error("another user's view is listed")
		}
		f.viewID(t, f.member, "Customers") // still there, unchanged
	})

	t.Run("ErrOtherWorkspacesView", func(t *testing.T) {
		// The owner is a member of both: their view of A is not one of B.
		owner := f.ts.loggedIn(t, f.owner.Email)
		wantStatus(t, "save in A", owner.post(base+"/views", owner.workspaceToken(f.a), url.Values{"name": {"Mine"}}), http.StatusSeeOther)
		id := f.viewID(t, f.owner, "Mine")
		bBase := "/w/" + f.b + "/contacts"
		bToken := owner.workspaceToken(f.b)
		wantStatus(t, "open in B", owner.get(bBase+"?view="+id), http.StatusNotFound)
		wantStatus(t, "rename in B", owner.post(bBase+"/views/"+id, bToken, url.Values{"name": {"X"}}), http.StatusNotFound)
		wantStatus(t, "delete in B", owner.post(bBase+"/views/"+id+"/delete", bToken, nil), http.StatusNotFound)
		f.viewID(t, f.owner, "Mine")
	})
}
