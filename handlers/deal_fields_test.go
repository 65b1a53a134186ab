package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atrium/store"
)

// Deal fields are defined in settings, edited on the deal form (a bad
// value re-renders it with the field's error), shown on the deal page and
// told by label on its timeline.
func TestDealsUI_CustomFields(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	for _, fd := range []url.Values{
		{"entity": {"deal"}, "label": {"Seats"}, "type": {"number"}},
		{"entity": {"deal"}, "label": {"Channel"}, "type": {"select"}, "options": {"Direct, Partner"}},
	} {
		wantStatus(t, "add "+fd.Get("label"), c.post(w+"/settings/fields", token, fd), http.StatusSeeOther)
	}
	settings := c.get(w + "/settings/fields").body
	if i := strings.Index(settings, "<h2>Deals</h2>"); i < 0 || !strings.Contains(settings[i:], "Seats") {
		t.Fatal("the settings page does not list the deal fields under Deals")
	}

	newForm := c.get(w + "/deals/new").body
	for _, want := range []string{`name="custom.seats"`, `name="custom.channel"`, `>Partner</option>`} {
		if !strings.Contains(newForm, want) {
			t.Errorf("the new deal form lacks %s", want)
		}
	}
	r := c.post(w+"/deals", token, url.Values{"title": {"Fleet"}, "currency": {"EUR"}, "custom.seats": {"many"}, "custom.channel": {"Direct"}})
	wantStatus(t, "a deal with a bad number", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "Seats must be a number.") || !strings.Contains(r.body, `value="many"`) {
		t.Errorf("the form does not show the field's error with the value kept")
	}

	page := w + "/deals/" + f.deal
	action, values := formOf(t, c.get(page+"/edit").body, "Save changes")
	values.Set("custom.seats", "40")
	values.Set("custom.channel", "partner")
	values.Set("status", "open")
	r = c.post(action, token, values)
	wantStatus(t, "save the deal's fields", r, http.StatusSeeOther)
	body := c.get(page).body
	for _, want := range []string{"<dt>Seats</dt><dd>40</dd>", "<dt>Channel</dt><dd>Partner</dd>", "Seats changed from — to 40", "Channel changed from — to Partner"} {
		if !strings.Contains(body, want) {
			t.Errorf("the deal page lacks %q", want)
		}
	}
	if edit := c.get(page + "/edit").body; !strings.Contains(edit, `value="40"`) {
		t.Error("the edit form does not show the saved value")
	}
}

// A deal field of another workspace cannot be changed or removed through
// this one's URLs, and does not take values here.
func TestDealsUI_CustomFieldsOtherWorkspace(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.b)
	if err != nil {
		t.Fatal(err)
	}
	bField, err := store.CreateCustomField(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.NewCustomField{Entity: "deal", Label: "Seats", Type: "number"})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	wantStatus(t, "rename B's field", c.post(w+"/settings/fields/"+bField.ID, token, url.Values{"label": {"x"}}), http.StatusNotFound)
	wantStatus(t, "move B's field", c.post(w+"/settings/fields/"+bField.ID+"/move", token, url.Values{"dir": {"up"}}), http.StatusNotFound)
	wantStatus(t, "remove B's field", c.post(w+"/settings/fields/"+bField.ID+"/delete", token, nil), http.StatusNotFound)
	if strings.Contains(c.get(w+"/deals/"+f.deal+"/edit").body, "custom.seats") {
		t.Error("A's deal form shows B's field")
	}
	l, _ = f.ts.tenants.Acquire(t.Context(), f.b)
	defer l.Release()
	if fs, err := store.CustomFields(t.Context(), l.DB, store.KindDeal); err != nil || len(fs) != 1 || fs[0].Label != "Seats" {
		t.Fatalf("B's fields changed: %+v, %v", fs, err)
	}
}

// The API reads and writes a deal's custom values under `custom`, checked
// and refused as contacts' are; each workspace has its own definitions.
func TestAPI_DealCustomFields(t *testing.T) {
	f := newAPIFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a.id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.CreateCustomField(t.Context(), l.DB, store.Actor{Kind: "user", ID: "u"}, store.NewCustomField{Entity: "deal", Label: "Seats", Type: "number"})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	resp := f.ts.api(t, f.a.key, "PATCH", "/api/v1/deals/"+f.a.deal, `{"custom":{"seats":12}}`)
	wantStatus(t, "patch custom", resp, http.StatusOK)
	var d store.Deal
	mustDecode(t, resp.body, &d)
	if d.Custom["seats"] != 12.0 {
		t.Fatalf("custom after the patch: %#v", d.Custom)
	}
	mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/deals/"+f.a.deal, "").body, &d)
	if d.Custom["seats"] != 12.0 {
		t.Fatalf("custom read back: %#v", d.Custom)
	}
	id := f.ts.mustCreate(t, f.a.key, "/api/v1/deals", `{"title":"Fleet","custom":{"seats":"7"}}`)
	mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/deals/"+id, "").body, &d)
	if d.Custom["seats"] != 7.0 {
		t.Fatalf("created with custom: %#v", d.Custom)
	}
	wantAPIError(t, "not a number", f.ts.api(t, f.a.key, "PATCH", "/api/v1/deals/"+f.a.deal, `{"custom":{"seats":"many"}}`), http.StatusUnprocessableEntity, "validation", "custom.seats")
	wantAPIError(t, "unknown field", f.ts.api(t, f.a.key, "POST", "/api/v1/deals", `{"title":"x","custom":{"colour":"red"}}`), http.StatusUnprocessableEntity, "validation", "custom.colour")
	wantAPIError(t, "custom not an object", f.ts.api(t, f.a.key, "POST", "/api/v1/deals", `{"title":"x","custom":[]}`), http.StatusUnprocessableEntity, "validation", "custom")
	wantAPIError(t, "A's field in B", f.ts.api(t, f.b.key, "PATCH", "/api/v1/deals/"+f.b.deal, `{"custom":{"seats":1}}`), http.StatusUnprocessableEntity, "validation", "custom.seats")
	wantAPIError(t, "B's deal through A's key", f.ts.api(t, f.a.key, "PATCH", "/api/v1/deals/"+f.b.deal, `{"custom":{"seats":1}}`), http.StatusNotFound, "not_found", "")
}
