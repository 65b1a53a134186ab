package handlers

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

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

// contactRow is a contact of the list as its table row shows it: the link,
// then one cell per shown column, each worked out in Go once per row, so
// the template ranges over ready values instead of choosing each cell's
// kind by column key (a chain of eq calls, by reflection, per cell; it
// was most of the page's CPU).
type contactRow struct {
	ID, Name, Title string
	URL             string
	Cells           []contactCell
}

// contactCell is a table cell: Text, a link to URL when it has one, a
// stage badge when Badge, the tags' links when Tags; Title is the cell's
// title (a date's full form).
type contactCell struct {
	Label, Text, URL, Title string
	Badge                   bool
	Tags                    []tagLink
}

// tagLink is a tag and the list filtered by it.
type tagLink struct{ Name, URL string }

// contactRows lays out list's rows for the columns cols.
func contactRows(wsID string, list []store.Contact, cols []listColumn, members []store.Member, params url.Values, c clock) []contactRow {
	rows := make([]contactRow, len(list))
	cells := make([]contactCell, len(list)*len(cols)) // one allocation for all the cells
	tagURLs := map[string]string{}
	for i := range list {
		ct := &list[i]
		row := &rows[i]
		*row = contactRow{ID: ct.ID, Name: ct.Name(), Title: ct.Title, URL: workspaceURL(wsID, "contacts", ct.ID),
			Cells: cells[i*len(cols) : (i+1)*len(cols) : (i+1)*len(cols)]}
		for j, col := range cols {
			cell := &row.Cells[j]
			cell.Label = col.Label
			if col.Field != "" {
				if v := ct.Custom[col.Field]; truth(v) {
					cell.Text = store.CustomText(v)
				}
				continue
			}
			switch col.Key {
			case "email":
				cell.Text = ct.Email
			case "phone":
				cell.Text = ct.Phone
			case "company":
				if ct.CompanyID != "" {
					cell.Text, cell.URL = ct.Company, workspaceURL(wsID, "companies", ct.CompanyID)
				}
			case "stage":
				cell.Text, cell.Badge = ct.Stage, true
			case "owner":
				cell.Text = memberName(members, ct.OwnerID)
			case "tags":
				cell.Tags = make([]tagLink, len(ct.Tags))
				for k, t := range ct.Tags {
					u, ok := tagURLs[t]
					if !ok {
						u = withParams(params, "tag", t)
						tagURLs[t] = u
					}
					cell.Tags[k] = tagLink{Name: t, URL: u}
				}
			case "created":
				cell.Text, cell.Title = c.Ago(ct.CreatedAt), c.DateTime(ct.CreatedAt)
			case "updated":
				cell.Text, cell.Title = c.Ago(ct.UpdatedAt), c.DateTime(ct.UpdatedAt)
			}
		}
	}
	return rows
}

// truth is whether a template's {{with}} would take v.
func truth(v any) bool {
	t, _ := template.IsTrue(v)
	return t
}
