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

// The same deals file posted twice makes its deals once: the second time
// they are skipped, each with a note, or updated with mode=update; B's
// import of it is not taken for a repeat of A's.
func TestAPI_ImportDealsTwice(t *testing.T) {
	f := newAPIFixture(t)
	deals := "Opportunity Name,Amount,Stage,Account Name\nTwice renewal,\"1,000.50\",Qualified,Twice Ltd\nTwice upsell,20,Qualified,Twice Ltd\n"
	post := func(key, query, body string) store.ImportResult {
		t.Helper()
		r := f.ts.api(t, key, "POST", "/api/v1/deals/import"+query, body)
		wantStatus(t, "deals import"+query, r, http.StatusOK)
		var res store.ImportResult
		mustDecode(t, r.body, &res)
		return res
	}
	count := func(key string) (n int, renewal store.Deal) {
		t.Helper()
		var list struct {
			Data []store.Deal `json:"data"`
		}
		mustDecode(t, f.ts.api(t, key, "GET", "/api/v1/deals?limit=100", "").body, &list)
		for _, d := range list.Data {
			if strings.HasPrefix(d.Title, "Twice ") {
				n++
			}
			if d.Title == "Twice renewal" {
				renewal = d
			}
		}
		return n, renewal
	}
	if res := post(f.a.key, "", deals); res.Created != 2 || res.Skipped != 0 {
		t.Fatalf("first: %+v", res)
	}
	res := post(f.a.key, "", deals)
	if res.Created != 0 || res.Skipped != 2 || len(res.Notes) != 2 || !strings.Contains(res.Notes[0].Message, "Twice renewal") {
		t.Fatalf("again: %+v", res)
	}
	if n, _ := count(f.a.key); n != 2 {
		t.Errorf("%d deals after importing twice, want 2", n)
	}
	res = post(f.a.key, "?mode=update", strings.Replace(deals, `"1,000.50"`, "1500", 1))
	if res.Created != 0 || res.Updated != 2 || res.Skipped != 0 {
		t.Fatalf("update: %+v", res)
	}
	if n, renewal := count(f.a.key); n != 2 || renewal.Value != "1500.00" {
		t.Errorf("after the update: %d deals, %+v", n, renewal)
	}
	if res := post(f.b.key, "", deals); res.Created != 2 || res.Skipped != 0 {
		t.Fatalf("B: %+v", res)
	}
	if n, _ := count(f.b.key); n != 2 {
		t.Errorf("B has %d deals, want 2", n)
	}
}
