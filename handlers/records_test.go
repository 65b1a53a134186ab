package handlers

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"atrium/store"
	"atrium/tenant"
)

func TestCompaniesUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/companies"
	wantStatus(t, "no name", c.post(base, token, url.Values{"name": {""}}), http.StatusUnprocessableEntity)
	r := c.post(base, token, url.Values{"name": {"Initrode"}, "domain": {"not a domain"}})
	wantStatus(t, "bad domain", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, `value="Initrode"`) {
		t.Error("the form lost its values")
	}
	r = c.post(base, token, url.Values{"name": {"Initrode"}, "domain": {"Initrode.example"}, "industry": {"Software"}, "size": {"51-200"}, "tags": {"partner"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	id := strings.TrimPrefix(page, base+"/")
	wantStatus(t, "contact at it", c.post("/w/"+f.a+"/contacts", token, url.Values{"first_name": {"Peter"}, "company": {"initrode"}, "stage": {"lead"}}), http.StatusSeeOther)
	body := c.get(page).body
	for _, want := range []string{"Initrode", "initrode.example", "Software", "51-200", "partner", "Peter"} {
		if !strings.Contains(body, want) {
			t.Errorf("company page lacks %q", want)
		}
	}
	if !strings.Contains(c.get(base+"?q=initrode").body, "/companies/"+id) {
		t.Error("search in the company list does not find it")
	}
	wantStatus(t, "edit", c.post(page, token, url.Values{"name": {"Initrode Ltd"}}), http.StatusSeeOther)
	if !strings.Contains(c.get(page+"/delete").body, "Delete Initrode Ltd?") {
		t.Error("no confirmation before deleting a company")
	}
	wantStatus(t, "delete", c.post(page+"/delete", token, nil), http.StatusSeeOther)
	wantStatus(t, "gone", c.get(page), http.StatusNotFound)
	if r := c.get("/w/" + f.a + "/contacts?q=peter"); !strings.Contains(r.body, "Peter") {
		t.Error("deleting the company deleted its contact")
	}
}

func TestTasksUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	contactPage := "/w/" + f.a + "/contacts/" + f.contact
	wantStatus(t, "no title", c.post("/w/"+f.a+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {""}}), http.StatusSeeOther)
	if !strings.Contains(c.get(contactPage).body, "flash-error") {
		t.Error("an empty task title gave no error message")
	}
	wantStatus(t, "bad date", c.post("/w/"+f.a+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {"Call"}, "due_date": {"tomorrow"}}), http.StatusSeeOther)
	wantStatus(t, "add", c.post("/w/"+f.a+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {"Call back"}, "due_date": {"2027-01-15"}, "assignee_id": {f.member.ID}}), http.StatusSeeOther)
	body := c.get(contactPage).body
	if !strings.Contains(body, "Call back") || !strings.Contains(body, "due 2027-01-15") {
		t.Fatal("the task is not on the contact page")
	}
	id := regexp.MustCompile(`/tasks/([0-9a-f-]{36})/toggle`).FindAllStringSubmatch(body, -1)
	if len(id) != 2 {
		t.Fatalf("%d tasks on the page, want 2", len(id))
	}
	wantStatus(t, "done", c.post("/w/"+f.a+"/tasks/"+id[0][1]+"/toggle", token, nil), http.StatusSeeOther)
	if !strings.Contains(c.get(contactPage).body, `class="done"`) {
		t.Error("the task is not shown done")
	}
	wantStatus(t, "assignee not a member", c.post("/w/"+f.a+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {"X"}, "assignee_id": {f.outsider.ID}}), http.StatusSeeOther)
	if !strings.Contains(c.get(contactPage).body, "must be a member") {
		t.Error("no error for an assignee who is not a member")
	}
}

func TestAPIKeysUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	page := "/w/" + f.a + "/settings/api-keys"
	wantStatus(t, "bad role", c.post(page, token, url.Values{"name": {"X"}, "role": {"root"}}), http.StatusUnprocessableEntity)
	r := c.post(page, token, url.Values{"name": {"Zapier"}, "role": {"read"}})
	wantStatus(t, "create", r, http.StatusCreated)
	key := regexp.MustCompile(`value="(atr_[^"]+)"`).FindStringSubmatch(r.body)
	if key == nil {
		t.Fatal("the new key is not shown")
	}
	if strings.Contains(c.get(page).body, key[1]) {
		t.Fatal("the key is shown again after creation")
	}
	api := func() int {
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/api/v1/contacts", nil)
		req.Header.Set("Authorization", "Bearer "+key[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := api(); got != http.StatusOK {
		t.Fatalf("API with the new key: %d", got)
	}
	keyID := strings.Split(key[1], "_")[2]
	wantStatus(t, "revoke", c.post(page+"/"+keyID+"/revoke", token, nil), http.StatusSeeOther)
	if got := api(); got != http.StatusUnauthorized {
		t.Fatalf("API with a revoked key: %d", got)
	}
}

// TestRecordsUI_OtherWorkspacesRecords uses company and task ids of
// workspace B in workspace A, as a member of both: 404, B unchanged.
func TestRecordsUI_OtherWorkspacesRecords(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.b)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	name, first, title := "Globex Labs", "Zed", "B's task"
	co, _ := store.CreateCompany(t.Context(), l.DB, a, store.CompanyInput{Name: &name})
	ct, _ := store.CreateContact(t.Context(), l.DB, a, store.ContactInput{FirstName: &first})
	task, err := store.CreateTask(t.Context(), l.DB, a, store.TaskInput{ContactID: &ct.ID, Title: &title})
	_, key, _ := store.CreateAPIKey(t.Context(), l.DB, a, f.b, "B key", "write")
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	wantStatus(t, "company", c.get(w+"/companies/"+co.ID), http.StatusNotFound)
	wantStatus(t, "company edit", c.get(w+"/companies/"+co.ID+"/edit"), http.StatusNotFound)
	wantStatus(t, "company update", c.post(w+"/companies/"+co.ID, token, url.Values{"name": {"Hacked"}}), http.StatusNotFound)
	wantStatus(t, "company delete", c.post(w+"/companies/"+co.ID+"/delete", token, nil), http.StatusNotFound)
	wantStatus(t, "task toggle", c.post(w+"/tasks/"+task.ID+"/toggle", token, nil), http.StatusNotFound)
	wantStatus(t, "task delete", c.post(w+"/tasks/"+task.ID+"/delete", token, nil), http.StatusNotFound)
	wantStatus(t, "task on B's contact", c.post(w+"/tasks", token, url.Values{"contact_id": {ct.ID}, "title": {"x"}}), http.StatusNotFound)
	wantStatus(t, "note on B's company", c.post(w+"/notes", token, url.Values{"company_id": {co.ID}, "body": {"x"}}), http.StatusNotFound)
	wantStatus(t, "revoke B's key", c.post(w+"/settings/api-keys/"+key.ID+"/revoke", token, nil), http.StatusNotFound)
	l, _ = f.ts.tenants.Acquire(t.Context(), f.b)
	defer l.Release()
	if got, err := store.GetCompany(t.Context(), l.DB, co.ID); err != nil || got.Name != name {
		t.Fatalf("B's company changed: %+v %v", got, err)
	}
	if got, err := store.GetTask(t.Context(), l.DB, task.ID); err != nil || got.Done {
		t.Fatalf("B's task changed: %+v %v", got, err)
	}
	if keys, _ := store.ListAPIKeys(t.Context(), l.DB); keys[0].RevokedAt != nil {
		t.Fatal("B's key was revoked from A")
	}
}

func TestExportUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.admin.Email)
	r := c.get("/w/" + f.a + "/export")
	wantStatus(t, "export", r, http.StatusOK)
	if r.header.Get("Content-Type") != "application/zip" || !strings.Contains(r.header.Get("Content-Disposition"), f.a) {
		t.Fatalf("headers %v", r.header)
	}
	zr, err := zip.NewReader(strings.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "workspace.db") || names[len(names)-1] != "manifest.json" {
		t.Fatalf("archive entries %v", names)
	}
	if strings.Contains(r.body, "ana@globex") {
		t.Fatal("the export of A contains data of B")
	}
	l, _ := f.ts.tenants.Acquire(t.Context(), f.a)
	defer l.Release()
	if events, _, _ := store.ListAudit(t.Context(), l.DB, store.AuditFilter{Action: "workspace.export"}); len(events) != 1 {
		t.Fatal("the export was not audited")
	}
}

func TestGDPRUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.admin.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/contacts/" + f.contact
	r := c.get(base + "/export.json")
	wantStatus(t, "subject access", r, http.StatusOK)
	if !strings.Contains(r.body, "ana@acme.example") || !strings.Contains(r.body, "First call went well") {
		t.Fatalf("subject access lacks their data: %.300s", r.body)
	}
	if !strings.Contains(c.get(base+"/erase").body, "Erase every trace of Ana?") {
		t.Fatal("no confirmation before erasing")
	}
	member := f.ts.loggedIn(t, f.member.Email)
	wantStatus(t, "a member erases", member.post(base+"/erase", member.workspaceToken(f.a), nil), http.StatusForbidden)
	wantStatus(t, "erase", c.post(base+"/erase", token, nil), http.StatusSeeOther)
	for _, path := range []string{"/w/" + f.a + "/search?q=ana", "/w/" + f.a + "/search?q=first+call", "/w/" + f.a + "/contacts?format=json", "/w/" + f.a + "/audit"} {
		if body := c.get(path).body; strings.Contains(body, "ana@acme.example") || strings.Contains(body, "First call went well") {
			t.Errorf("%s still shows the erased person", path)
		}
	}
	if !strings.Contains(c.get("/w/"+f.a+"/audit").body, "contact.erase") {
		t.Error("the erasure is not in the audit log")
	}
}

func TestImportUI(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	w := "/w/" + f.a + "/contacts/import"
	wantStatus(t, "no file", c.postFile(w, c.workspaceToken(f.a), "empty.csv", ""), http.StatusUnprocessableEntity)
	csv := "\ufeffVorname;Nachname;E-Mail;Firma;Tier\nJonas;Weber;jonas@example.de;Initech;Gold\nLena;;ana@acme.example;;\nMax;;not-an-email;;\n"
	job := f.uploadCSV(t, c, f.a, csv)
	page := c.get(w + "/" + job)
	for _, want := range []string{`<option value="first_name" selected>`, `<option value="email" selected>`, `<option value="company" selected>`, `<option value="custom.tier" selected>`, "jonas@example.de", "3 rows"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the mapping step lacks %q", want)
		}
	}
	start := url.Values{"map_0": {"first_name"}, "map_1": {"last_name"}, "map_2": {"email"}, "map_3": {"company"}, "map_4": {"custom.tier"}, "mode": {"skip"}}
	wantStatus(t, "start", c.post(w+"/"+job, c.workspaceToken(f.a), start), http.StatusSeeOther)
	var body string
	for i := 0; i < 100; i++ {
		if body = c.get(w + "/" + job).body; strings.Contains(body, "Import finished") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"Import finished", "<dt>Rows read</dt><dd>3</dd>", "<dt>Created</dt><dd>1</dd>", "<dt>Skipped (already there)</dt><dd>1</dd>",
		"<dt>Rows with errors</dt><dd>1</dd>", "row 3", "not a valid email"} {
		if !strings.Contains(body, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	// The report holds the refused rows as they were, to fix and import
	// again.
	errs := c.get(w + "/" + job + "/errors.csv").body
	if !strings.HasPrefix(errs, "row,message,Vorname,Nachname,E-Mail,Firma,Tier\n") || !strings.Contains(errs, "3,") ||
		!strings.Contains(errs, "not a valid email") || !strings.Contains(errs, ",Max,,not-an-email,,\n") {
		t.Errorf("errors.csv: %q", errs)
	}
	if !strings.Contains(c.get("/w/"+f.a+"/contacts?q=jonas").body, "Initech") {
		t.Error("the imported contact is not in the list")
	}
	// Another workspace's member cannot see or run this job.
	outsider := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "job from B's URL", outsider.get("/w/"+f.b+"/contacts/import/"+job), http.StatusNotFound)
}

func TestAPI_ImportContacts(t *testing.T) {
	f := newAPIFixture(t)
	resp := f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import", "first_name,email,tags\nNew,new@example.com,a;b\nDup,acmeword@example.com,\nBad,bad,\n")
	wantStatus(t, "import", resp, http.StatusOK)
	var res store.ImportResult
	mustDecode(t, resp.body, &res)
	if res.Read != 3 || res.Created != 1 || res.Skipped != 1 || res.Failed != 1 || len(res.Errors) != 1 || res.Errors[0].Row != 3 {
		t.Fatalf("result %+v", res)
	}
	resp = f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import?mode=update", "email,title\nacmeword@example.com,Boss\n")
	mustDecode(t, resp.body, &res)
	if res.Updated != 1 {
		t.Fatalf("update: %+v", res)
	}
	if strings.Contains(f.ts.api(t, f.b.key, "GET", "/api/v1/contacts?q=new", "").body, "new@example.com") {
		t.Fatal("B sees A's import")
	}
	wantAPIError(t, "no header", f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import", ""), http.StatusBadRequest, "invalid", "")
}

// A CSV that is not UTF-8 is refused whole, naming its first such line,
// unless ?encoding= names what to convert it from.
func TestAPI_ImportContacts_Encoding(t *testing.T) {
	f := newAPIFixture(t)
	latin := "first_name,last_name,email\nAna,Silva,ana@example.com\nJos\xe9,Nu\xf1ez,jose@example.com\n"
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import", latin)
	wantAPIError(t, "not UTF-8", r, http.StatusBadRequest, "invalid", "")
	if !strings.Contains(r.body, "Line 3 is not UTF-8") || !strings.Contains(r.body, "encoding=windows-1252") {
		t.Fatalf("the refusal does not say where and what to do: %s", r.body)
	}
	if strings.Contains(f.ts.api(t, f.a.key, "GET", "/api/v1/contacts?q=ana@example.com", "").body, "ana@example.com") {
		t.Fatal("a refused file imported its first row")
	}
	wantAPIError(t, "unknown encoding", f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import?encoding=klingon", latin), http.StatusBadRequest, "invalid", "")
	for _, enc := range []string{"windows-1252", "iso-8859-1"} {
		r = f.ts.api(t, f.b.key, "POST", "/api/v1/contacts/import?mode=update&encoding="+enc, latin)
		wantStatus(t, enc, r, http.StatusOK)
		if body := f.ts.api(t, f.b.key, "GET", "/api/v1/contacts?q=jose", "").body; !strings.Contains(body, `"Nuñez"`) {
			t.Fatalf("%s: José is not converted: %s", enc, body)
		}
	}
}

func TestRestoreUI_PointInTime(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.ts.tenants.Sync(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	f.contactIn(t, f.a, store.ContactInput{FirstName: s("Afterwards")})
	if _, err := f.ts.tenants.Sync(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	c := f.ts.loggedIn(t, f.owner.Email)
	settings := c.get("/w/" + f.a + "/settings").body
	if !strings.Contains(settings, "<h2>Backup</h2>") || !strings.Contains(settings, "Last replicated") {
		t.Fatal("the settings page has no backup panel")
	}
	// The window takes LIST calls on the replica: the page asks for it
	// once loaded.
	if !strings.Contains(settings, "Restore from backup") || strings.Contains(settings, "You can bring the workspace back") ||
		!strings.Contains(settings, `hx-get="/w/`+f.a+`/settings?window=1"`) {
		t.Fatal("the settings page reads the restore window before it is shown")
	}
	if settings = c.get("/w/" + f.a + "/settings?window=1").body; !strings.Contains(settings, "You can bring the workspace back") {
		t.Fatal("the settings page does not offer a restore window")
	}
	if admin := f.ts.loggedIn(t, f.admin.Email).get("/w/" + f.a + "/settings?window=1").body; strings.Contains(admin, "Restore from backup") {
		t.Fatal("an admin is offered a restore")
	}
	admin := f.ts.loggedIn(t, f.admin.Email)
	wantStatus(t, "an admin restores", admin.post("/w/"+f.a+"/restore", admin.workspaceToken(f.a), url.Values{"at": {between.Format(time.RFC3339Nano)}}), http.StatusForbidden)
	wantStatus(t, "bad moment", c.post("/w/"+f.a+"/restore", c.workspaceToken(f.a), url.Values{"at": {"yesterday"}}), http.StatusUnprocessableEntity)
	r := c.post("/w/"+f.a+"/restore", c.workspaceToken(f.a), url.Values{"at": {between.Format(time.RFC3339Nano)}})
	wantStatus(t, "restore", r, http.StatusSeeOther)
	list := c.get("/w/" + f.a + "/contacts").body
	if !strings.Contains(list, "ana@acme.example") || strings.Contains(list, "Afterwards") {
		t.Fatalf("after restoring to the moment between the writes: %v / %v", strings.Contains(list, "ana@acme.example"), strings.Contains(list, "Afterwards"))
	}
}

func TestImportWorkspaceUI(t *testing.T) {
	f := newFixture(t)
	admin := f.ts.loggedIn(t, f.admin.Email)
	archive := admin.get("/w/" + f.a + "/export").body
	c := f.ts.loggedIn(t, f.member.Email)
	workspaceName := "Acme copy"
	upload := func(name, content string) response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("csrf_token", c.token("/"))
		mw.WriteField("name", workspaceName)
		fw, _ := mw.CreateFormFile("archive", name)
		fw.Write([]byte(content))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/workspaces/import", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return c.do(req)
	}
	r := upload("notes.txt", "not an archive")
	wantStatus(t, "not an archive", r, http.StatusBadRequest)
	if !strings.Contains(r.body, "neither a SQLite database nor a zip archive") {
		t.Error("no clear message for a bad file")
	}
	r = upload("acme.zip", archive)
	wantStatus(t, "import", r, http.StatusSeeOther)
	id := workspaceIDOf(t, r.header.Get("Location"))
	if id == f.a {
		t.Fatal("the import reused the original id")
	}
	if body := c.get("/w/" + id + "/contacts").body; !strings.Contains(body, "ana@acme.example") {
		t.Fatal("the imported workspace lacks the contacts")
	}
	if role, _ := store.MemberRole(t.Context(), f.ts.tenants.Catalog().R, f.member.ID, id); role != "owner" {
		t.Fatalf("the importer is %q", role)
	}

	// A bare .db imported without a name is named after its file.
	zr, err := zip.NewReader(strings.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	dbFile, err := zr.Open("workspace.db")
	if err != nil {
		t.Fatal(err)
	}
	db, _ := io.ReadAll(dbFile)
	dbFile.Close()
	workspaceName = ""
	r = upload(`C:\exports\Globex Holdings.db`, string(db))
	wantStatus(t, "import of a bare .db without a name", r, http.StatusSeeOther)
	w, err := store.GetWorkspace(t.Context(), f.ts.tenants.Catalog().R, workspaceIDOf(t, r.header.Get("Location")))
	if err != nil || w.Name != "Globex Holdings" {
		t.Fatalf("imported as %+v, %v", w, err)
	}
}

func TestImportUploads_SweepForgetsOldUploads(t *testing.T) {
	dir := t.TempDir()
	var us importUploads
	now := time.Now()
	stale := &importUpload{ID: "stale", Path: filepath.Join(dir, "stale.csv"), Created: now.Add(-2 * importUploadTTL)}
	started := &importUpload{ID: "started", Path: filepath.Join(dir, "started.csv"), Created: now.Add(-2 * importUploadTTL), started: true}
	os.WriteFile(stale.Path, []byte("a\n"), 0o600)
	os.WriteFile(started.Path, []byte("a\n"), 0o600)
	us.add(stale)
	us.add(started)
	us.add(&importUpload{ID: "new", Created: now})
	if us.get("", "stale") != nil || us.get("", "new") == nil {
		t.Fatal("the sweep kept a stale upload or dropped a new one")
	}
	if _, err := os.Stat(stale.Path); !os.IsNotExist(err) {
		t.Fatal("the stale upload's file is still there")
	}
	// A started upload is a job now, which removes its file when it ends.
	if _, err := os.Stat(started.Path); err != nil {
		t.Fatal("a started import's file was removed")
	}
}

// Every download of a workspace's data tells caches not to keep it.
func TestDownloads_NotCached(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	for _, path := range []string{
		"/w/" + f.a + "/export",
		"/w/" + f.a + "/contacts?format=csv",
		"/w/" + f.a + "/contacts?format=json",
		"/w/" + f.a + "/contacts/" + f.contact + "/export.json",
		"/w/" + f.a + "/contacts/import/" + f.job + "/errors.csv",
		"/w/" + f.a + "/contacts/import/" + f.job + "/summary.csv",
	} {
		r := c.get(path)
		wantStatus(t, path, r, http.StatusOK)
		if got := r.header.Get("Cache-Control"); got != "no-store" || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("%s: Cache-Control %q, Content-Disposition %q", path, got, r.header.Get("Content-Disposition"))
		}
	}
}

// csvHeaderCases are CSVs whose header the import refuses, and what the
// refusal must name.
var csvHeaderCases = []struct{ name, csv, want string }{
	{"500,000 columns", strings.Repeat("a,", 500_000) + "a\n1\n", "64 KiB"},
	{"201 columns", strings.TrimSuffix(strings.Repeat("col,", 201), ",") + "\n1\n", "at most 200 columns"},
	{"a long column name", "email," + strings.Repeat("x", 300) + "\na@example.com,1\n", "256 bytes"},
}

func TestImportUI_HeaderLimits(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	uploads := filepath.Join(f.ts.tenants.DataDir(), ".import-*")
	before, _ := filepath.Glob(uploads) // the fixture's own job
	for _, tc := range csvHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.postFile("/w/"+f.a+"/contacts/import", c.workspaceToken(f.a), "wide.csv", tc.csv)
			wantStatus(t, "upload", r, http.StatusUnprocessableEntity)
			if !strings.Contains(r.body, tc.want) {
				t.Errorf("the refusal does not name the limit %q", tc.want)
			}
			if after, _ := filepath.Glob(uploads); len(after) != len(before) {
				t.Errorf("a refused upload was kept: got %v, want %v", after, before)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		f.uploadCSV(t, c, f.a, strings.TrimSuffix(strings.Repeat("col,", 200), ",")+"\n1\n")
	})
}

func TestAPI_ImportContactsHeaderLimits(t *testing.T) {
	f := newAPIFixture(t)
	for _, tc := range csvHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import", tc.csv)
			wantAPIError(t, "import", resp, http.StatusBadRequest, "invalid", "")
			if !strings.Contains(resp.body, tc.want) {
				t.Errorf("the refusal does not name the limit %q: %s", tc.want, resp.body)
			}
		})
	}
}

// The list export of a workspace imports into an empty one of the same
// members as the same contacts: formula-defused cells come back as they
// were, the CSV starts with a byte-order mark that the importer skips, and
// owners travel as emails (a user id of the export's workspace would mean
// nothing to a reader), mapped back to the members.
func TestExportImport_RoundTrip(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "owner@example.com", false)
	seller := ts.mustUser(t, "Seller@Example.com", false)
	from := ts.mustWorkspace(t, "From", "owner@example.com")
	to := ts.mustWorkspace(t, "To", "owner@example.com")
	for _, id := range []string{from, to} {
		ts.mustMember(t, id, seller, "member")
		l, err := ts.tenants.Acquire(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []store.NewCustomField{{Entity: "contact", Key: "tier", Label: "Tier", Type: "text"}, {Entity: "contact", Key: "budget", Label: "Budget", Type: "number"}} {
			if _, err := store.CreateCustomField(t.Context(), l.DB, store.Actor{Kind: "system"}, f); err != nil {
				t.Fatal(err)
			}
		}
		l.Release()
	}
	l, err := ts.tenants.Acquire(t.Context(), from)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []store.ContactInput{
		{FirstName: s("José"), LastName: s("Nuñez"), Email: s("jose@example.com"), Phone: s("+33 1 23 45 67 89"), Company: s("Acme"), Tags: &[]string{"vip", "event"}, Stage: s("customer"),
			OwnerID: &seller.ID, Custom: map[string]any{"tier": "=Gold", "budget": 1200.5}},
		{FirstName: s("=Eve"), Title: s("@boss"), Email: s("eve@example.com"), Phone: s("-1"), Company: s("Acme")},
		{FirstName: s("Zoë"), LastName: s("Ødegaard"), Email: s("zoe@example.com"), Tags: &[]string{"ski"}, OwnerID: &seller.ID, Custom: map[string]any{"tier": "Silver"}},
	} {
		if _, err := ts.tenants.Service(l).CreateContact(t.Context(), store.Actor{Kind: "system"}, in); err != nil {
			t.Fatal(err)
		}
	}
	l.Release()
	c := ts.loggedIn(t, "owner@example.com")
	export := c.get("/w/" + from + "/contacts?format=csv").body
	if !strings.HasPrefix(export, "\ufeff") {
		t.Error("the CSV export does not start with a byte-order mark")
	}
	if !strings.Contains(export, ",Seller@Example.com,") || strings.Contains(export, seller.ID) {
		t.Errorf("the CSV export does not name the owner by email:\n%s", export)
	}
	key, _ := ts.mustAPIKey(t, to, "write")
	r := ts.api(t, key, "POST", "/api/v1/contacts/import", export)
	wantStatus(t, "import the export", r, http.StatusOK)
	var res store.ImportResult
	mustDecode(t, r.body, &res)
	if res.Created != 3 || res.Failed != 0 {
		t.Fatalf("import: %+v", res)
	}
	got, want := contactsDump(t, ts, to), contactsDump(t, ts, from)
	if got != want {
		t.Fatalf("imported:\n%s\nexported:\n%s", got, want)
	}
	if !strings.Contains(want, "|"+seller.ID+"|") || !strings.Contains(want, "tier:=Gold") || !strings.Contains(want, "+33 1") {
		t.Fatalf("the dump misses what it compares:\n%s", want)
	}
}

// contactsDump lists a workspace's contacts by email, with the fields a
// list export carries (not ids or times, but the owner's user id: users
// are the instance's, the same in every workspace).
func contactsDump(tb testing.TB, ts *testServer, id string) string {
	tb.Helper()
	l, err := ts.tenants.Acquire(tb.Context(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	list, _, err := store.ListContacts(tb.Context(), l.DB, store.ContactFilter{Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	var lines []string
	for _, c := range list {
		var custom []string
		for k, v := range c.Custom {
			custom = append(custom, fmt.Sprintf("%s:%v", k, v))
		}
		sort.Strings(custom)
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", c.Email, c.FirstName, c.LastName, c.Phone, c.Title, c.Company, c.Stage,
			strings.Join(c.Tags, ","), c.OwnerID, strings.Join(custom, ",")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// The mapping step reads the whole file first: a broken quote that would
// swallow the rows after it is shown, with its line, before anything is
// imported.
func TestImportUI_StructuralProblems(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	var b strings.Builder
	b.WriteString("first_name,email\n")
	for i := range 50 {
		if i == 9 {
			b.WriteString("\"Broken,broken@example.com\n")
			continue
		}
		fmt.Fprintf(&b, "P%d,p%d@example.com\n", i, i)
	}
	job := f.uploadCSV(t, c, f.a, b.String())
	page := c.get("/w/" + f.a + "/contacts/import/" + job).body
	for _, want := range []string{"This file has problems", "line 11", "quote"} {
		if !strings.Contains(page, want) {
			t.Errorf("the mapping step lacks %q", want)
		}
	}
}

// A file that is not UTF-8 is offered a conversion at the mapping step,
// Windows-1252 first, with its rows shown converted in the encoding chosen;
// the import reads it as it was shown.
func TestImportUI_Encoding(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	w := "/w/" + f.a + "/contacts/import/"
	// Windows-1252: é E9, ñ F1, ’ 92.
	csv := "Pr\xe9nom;Nom;E-mail\nJos\xe9;Nu\xf1ez;jose@example.com\nL\xe9a;O\x92Brien;lea@example.com\nRen\xe9;;not-an-email\n"
	job := f.uploadCSV(t, c, f.a, csv)
	page := c.get(w + job).body
	for _, want := range []string{"This file is not UTF-8", "4 rows of it (the header is one), the first on line 1,", `<option value="windows-1252" selected>`,
		`<input type="hidden" name="encoding" value="windows-1252">`, "<strong>Prénom</strong>", "<td>José</td>", "<td>O’Brien</td>", "Import 3 rows from Windows-1252"} {
		if !strings.Contains(page, want) {
			t.Errorf("the mapping step lacks %q", want)
		}
	}
	// Another encoding shows the rows converted from it, and keeps the
	// columns' choices.
	page = c.get(w + job + "?encoding=iso-8859-1&map_1=first_name").body
	for _, want := range []string{`<option value="iso-8859-1" selected>`, `<input type="hidden" name="encoding" value="iso-8859-1">`, "<td>José</td>",
		"<td>O\u0092Brien</td>", "Import 3 rows from ISO-8859-1", `name="map_1"><option value="">Skip this column</option><option value="new">Create a custom field (text)</option><option value="first_name" selected>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the mapping step in ISO-8859-1 lacks %q", want)
		}
	}
	if page = c.get(w + job + "?encoding=utf-8").body; !strings.Contains(page, "Import 3 rows</button>") {
		t.Error("read as UTF-8, the import still says it converts")
	}
	start := url.Values{"map_0": {"first_name"}, "map_1": {"last_name"}, "map_2": {"email"}, "mode": {"skip"}, "encoding": {"windows-1252"}}
	wantStatus(t, "start", c.post(w+job, c.workspaceToken(f.a), start), http.StatusSeeOther)
	var body string
	for range 100 {
		if body = c.get(w + job).body; strings.Contains(body, "Import finished") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, "<dt>Created</dt><dd>2</dd>") || !strings.Contains(body, "<dt>Rows with errors</dt><dd>1</dd>") {
		t.Fatalf("the report: %s", body)
	}
	if list := c.get("/w/" + f.a + "/contacts?q=lea").body; !strings.Contains(list, "O’Brien") {
		t.Error("Léa O’Brien is not imported converted")
	}
	// The error report is the converted file's: it can be fixed and
	// uploaded again as UTF-8.
	if errs := c.get(w + job + "/errors.csv").body; !strings.HasPrefix(errs, "row,message,Prénom,Nom,E-mail\n") || !strings.Contains(errs, ",René,,not-an-email\n") {
		t.Errorf("errors.csv: %q", errs)
	}
}

// A started import is a job of the workspace: after a restart its page
// says it was interrupted (the upload, kept in memory, is gone), and
// another workspace's member does not see it.
func TestImportUI_InterruptedJob(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	cat := f.ts.tenants.Catalog()
	j := &store.Job{ID: "interruptedjob00000000", Kind: tenant.JobImportContacts, WorkspaceID: f.a, CreatedAt: time.Now().UTC()}
	if err := store.InsertJob(ctx, cat.W, j); err != nil {
		t.Fatal(err)
	}
	if err := store.FinishJob(ctx, cat.W, j.ID, store.JobInterrupted, "", "The server stopped before this job finished.", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	c := f.ts.loggedIn(t, f.member.Email)
	page := c.get("/w/" + f.a + "/contacts/import/" + j.ID)
	wantStatus(t, "interrupted import", page, http.StatusOK)
	if !strings.Contains(page.body, "The import was interrupted") || !strings.Contains(page.body, "The server stopped before this job finished.") {
		t.Errorf("the page does not say the import was interrupted: %.2000s", page.body)
	}
	wantStatus(t, "its errors", c.get("/w/"+f.a+"/contacts/import/"+j.ID+"/errors.csv"), http.StatusNotFound)
	outsider := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "from B's URL", outsider.get("/w/"+f.b+"/contacts/import/"+j.ID), http.StatusNotFound)
}
