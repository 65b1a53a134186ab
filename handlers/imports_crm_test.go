package handlers

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

var mappingSelect = regexp.MustCompile(`(?s)<select id="map-(\d+)" name="(map_\d+)">(.*?)</select>`)
var selectedOption = regexp.MustCompile(`<option value="([^"]*)" selected>`)

// mappingChoices reads the choice the mapping step made for each column.
func mappingChoices(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range mappingSelect.FindAllStringSubmatch(page, -1) {
		choice := ""
		if s := selectedOption.FindStringSubmatch(m[3]); s != nil {
			choice = html.UnescapeString(s[1])
		}
		v.Set(m[2], choice)
	}
	return v
}

// waitImport polls an import's page until it is finished.
func waitImport(t *testing.T, c *client, path string) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		if body := c.get(path).body; strings.Contains(body, "Import finished") || strings.Contains(body, "failed") {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the import did not finish")
	return ""
}

// A HubSpot export: the mapping step names the tool, offers a custom field
// (typed) for each column no field takes and skips an empty one; the
// report and its summary say what became of columns and owners.
func TestImportUI_CRMExport(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	sample, err := os.ReadFile("../store/testdata/crm/hubspot-contacts.csv")
	if err != nil {
		t.Fatal(err)
	}
	job := f.uploadCSV(t, c, f.a, string(sample))
	w := "/w/" + f.a + "/contacts/import/" + job
	page := c.get(w).body
	for _, want := range []string{"Exported from HubSpot", "Create a custom field (select)", "Create a custom field (url)", "Skip this column"} {
		if !strings.Contains(page, want) {
			t.Errorf("the mapping step lacks %q", want)
		}
	}
	form := mappingChoices(t, page)
	for col, want := range map[string]string{"map_0": store.MappingNewField, "map_1": "first_name", "map_3": "email", "map_4": "email",
		"map_10": store.MappingNewField, "map_11": "owner", "map_12": "created_at", "map_16": ""} {
		if got := form.Get(col); got != want {
			t.Errorf("%s is mapped to %q, want %q", col, got, want)
		}
	}
	form.Set("mode", "skip")
	wantStatus(t, "start", c.post(w, c.workspaceToken(f.a), form), http.StatusSeeOther)
	body := waitImport(t, c, w)
	for _, want := range []string{"<dt>Created</dt><dd>4</dd>", "<dt>Exported from</dt><dd>HubSpot</dd>", "Lead Status (select)", "Other emails (text)",
		"Fax Number", "Owners who are not members", "Bo Berg"} {
		if !strings.Contains(body, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	sum := c.get(w + "/summary.csv")
	wantStatus(t, "summary", sum, http.StatusOK)
	if !strings.HasPrefix(sum.body, "file,records,source,read,created,updated,skipped,failed,fields_created,columns_skipped,owners_matched,owners_not_members\n") ||
		!strings.Contains(sum.body, "people.csv,contacts,HubSpot,4,4,0,0,0,") || !strings.Contains(sum.body, "Carl Nobody (1 rows)") {
		t.Errorf("summary.csv: %q", sum.body)
	}
	// The timeline says where and when the contact was created.
	lease, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.ContactIDByEmail(t.Context(), lease.DB, "zoe.muller@example.de")
	lease.Release()
	if err != nil {
		t.Fatal(err)
	}
	if p := c.get("/w/" + f.a + "/contacts/" + id).body; !strings.Contains(p, "Created in HubSpot on 15 March 2021") {
		t.Error("the timeline does not show the original creation")
	}
	// Not from another workspace's URL, nor by its members.
	outsider := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "summary from B's URL", outsider.get("/w/"+f.b+"/contacts/import/"+job+"/summary.csv"), http.StatusNotFound)
	wantStatus(t, "summary of no job", c.get("/w/"+f.a+"/contacts/import/nope/summary.csv"), http.StatusNotFound)
}

// The API refuses a file with columns no field takes unless told what to
// do with them.
func TestAPI_ImportContactsUnmapped(t *testing.T) {
	f := newAPIFixture(t)
	csv := "Name,Email,Shoe size,Lead Status\nAna Silva,ana@example.com,38,New\nBo van Berg,bo@example.com,44,New\n"
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import", csv)
	wantAPIError(t, "unmapped", r, http.StatusUnprocessableEntity, "validation", "")
	if !strings.Contains(r.body, `\"Shoe size\", \"Lead Status\"`) {
		t.Errorf("the refusal does not name the columns: %s", r.body)
	}
	wantAPIError(t, "bad unmapped", f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import?unmapped=drop", csv), http.StatusBadRequest, "invalid", "")
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import?unmapped=create", csv)
	wantStatus(t, "create", r, http.StatusOK)
	var res store.ImportResult
	mustDecode(t, r.body, &res)
	if res.Created != 2 || strings.Join(res.FieldsCreated, ",") != "Shoe size (number),Lead Status (select)" {
		t.Fatalf("create: %+v", res)
	}
	r = f.ts.api(t, f.b.key, "POST", "/api/v1/contacts/import?unmapped=skip", csv)
	res = store.ImportResult{}
	mustDecode(t, r.body, &res)
	if res.Created != 2 || strings.Join(res.SkippedColumns, ",") != "Shoe size,Lead Status" || len(res.FieldsCreated) != 0 {
		t.Fatalf("skip: %+v", res)
	}
}

// uploadAs uploads a sample export to an import page of workspace ws and
// returns the page the upload leads to.
func uploadAs(t *testing.T, c *client, ws, entity, sample string) string {
	t.Helper()
	b, err := os.ReadFile("../store/testdata/crm/" + sample)
	if err != nil {
		t.Fatal(err)
	}
	r := c.postFile("/w/"+ws+"/"+entity+"/import", c.workspaceToken(ws), sample, string(b))
	if r.status != http.StatusSeeOther {
		t.Fatalf("upload of %s: status %d: %.300s", sample, r.status, r.body)
	}
	return r.header.Get("Location")
}

// Pipedrive's organizations, people and deals through the web: each file
// mapped as its page proposes, the deals' new pipeline and stage offered
// and created, the deals linked to the right people and organizations.
func TestImportUI_PipedriveOrganizationsPeopleDeals(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	tok := c.workspaceToken(f.a)

	orgs := uploadAs(t, c, f.a, "companies", "pipedrive-organizations.csv")
	page := c.get(orgs).body
	if !strings.Contains(page, "Exported from Pipedrive") || !strings.Contains(page, "Create a custom field (number)") {
		t.Errorf("the organizations' mapping step: %.2000s", page)
	}
	wantStatus(t, "organizations", c.post(orgs, tok, mappingChoices(t, page)), http.StatusSeeOther)
	if body := c.get(orgs).body; !strings.Contains(body, "<dt>Created</dt><dd>4</dd>") || !strings.Contains(body, "<dt>Skipped</dt><dd>1</dd>") {
		t.Errorf("the organizations' report: %.3000s", body)
	}

	people := uploadAs(t, c, f.a, "contacts", "pipedrive-people.csv")
	form := mappingChoices(t, c.get(people).body)
	form.Set("mode", "skip")
	wantStatus(t, "people", c.post(people, tok, form), http.StatusSeeOther)
	if body := waitImport(t, c, people); !strings.Contains(body, "<dt>Created</dt><dd>4</dd>") {
		t.Errorf("the people's report: %.3000s", body)
	}

	deals := uploadAs(t, c, f.a, "deals", "pipedrive-deals.csv")
	page = c.get(deals).body
	if !strings.Contains(page, html.EscapeString(`"Partners" › "Discovery"`)) || !strings.Contains(page, `name="stages" value="create"`) {
		t.Errorf("the deals' mapping step does not offer the missing stage: %.3000s", page)
	}
	form = mappingChoices(t, page)
	r := c.post(deals, tok, form) // the stages not created: refused, saying why
	wantStatus(t, "deals without their stages", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "not in their pipeline") {
		t.Errorf("the refusal: %.3000s", r.body)
	}
	form.Set("stages", "create")
	wantStatus(t, "deals", c.post(deals, tok, form), http.StatusSeeOther)
	body := c.get(deals).body
	for _, want := range []string{"<dt>Created</dt><dd>5</dd>", "Partners (pipeline)", "Discovery", "Nobody Known", "Deal - Products"} {
		if !strings.Contains(body, want) {
			t.Errorf("the deals' report lacks %q", want)
		}
	}
	sum := c.get(deals + "/summary.csv").body
	if !strings.Contains(sum, "pipedrive-deals.csv,deals,Pipedrive,5,5,0,0,0,") {
		t.Errorf("summary.csv: %q", sum)
	}

	lease, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	jan, err := store.ContactIDByEmail(t.Context(), lease.DB, "jan@vdberg.example")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Contact string `db:"contact_id"`
		Company string `db:"company"`
		Value   int64  `db:"value_minor"`
	}
	if err := lease.DB.R.Get(&d, `SELECT coalesce(d.contact_id, '') AS contact_id, c.name AS company, d.value_minor FROM deals d
		JOIN companies c ON c.id = d.company_id WHERE d.title = 'Grachtenhaus renovation'`); err != nil {
		t.Fatal(err)
	}
	if d.Contact != jan || d.Company != "Van der Berg B.V." || d.Value != 1250050 {
		t.Errorf("the deal: %+v", d)
	}

	// Not from another workspace, nor as another kind of import.
	id := deals[strings.LastIndex(deals, "/")+1:]
	owner := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "A's deals import from B", owner.get("/w/"+f.b+"/deals/import/"+id), http.StatusNotFound)
	wantStatus(t, "A's summary from B", owner.get("/w/"+f.b+"/deals/import/"+id+"/summary.csv"), http.StatusNotFound)
	wantStatus(t, "a deals import as companies", c.get("/w/"+f.a+"/companies/import/"+id), http.StatusNotFound)
	wantStatus(t, "a contacts import as deals", c.get("/w/"+f.a+"/deals/import/"+f.job), http.StatusNotFound)
}
