package handlers

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"atrium/store"
)

// listColumn is a column the contact list can show besides the name.
type listColumn struct {
	Key, Label string
	Sort       string // the store's sort it orders by, "" when none
	Field      string // the custom field's key, for a custom field's column
}

// contactColumns are the contact list's built-in columns, in the order the
// table shows them; the contacts' custom fields follow, keyed
// "custom.<key>".
var contactColumns = []listColumn{
	{Key: "email", Label: "Email"}, {Key: "phone", Label: "Phone"}, {Key: "company", Label: "Company"},
	{Key: "stage", Label: "Stage"}, {Key: "owner", Label: "Owner"}, {Key: "tags", Label: "Tags"},
	{Key: "created", Label: "Added", Sort: "created"}, {Key: "updated", Label: "Updated", Sort: "updated"},
}

// defaultContactColumns are shown until a user chooses.
var defaultContactColumns = []string{"email", "company", "stage", "owner", "tags", "created"}

// columnChoice is a column in the chooser, checked when shown.
type columnChoice struct {
	listColumn
	Shown bool
}

// allContactColumns are the built-in columns then one per custom field.
func allContactColumns(fields []store.CustomField) []listColumn {
	all := append([]listColumn{}, contactColumns...)
	for _, f := range fields {
		all = append(all, listColumn{Key: "custom." + f.Key, Label: f.Label, Field: f.Key})
	}
	return all
}

// splitColumns reads column keys from cols values, each one key or several
// joined with commas.
func splitColumns(values []string) []string {
	var keys []string
	for _, v := range values {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// shownContactColumns are the columns to show, in the table's order: those
// of the URL's cols when it has them, else the user's choice, else the
// defaults. Unknown keys (a custom field since deleted) are dropped.
func shownContactColumns(q url.Values, prefs store.ListPrefs, fields []store.CustomField) []listColumn {
	keys := defaultContactColumns
	switch {
	case q.Has("cols"):
		keys = splitColumns(q["cols"])
	case prefs.HasColumns:
		keys = splitColumns([]string{prefs.Columns})
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var shown []listColumn
	for _, c := range allContactColumns(fields) {
		if want[c.Key] {
			shown = append(shown, c)
		}
	}
	return shown
}

// columnChoices are the chooser's checkboxes.
func columnChoices(shown []listColumn, fields []store.CustomField) []columnChoice {
	var out []columnChoice
	for _, c := range allContactColumns(fields) {
		ch := columnChoice{listColumn: c}
		for _, s := range shown {
			ch.Shown = ch.Shown || s.Key == c.Key
		}
		out = append(out, ch)
	}
	return out
}

// columnKeys joins the keys of columns, as cols and the preference keep them.
func columnKeys(cols []listColumn) string {
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = c.Key
	}
	return strings.Join(keys, ",")
}

// saveContactColumns keeps the columns the user chose for the contact list
// (a preference of their own: viewers too) and goes back to the list.
func (s *Server) saveContactColumns(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	fields, err := store.CustomFields(r.Context(), wc.lease.DB, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	chosen := shownContactColumns(url.Values{"cols": r.PostForm["cols"]}, store.ListPrefs{}, fields)
	if err := store.SetListColumns(r.Context(), wc.lease.DB, authFrom(r).user.ID, store.ViewContacts, columnKeys(chosen)); err != nil {
		s.fail(w, r, err)
		return
	}
	// Back to the list as it was; columns it named in its URL (an open
	// view's) give way to the ones just chosen.
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	if back.Has("cols") {
		back.Set("cols", columnKeys(chosen))
	}
	http.Redirect(w, r, contactsBack(wc.ws.ID, back.Encode()), http.StatusSeeOther)
}

// contactRowsHTML writes the table rows of list for the columns cols (the
// table body of the contact list). They are written in Go, once per row,
// with htmlWriter: through html/template the rows were most of the page's
// CPU, its escapers called by reflection for each cell. check adds the
// row's check box for the bulk bar (members); inPlace are the "inPlace"
// partial's attributes for the list (see pages.inPlace), which the tag
// links carry: a tag filters the same list, in place.
func contactRowsHTML(wsID string, list []store.Contact, cols []listColumn, members []store.Member, params url.Values, c clock, check bool, inPlace string) template.HTML {
	var w htmlWriter
	w.b.Grow(len(list) * (400 + 60*len(cols)))
	tagURLs := map[string]string{}
	for i := range list {
		ct := &list[i]
		name := ct.Name()
		w.raw("<tr>\n")
		if check {
			w.raw(`<td class="check"><input type="checkbox" name="id" value="`)
			w.text(ct.ID)
			w.raw(`" aria-label="Select `)
			w.text(name)
			w.raw(`"></td>`)
		}
		w.raw(`<td><a href="`)
		w.text(workspaceURL(wsID, "contacts", ct.ID))
		w.raw(`">`)
		w.text(name)
		w.raw(`</a>`)
		if ct.Title != "" {
			w.raw(`<div class="muted">`)
			w.text(ct.Title)
			w.raw(`</div>`)
		}
		w.raw("</td>\n")
		for _, col := range cols {
			w.raw(`<td data-label="`)
			w.text(col.Label)
			w.raw(`"`)
			// A date's column has its full form as the title (a custom
			// field's key is "custom.<key>": never one of these).
			var at *time.Time
			switch col.Key {
			case "created":
				at = &ct.CreatedAt
			case "updated":
				at = &ct.UpdatedAt
			}
			if at != nil {
				w.raw(` title="`)
				w.text(c.DateTime(*at))
				w.raw(`"`)
			}
			w.raw(`>`)
			switch {
			case col.Field != "":
				if v := ct.Custom[col.Field]; truth(v) {
					w.text(store.CustomText(v))
				}
			case col.Key == "email":
				w.text(ct.Email)
			case col.Key == "phone":
				w.text(ct.Phone)
			case col.Key == "company":
				if ct.CompanyID != "" {
					w.raw(`<a href="`)
					w.text(workspaceURL(wsID, "companies", ct.CompanyID))
					w.raw(`">`)
					w.text(ct.Company)
					w.raw(`</a>`)
				}
			case col.Key == "stage":
				w.raw(`<span class="badge stage-`)
				w.text(ct.Stage)
				w.raw(`">`)
				w.text(ct.Stage)
				w.raw(`</span>`)
			case col.Key == "owner":
				w.text(memberName(members, ct.OwnerID))
			case col.Key == "tags":
				for _, t := range ct.Tags {
					u, ok := tagURLs[t]
					if !ok {
						u = withParams(params, "tag", t)
						tagURLs[t] = u
					}
					w.raw(`<a class="tag" href="`)
					w.text(u)
					w.raw(`"`)
					w.raw(inPlace)
					w.raw(`>`)
					w.text(t)
					w.raw(`</a> `)
				}
			case at != nil:
				w.text(c.Ago(*at))
			}
			w.raw(`</td>`)
		}
		w.raw("\n</tr>\n")
	}
	return w.HTML()
}

// truth is whether a template's {{with}} would take v.
func truth(v any) bool {
	t, _ := template.IsTrue(v)
	return t
}
