package handlers

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"atrium/store"
	"atrium/tenant"
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

// runBulkJob runs a bulk action on the contacts of A that f matches as a
// job, as the owner, and returns its id once done.
func (f *fixture) runBulkJob(t *testing.T, filter store.ContactFilter, act store.BulkAction) string {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	id, err := f.ts.tenants.StartBulkContacts(t.Context(), f.ts.tenants.Service(l), tenant.BulkContactsJob{
		WorkspaceID: f.a, Actor: store.Actor{Kind: "user", ID: f.owner.ID}, Filter: filter, Action: act})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := f.ts.tenants.WaitJob(t.Context(), f.a, id); err != nil || j.State != store.JobDone {
		t.Fatalf("the bulk job: %+v, %v", j, err)
	}
	return id
}

// countIn counts the contacts of A a filter matches.
func (f *fixture) countIn(t *testing.T, filter store.ContactFilter) int {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	n, err := store.CountContacts(t.Context(), l.DB, filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// "Apply to all matching": the action applies to the list's filters, not
// to ids, with the rules of the bulk bar; the list comes back filtered.
func TestContactsUI_BulkAllMatching(t *testing.T) {
	f := newFixture(t)
	f.seedTagged(t, 60, "small")
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/contacts"
	bulk := func(form url.Values) response {
		form.Set("all", "matching")
		return c.post(base+"/bulk", token, form)
	}
	t.Run("OfferedOnTheList", func(t *testing.T) {
		page := c.get(base + "?tag=small").body
		if !strings.Contains(page, `name="all" value="matching"`) || !strings.Contains(page, "Apply to all 60 contacts matching") {
			t.Error("the list does not offer all 30 matching")
		}
		if page := c.get(base + "?tag=small&q=p001").body; strings.Contains(page, `name="all"`) {
			t.Error("all matching is offered when the page shows them all")
		}
		i := strings.Index(page, `<select id="bulk-owner" name="owner">`)
		if i < 0 || !strings.Contains(page[i:i+strings.Index(page[i:], "</select>")], f.member.ID) || strings.Contains(page[i:i+strings.Index(page[i:], "</select>")], f.viewer.ID) {
			t.Error("the owner is not a select of assignable members")
		}
	})
	t.Run("InTheRequest", func(t *testing.T) {
		theirs := f.contactIn(t, f.b, store.ContactInput{FirstName: s("Zed"), Tags: &[]string{"small"}})
		r := bulk(url.Values{"action": {"tag"}, "tag": {"bulkvip"}, "back": {"tag=small&sort=name&dir=asc&cursor=x"}})
		wantStatus(t, "tag all", r, http.StatusSeeOther)
		if loc := r.header.Get("Location"); !strings.Contains(loc, "tag=small") || !strings.Contains(loc, "sort=name") {
			t.Errorf("back to %q: the filters are lost", loc)
		}
		if got := f.countIn(t, store.ContactFilter{Tag: "bulkvip"}); got != 60 {
			t.Errorf("%d contacts tagged, want 60", got)
		}
		lb, _ := f.ts.tenants.Acquire(t.Context(), f.b)
		if zed, err := store.GetContact(t.Context(), lb.DB, theirs.ID); err != nil || len(zed.Tags) != 1 {
			t.Errorf("workspace B's contact of the same filter changed: %+v %v", zed, err)
		}
		lb.Release()
		if page := c.get(base + "?tag=small").body; !strings.Contains(page, "Tag &#34;bulkvip&#34; added to 60 contacts.") {
			t.Error("no result message")
		}
		wantStatus(t, "stage, any case", bulk(url.Values{"action": {"stage"}, "stage": {"QUALIFIED"}, "back": {"tag=small"}}), http.StatusSeeOther)
		if got := f.countIn(t, store.ContactFilter{Tag: "small", Stage: "qualified"}); got != 60 {
			t.Errorf("%d contacts qualified, want 60", got)
		}
		// A viewer is no owner: refused, nothing changed.
		wantStatus(t, "viewer as owner", bulk(url.Values{"action": {"owner"}, "owner": {f.viewer.ID}, "back": {"tag=small"}}), http.StatusSeeOther)
		if page := c.get(base + "?tag=small").body; !strings.Contains(page, "viewers cannot") {
			t.Error("no message refusing a viewer as owner")
		}
		if got := f.countIn(t, store.ContactFilter{Tag: "small", OwnerID: f.viewer.ID}); got != 0 {
			t.Errorf("%d contacts owned by a viewer", got)
		}
		wantStatus(t, "owner", bulk(url.Values{"action": {"owner"}, "owner": {f.member.ID}, "back": {"tag=small"}}), http.StatusSeeOther)
		if got := f.countIn(t, store.ContactFilter{Tag: "small", OwnerID: f.member.ID}); got != 60 {
			t.Errorf("%d contacts owned by the member, want 60", got)
		}
		// Each change is audited.
		l, _ := f.ts.tenants.Acquire(t.Context(), f.a)
		list, _, _ := store.ListContacts(t.Context(), l.DB, store.ContactFilter{Tag: "small", Limit: 1})
		tl, _ := store.Timeline(t.Context(), l.DB, "contact", list[0].ID, 20)
		l.Release()
		if len(tl) < 4 {
			t.Errorf("the timeline has %d items, want the creation and three changes", len(tl))
		}
	})
	t.Run("ViewerRefused", func(t *testing.T) {
		v := f.ts.loggedIn(t, f.viewer.Email)
		r := v.post(base+"/bulk", v.workspaceToken(f.a), url.Values{"all": {"matching"}, "action": {"delete"}, "confirm": {"yes"}, "back": {"tag=small"}})
		wantStatus(t, "viewer", r, http.StatusForbidden)
		if got := f.countIn(t, store.ContactFilter{Tag: "small"}); got != 60 {
			t.Errorf("%d contacts left", got)
		}
	})
	t.Run("DeleteAsksFirst", func(t *testing.T) {
		r := bulk(url.Values{"action": {"delete"}, "back": {"tag=small&q=p00"}})
		wantStatus(t, "confirm", r, http.StatusOK)
		if !strings.Contains(r.body, "Delete the 10 contacts that match these filters?") {
			t.Error("no confirmation naming how many")
		}
		wantStatus(t, "delete", bulk(url.Values{"action": {"delete"}, "confirm": {"yes"}, "back": {"tag=small&q=p00"}}), http.StatusSeeOther)
		if got := f.countIn(t, store.ContactFilter{Tag: "small"}); got != 50 {
			t.Errorf("%d contacts left, want 50", got)
		}
		if got := f.countIn(t, store.ContactFilter{Query: "p00"}); got != 0 {
			t.Errorf("the search still finds %d deleted contacts", got)
		}
	})
	t.Run("AsAJob", func(t *testing.T) {
		f.seedTagged(t, 520, "big")
		r := bulk(url.Values{"action": {"tag"}, "tag": {"vip2"}, "back": {"tag=big&sort=name"}})
		wantStatus(t, "start", r, http.StatusSeeOther)
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, base+"/bulk/") {
			t.Fatalf("not sent to the job's page: %q", loc)
		}
		id := strings.TrimPrefix(loc[:strings.Index(loc, "?")], base+"/bulk/")
		if j, err := f.ts.tenants.WaitJob(t.Context(), f.a, id); err != nil || j.State != store.JobDone {
			t.Fatalf("job %+v %v", j, err)
		}
		if got := f.countIn(t, store.ContactFilter{Tag: "vip2"}); got != 520 {
			t.Errorf("%d contacts tagged, want 520", got)
		}
		page := c.get(loc).body
		if !strings.Contains(page, "Tag &#34;vip2&#34; added to 520 contacts.") || !strings.Contains(page, base+"?sort=name&amp;tag=big") {
			t.Errorf("the job's page does not say what it did or where to go back: %s", page)
		}
		// Another workspace's job, and a job of another kind, are not found.
		owner := f.ts.loggedIn(t, f.owner.Email)
		wantStatus(t, "from B", owner.get("/w/"+f.b+"/contacts/bulk/"+id), http.StatusNotFound)
		wantStatus(t, "an import", c.get(base+"/bulk/"+f.job), http.StatusNotFound)
		wantStatus(t, "viewer", f.ts.loggedIn(t, f.viewer.Email).get(loc), http.StatusForbidden)
	})
	t.Run("Running", func(t *testing.T) {
		// A job still running: its page polls itself and shows how far.
		job := &store.Job{ID: "bulkrunning0000000000a", Kind: tenant.JobBulkContacts, WorkspaceID: f.a, Total: 4956, CreatedAt: time.Now().UTC()}
		if err := store.InsertJob(t.Context(), f.ts.tenants.Catalog().W, job); err != nil {
			t.Fatal(err)
		}
		if err := store.StartJob(t.Context(), f.ts.tenants.Catalog().W, job.ID, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		if err := store.SetJobProgress(t.Context(), f.ts.tenants.Catalog().W, job.ID, 1500, 4956); err != nil {
			t.Fatal(err)
		}
		page := c.get(bulkJobURL(f.a, job.ID, "tag=big")).body
		for _, want := range []string{`id="bulk-progress" hx-get="/w/` + f.a + `/contacts/bulk/` + job.ID + `?back=tag%3Dbig" hx-trigger="every 1s"`,
			"1,500 of 4,956 contacts done", `value="30"`, `<meta http-equiv="refresh" content="2">`} {
			if !strings.Contains(page, want) {
				t.Errorf("the running job's page lacks %s", want)
			}
		}
		// Cut short by a restart: it says so, and that finished batches stay.
		if err := store.FinishJob(t.Context(), f.ts.tenants.Catalog().W, job.ID, store.JobInterrupted, "", "gone", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		page = c.get(bulkJobURL(f.a, job.ID, "tag=big")).body
		if !strings.Contains(page, "The server stopped before this change finished.") || !strings.Contains(page, "stay changed") || strings.Contains(page, `hx-trigger="every 1s"`) {
			t.Error("the interrupted job's page does not say what happened")
		}
	})
}

// The range stays true when the URL's position is stale or made up.
func TestContactsUI_PaginationStalePosition(t *testing.T) {
	f := newFixture(t)
	f.seedTagged(t, 60, "stale")
	c := f.ts.loggedIn(t, f.member.Email)
	base := "/w/" + f.a + "/contacts?tag=stale"
	next := pagerLink(c.get(base).body, "Next ›")
	for name, tc := range map[string]struct{ from, want string }{
		"LastPageOwnsItsPosition": {"from=51", "51–60 of 60"},
		"Stale":                   {"from=41", "51–60 of 60"},
		"MadeUp":                  {"from=9999", "51–60 of 60"},
	} {
		t.Run(name, func(t *testing.T) {
			body := c.get("/w/" + f.a + "/contacts" + strings.Replace(next, "from=51", tc.from, 1)).body
			if m := pageRange.FindStringSubmatch(body); m == nil || m[1] != tc.want {
				t.Errorf("range %v, want %q", m, tc.want)
			}
		})
	}
	// In the middle, a position past the total is not shown.
	f.seedTagged(t, 60, "stale")
	next = pagerLink(c.get(base).body, "Next ›")
	body := c.get("/w/" + f.a + "/contacts" + strings.Replace(next, "from=51", "from=500", 1)).body
	if m := pageRange.FindStringSubmatch(body); m == nil || m[1] != "50 shown of 120" {
		t.Errorf("a made-up position in the middle: %v", m)
	}
}

// Values that look like markup, or like a script URL, come out of the
// contact list as text: in its rows (written in Go, contactRowsHTML: the
// name, its check box's label, email, company, tags and a custom field's
// column), in the column chooser and in the saved views.
func TestContactsUI_HostileValuesEscaped(t *testing.T) {
	f := newFixture(t)
	const (
		script = `<script>alert(1)</script>`
		img    = `"><img src=x onerror=alert(1)>`
		js     = `javascript:alert(1)`
		amp    = `&amp;`
	)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	field, err := store.CreateCustomField(t.Context(), l.DB, a, store.NewCustomField{Entity: "contact", Key: "notes", Label: script + " notes", Type: "text"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateContact(t.Context(), l.DB, a, store.ContactInput{FirstName: s(script), LastName: s(img), Title: s(js),
		Email: s("o'brien&co@example.com"), Company: s(img + " " + amp), Tags: &[]string{script, img, js, amp},
		Custom: map[string]any{field.Key: img + js + amp}}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	base := "/w/" + f.a + "/contacts"
	c := f.ts.loggedIn(t, f.member.Email)
	wantStatus(t, "save a view", c.post(base+"/views", c.workspaceToken(f.a), url.Values{"name": {img}, "back": {"stage=lead"}}), http.StatusSeeOther)
	body := c.get(base + "?view=all&cols=email,company,tags,custom.notes").body

	for _, bad := range []string{"<script>alert", "<img", "onerror=alert(1)>", `href="javascript:`, `href="` + js} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	esc := template.HTMLEscapeString
	tagHref := func(tag string) string {
		return html.EscapeString(withParams(url.Values{"cols": {"email,company,tags,custom.notes"}, "view": {"all"}}, "tag", tag))
	}
	for _, want := range []string{
		// the row: the name's link and the check box's label
		`">` + esc(script) + " " + esc(img) + `</a><div class="muted">` + esc(js) + `</div>`,
		`aria-label="Select ` + esc(script+" "+img) + `"`,
		`<td data-label="Email">` + esc("o'brien&co@example.com") + `</td>`,
		`">` + esc(img+" "+amp) + `</a></td>`,
		`<a class="tag" href="` + tagHref(script) + `"`,
		`>` + esc(script) + `</a> `, `>` + esc(img) + `</a> `, `>` + esc(js) + `</a> `, `>&amp;amp;</a> `,
		`<td data-label="` + esc(script+" notes") + `">` + esc(img+js+amp) + `</td>`,
		// the column chooser and the column's head
		`value="custom.notes" checked> ` + esc(script+" notes") + `</label>`,
		`<th scope="col">` + esc(script+" notes") + `</th>`,
		// the saved view: its tab, its rename field
		`>` + esc(img) + `</a>`, `value="` + esc(img) + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if !strings.Contains(body, "tag=javascript%3Aalert%281%29") || !strings.Contains(body, "tag=%26amp%3B") {
		t.Error("a tag's link does not carry the tag query-escaped")
	}
}

// htmlWriter.text escapes as html/template does in element content and in
// quoted attributes.
func TestHTMLWriter_Text(t *testing.T) {
	for _, v := range []string{"", "plain", `<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `it's`, "&amp;", "a\x00b", "Müller ✓", "javascript:alert(1)"} {
		var w htmlWriter
		w.text(v)
		if got, want := string(w.HTML()), template.HTMLEscapeString(v); got != want {
			t.Errorf("text(%q) = %q, want %q", v, got, want)
		}
	}
}
