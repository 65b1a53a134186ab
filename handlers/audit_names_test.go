package handlers

import (
	"cmp"
	"net/http"
	"strings"
	"testing"

	"atrium/store"
)

// The audit log tells changes as the timeline does: owners, stages,
// pipelines, companies and contacts by name, custom fields by the label
// of the event's own kind of record, a deleted company as such; no id.
func TestAuditPage_ChangesInWords(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			l.Release()
			t.Fatal(err)
		}
	}
	_, err = store.CreateCustomField(ctx, l.DB, a, store.NewCustomField{Entity: "deal", Key: "tier", Label: "Deal tier", Type: "text"})
	must(err)
	gone, err := store.CreateCompany(ctx, l.DB, a, store.CompanyInput{Name: ptrTo("Short-lived GmbH")})
	must(err)
	p, err := store.GetPipeline(ctx, l.DB, f.pipeline)
	must(err)
	_, err = store.UpdateDeal(ctx, l.DB, a, f.deal, store.DealInput{OwnerID: &f.member.ID, StageID: &p.Stages[2].ID, CompanyID: &gone.ID,
		Custom: map[string]any{"tier": "Gold"}})
	must(err)
	_, err = store.UpdateDeal(ctx, l.DB, a, f.deal, store.DealInput{CompanyID: &f.company})
	must(err)
	must(store.DeleteCompany(ctx, l.DB, a, gone.ID))
	co, err := store.GetCompany(ctx, l.DB, f.company)
	must(err)
	l.Release()

	c := f.ts.loggedIn(t, f.admin.Email)
	r := c.get("/w/" + f.a + "/audit?entity=deal")
	wantStatus(t, "audit", r, http.StatusOK)
	for _, want := range []string{
		"Owner changed from — to " + f.member.Email,
		"Stage changed from " + p.Stages[0].Name + " to " + p.Stages[2].Name,
		"Company changed from — to a deleted company",
		"Company changed from a deleted company to " + co.Name,
		"Deal tier changed from — to Gold",
		"Contact changed from — to Ana", // the deal's creation
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the audit page lacks %q", want)
		}
	}
	for _, id := range []string{f.member.ID, p.Stages[2].ID, f.company, gone.ID, f.contact} {
		if strings.Contains(r.body, ">"+id) || strings.Contains(r.body, " "+id+"<") {
			t.Errorf("the audit page shows the id %s", id)
		}
	}
	// The deal page's timeline names them the same way.
	if body := c.get("/w/" + f.a + "/deals/" + f.deal).body; !strings.Contains(body, "Company changed from a deleted company to "+co.Name) {
		t.Error("the deal's timeline does not name the company")
	}
	// API keys are named by the member who made them, as on the audit log.
	body := c.get("/w/" + f.a + "/settings/api-keys").body
	if !strings.Contains(body, "· "+cmp.Or(f.owner.Name, f.owner.Email)+"<") || strings.Contains(body, f.owner.ID) {
		t.Error("the API keys page does not name the key's creator")
	}
}
