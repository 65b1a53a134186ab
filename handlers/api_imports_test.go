package handlers

import (
	"net/http"
	"strings"
	"testing"

	"atrium/store"
)

// Companies and deals come in through the API like contacts: unmapped
// columns refused unless told, companies deduplicated by domain, deals
// linked by name and email, and only ever to records of the key's
// workspace.
func TestAPI_ImportCompaniesAndDeals(t *testing.T) {
	f := newAPIFixture(t)
	companies := "Account Name,Website,Industry,Employees,Billing City\nInitech,initech.example,Software,250,Austin\n" +
		"Initech Inc.,https://www.initech.example/about,Software,,Austin\nAcmeword Inc,,Hardware,12,Boston\n"
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/companies/import", companies)
	wantAPIError(t, "unmapped company column", r, http.StatusUnprocessableEntity, "validation", "")
	if !strings.Contains(r.body, `Billing City`) {
		t.Errorf("the refusal does not name the column: %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/companies/import?unmapped=create&mode=update", companies)
	wantStatus(t, "companies", r, http.StatusOK)
	var res store.ImportResult
	mustDecode(t, r.body, &res)
	if res.Created != 1 || res.Updated != 2 || res.Skipped != 0 || strings.Join(res.FieldsCreated, ",") != "Billing City (select)" {
		t.Fatalf("companies: %+v", res)
	}
	var acme store.Company
	mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/companies/"+f.a.company, "").body, &acme)
	if acme.Industry != "Hardware" || acme.Size != "11-50" || acme.Custom["billing_city"] != "Boston" {
		t.Errorf("the existing company was not updated: %+v", acme)
	}

	deals := "Opportunity Name,Amount,Stage,Account Name,Contact Email\nAcme renewal,\"1,000.50\",Qualified,Acmeword Inc,acmeword@example.com\n"
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/deals/import", deals)
	wantStatus(t, "deals", r, http.StatusOK)
	res = store.ImportResult{}
	mustDecode(t, r.body, &res)
	if res.Created != 1 || res.Failed != 0 || len(res.Notes) != 0 {
		t.Fatalf("deals: %+v", res)
	}
	var list struct {
		Data []store.Deal `json:"data"`
	}
	mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/deals?limit=100", "").body, &list)
	var renewal *store.Deal
	for i := range list.Data {
		if list.Data[i].Title == "Acme renewal" {
			renewal = &list.Data[i]
		}
	}
	if renewal == nil || renewal.ContactID != f.a.contact || renewal.CompanyID != f.a.company || renewal.Value != "1000.50" || renewal.StageName != "Qualified" {
		t.Fatalf("the deal: %+v", renewal)
	}

	// The same file in B: A's contact and company are not B's.
	r = f.ts.api(t, f.b.key, "POST", "/api/v1/deals/import", deals)
	wantStatus(t, "deals in B", r, http.StatusOK)
	res = store.ImportResult{}
	mustDecode(t, r.body, &res)
	if res.Created != 1 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0].Message, "acmeword@example.com") {
		t.Fatalf("deals in B: %+v", res)
	}
	list.Data = nil
	mustDecode(t, f.ts.api(t, f.b.key, "GET", "/api/v1/deals?limit=100", "").body, &list)
	for _, d := range list.Data {
		if d.Title == "Acme renewal" && (d.ContactID != "" || d.CompanyID == "" || d.CompanyID == f.a.company) {
			t.Errorf("B's deal reaches A: %+v", d)
		}
	}
	// A's pipeline is no pipeline of B's.
	r = f.ts.api(t, f.b.key, "POST", "/api/v1/deals/import", "Deal Name,Pipeline,Deal Stage\nX,Acmeword pipeline,Qualified\n")
	wantAPIError(t, "A's pipeline in B", r, http.StatusUnprocessableEntity, "validation", "")
	if !strings.Contains(r.body, "Acmeword pipeline") {
		t.Errorf("the refusal does not name the pipeline: %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/deals/import", "Deal Name,Pipeline,Deal Stage\nX,Acmeword pipeline,Discovery\n")
	wantAPIError(t, "unknown stage", r, http.StatusUnprocessableEntity, "validation", "")
	wantStatus(t, "stages=create", f.ts.api(t, f.a.key, "POST", "/api/v1/deals/import?stages=create", "Deal Name,Pipeline,Deal Stage\nX,Acmeword pipeline,Discovery\n"), http.StatusOK)
	wantAPIError(t, "bad stages", f.ts.api(t, f.a.key, "POST", "/api/v1/deals/import?stages=maybe", deals), http.StatusBadRequest, "invalid", "")
	wantAPIError(t, "custom fields for deals", f.ts.api(t, f.a.key, "POST", "/api/v1/deals/import?unmapped=create", deals), http.StatusBadRequest, "invalid", "")
	wantAPIError(t, "bad unmapped", f.ts.api(t, f.a.key, "POST", "/api/v1/companies/import?unmapped=drop", companies), http.StatusBadRequest, "invalid", "")
	wantAPIError(t, "read key", f.ts.api(t, f.a.readKey, "POST", "/api/v1/deals/import", deals), http.StatusForbidden, "forbidden", "")
}
