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
