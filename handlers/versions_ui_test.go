package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	formInput  = regexp.MustCompile(`<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"`)
	formSelect = regexp.MustCompile(`(?s)<select[^>]*\bname="([^"]+)"[^>]*>(.*?)</select>`)
	formOption = regexp.MustCompile(`<option value="([^"]*)"( selected)?`)
)

// formValues is what a browser sends for the first form of a page with a
// "version" input: its inputs' values and its selects' chosen options.
func formValues(tb testing.TB, page string) url.Values {
	tb.Helper()
	i := strings.Index(page, `name="version"`)
	if i < 0 {
		tb.Fatalf("no version input in the page (%d bytes)", len(page))
	}
	start := strings.LastIndex(page[:i], "<form")
	end := start + strings.Index(page[start:], "</form>")
	form := page[start:end]
	v := url.Values{}
	for _, m := range formInput.FindAllStringSubmatch(form, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for _, m := range formSelect.FindAllStringSubmatch(form, -1) {
		options := formOption.FindAllStringSubmatch(m[2], -1)
		if len(options) == 0 {
			continue
		}
		chosen := options[0][1]
		for _, o := range options {
			if o[2] != "" {
				chosen = o[1]
			}
		}
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(chosen))
	}
	return v
}

// Two people open the same edit form; the first saves, the second's save
// is refused with 409 and the form again: their values as text under the
// fields that differ, the second's still in the inputs, the current
// version in the hidden input. Saving that form applies the second's.
func TestEditFormsUI_ConcurrentEdits(t *testing.T) {
	f := newFixture(t)
	first := f.ts.loggedIn(t, f.owner.Email)
	second := f.ts.loggedIn(t, f.member.Email)
	for _, tc := range []struct {
		name, path, field  string
		firstValue, second string
		same               string // a field neither changes: not marked
	}{
		{"contact", "/w/" + f.a + "/contacts/" + f.contact, "last_name", "Silva", "Souza", "email"},
		{"company", "/w/" + f.a + "/companies/" + f.company, "industry", "Retail", "Wholesale", "name"},
		{"deal", "/w/" + f.a + "/deals/" + f.deal, "title", "Bigger sale", "Biggest sale", "value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := formValues(t, first.get(tc.path+"/edit").body)
			b := formValues(t, second.get(tc.path+"/edit").body)
			if a.Get("version") == "" || a.Get("version") != b.Get("version") {
				t.Fatalf("versions in the forms: %q and %q", a.Get("version"), b.Get("version"))
			}
			a.Set(tc.field, tc.firstValue)
			b.Set(tc.field, tc.second)
			wantStatus(t, "first save", first.post(tc.path, first.workspaceToken(f.a), a), http.StatusSeeOther)

			r := second.post(tc.path, second.workspaceToken(f.a), b)
			wantStatus(t, "second save", r, http.StatusConflict)
			for _, want := range []string{
				`role="alert"`, "Someone else changed this " + tc.name,
				`<p class="theirs" id="t-` + tc.field + `"><strong>Changed meanwhile to:</strong> ` + tc.firstValue + `</p>`,
				`name="` + tc.field + `" type="text" value="` + tc.second + `"`,
				`aria-describedby="t-` + tc.field + `"`, "has-theirs",
				"Save mine anyway", `href="` + tc.path + `">Discard my changes</a>`,
			} {
				if !strings.Contains(r.body, want) {
					t.Errorf("the conflict page lacks %q", want)
				}
			}
			if strings.Contains(r.body, `id="t-`+tc.same+`"`) {
				t.Errorf("%s, changed by nobody, is marked as changed", tc.same)
			}
			again := formValues(t, r.body)
			if again.Get("version") == b.Get("version") || again.Get(tc.field) != tc.second {
				t.Fatalf("the form again: version %q (was %q), %s %q", again.Get("version"), b.Get("version"), tc.field, again.Get(tc.field))
			}
			if page := first.get(tc.path); !strings.Contains(page.body, tc.firstValue) {
				t.Fatal("the refused save changed the record")
			}

			// Save mine anyway.
			wantStatus(t, "save anyway", second.post(tc.path, second.workspaceToken(f.a), again), http.StatusSeeOther)
			if page := first.get(tc.path); !strings.Contains(page.body, tc.second) {
				t.Error("saving anyway did not apply the second person's value")
			}
			// The first person's form, now stale, is refused in turn.
			wantStatus(t, "first again, stale", first.post(tc.path, first.workspaceToken(f.a), a), http.StatusConflict)
		})
	}
}

// Two people tick the same open task on pages loaded before either did:
// it ends done. The button said "Mark done"; it used to turn the task over,
// so the second click reopened it.
func TestTasksUI_TwoPeopleTickTheSameTask(t *testing.T) {
	f := newFixture(t)
	first := f.ts.loggedIn(t, f.owner.Email)
	second := f.ts.loggedIn(t, f.member.Email)
	contactPage := "/w/" + f.a + "/contacts/" + f.contact
	toggle := regexp.MustCompile(`(?s)action="(/w/[^"]+/tasks/` + f.task + `/toggle)".*?name="done" value="(true|false)"`)
	var sent []url.Values
	var action string
	for _, c := range []*client{first, second} {
		m := toggle.FindStringSubmatch(c.get(contactPage).body)
		if m == nil || m[2] != "true" {
			t.Fatalf("the open task's form does not say done=true: %v", m)
		}
		action = m[1]
		sent = append(sent, url.Values{"done": {m[2]}})
	}
	wantStatus(t, "first tick", first.post(action, first.workspaceToken(f.a), sent[0]), http.StatusSeeOther)
	wantStatus(t, "second tick", second.post(action, second.workspaceToken(f.a), sent[1]), http.StatusSeeOther)
	if m := toggle.FindStringSubmatch(first.get(contactPage).body); m == nil || m[2] != "false" {
		t.Error("the task ticked twice is not done")
	}
}
