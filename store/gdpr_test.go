package store

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEraseContact(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Zsofia"), LastName: ptr("Quimby"), Email: ptr("zsofia.quimby@example.com"), Phone: ptr("+36 1 555 0199")})
	other := mustContact(t, db, ContactInput{FirstName: ptr("Bo")})
	UpdateContact(ctx, db, tester, c.ID, ContactInput{Title: ptr("Head of Quimbyology")})
	CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Zsofia prefers calls"})
	CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Call Zsofia")})
	d, _ := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Renewal"), ContactID: &c.ID})
	// Records about them deleted, or moved to someone else, before the
	// request: their audit events still hold what was written about them.
	gone, _ := CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Allergic to peanuts"})
	DeleteNote(ctx, db, tester, gone.ID)
	goneDeal, _ := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Quimbyology expansion"), ContactID: &c.ID})
	DeleteDeal(ctx, db, tester, goneDeal.ID)
	moved, _ := CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Send birthday card")})
	UpdateTask(ctx, db, tester, moved.ID, TaskInput{ContactID: &other.ID})
	// Records made without them, linked to them later, then deleted.
	co, _ := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Holdings Ltd")})
	later, _ := CreateTask(ctx, db, tester, TaskInput{CompanyID: &co.ID, Title: ptr("Ask about SECRETX")})
	UpdateTask(ctx, db, tester, later.ID, TaskInput{ContactID: &c.ID, CompanyID: ptr("")})
	DeleteTask(ctx, db, tester, later.ID)
	laterDeal, _ := CreateDeal(ctx, db, tester, DealInput{Title: ptr("SECRETY upsell")})
	UpdateDeal(ctx, db, tester, laterDeal.ID, DealInput{ContactID: &c.ID})
	DeleteDeal(ctx, db, tester, laterDeal.ID)
	DeleteCompany(ctx, db, tester, co.ID)

	sa, err := ContactSubjectAccess(ctx, db, c.ID)
	if err != nil || len(sa.Notes) != 1 || len(sa.Tasks) != 1 || len(sa.Deals) != 1 {
		t.Fatalf("subject access: %+v %v", sa, err)
	}
	saJSON, _ := json.Marshal(sa.Audit)
	for _, word := range []string{"Renewal", "peanuts", "Quimbyology expansion", "birthday card", "SECRETX", "SECRETY"} {
		if !bytes.Contains(saJSON, []byte(word)) {
			t.Errorf("the subject-access export's audit events miss %q", word)
		}
	}
	if err := EraseContact(ctx, db, tester, c.ID); err != nil {
		t.Fatal(err)
	}
	if rs, _ := Search(ctx, db, "zsofia", 10); len(rs) != 0 {
		t.Fatalf("search still finds them: %+v", rs)
	}
	if rs, _ := Search(ctx, db, "quimby", 10); len(rs) != 0 {
		t.Fatalf("search still finds them: %+v", rs)
	}
	if got, _ := GetDeal(ctx, db, d.ID); got.ContactID != "" {
		t.Fatal("the deal still names them")
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{Limit: 200})
	b, _ := json.Marshal(events)
	for _, word := range []string{"Zsofia", "zsofia", "Quimby", "555 0199", "prefers calls", "peanuts", "birthday card", "SECRETX", "SECRETY"} {
		if strings.Contains(string(b), word) {
			t.Errorf("the audit log still holds %q", word)
		}
	}
	if events[0].Action != "contact.erase" || events[0].EntityID != c.ID {
		t.Fatalf("the erasure is not recorded: %+v", events[0])
	}
	if _, err := GetContact(ctx, db, other.ID); err != nil {
		t.Fatal("another contact went too")
	}
	if err := EraseContact(ctx, db, tester, c.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("erasing twice: %v", err)
	}
	// Nothing of them is left in the file's pages either, once checkpointed.
	db.W.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	raw, _ := os.ReadFile(db.Path)
	for _, word := range []string{"zsofia.quimby", "Quimbyology", "prefers calls"} {
		if strings.Contains(string(raw), word) {
			t.Errorf("the database file still contains %q", word)
		}
	}
	// Nor in an export: its CSV and JSON, and its snapshot.
	var buf bytes.Buffer
	if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w"}, t.TempDir(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		for _, word := range []string{"zsofia", "Zsofia", "Quimby", "prefers calls"} {
			if bytes.Contains(b, []byte(word)) {
				t.Errorf("the export's %s still holds %q", f.Name, word)
			}
		}
	}
	// Nor the timeline of anything.
	var n int
	db.R.Get(&n, `SELECT count(*) FROM activities WHERE contact_id = ?`, c.ID)
	if n != 0 {
		t.Errorf("%d timeline entries left", n)
	}
}

// A subject-access export holds all of a person's records, not one page.
func TestSubjectAccess_BeyondOnePage(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Many")})
	const n = MaxLimit + 5
	for i := 0; i < n; i++ {
		if _, err := CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Task")}); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := ContactSubjectAccess(ctx, db, c.ID)
	if err != nil || len(sa.Tasks) != n || len(sa.Timeline) < n || len(sa.Deals) != 0 || sa.Deals == nil {
		t.Fatalf("tasks %d, timeline %d, deals %v, err %v; want %d tasks and at least as many timeline entries", len(sa.Tasks), len(sa.Timeline), sa.Deals, err, n)
	}
}

// A file from before the audit log named contacts gets the links its notes,
// tasks and deals have when it is migrated.
func TestMigration_LinksOldAuditEventsToContacts(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Old")})
	n, _ := CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "from before"})
	task, _ := CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Call")})
	deal, _ := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Renewal"), ContactID: &c.ID})
	co, _ := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Elsewhere")})
	unlinked, _ := CreateNote(ctx, db, tester, NoteInput{CompanyID: co.ID, Body: "about a company"})
	// Back to schema version 1: no contact_id column, none of the tables
	// later migrations add.
	v1, err := referenceSchema(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := referenceSchema(ctx, LatestVersion(WorkspaceSchema))
	if err != nil {
		t.Fatal(err)
	}
	back := []string{`ALTER TABLE audit_log DROP COLUMN contact_id`,
		`ALTER TABLE contacts DROP COLUMN version`, `ALTER TABLE companies DROP COLUMN version`, `ALTER TABLE deals DROP COLUMN version`,
		`ALTER TABLE tasks DROP COLUMN version`, `ALTER TABLE notes DROP COLUMN version`,
		`DROP TRIGGER deals_fts_insert`, `DROP TRIGGER deals_fts_delete`, `DROP TRIGGER deals_fts_update`,
		`ALTER TABLE deals DROP COLUMN custom`, `ALTER TABLE companies DROP COLUMN name_key`}
	// Indexes later migrations added, before the columns they cover.
	for name, o := range latest {
		if _, ok := v1[name]; !ok && o.Type == "index" && !strings.HasPrefix(name, "sqlite_") {
			back = append([]string{`DROP INDEX IF EXISTS ` + name}, back...)
		}
	}
	// The deals' index triggers of version 1, which a later migration
	// replaces by name.
	for _, name := range []string{"deals_fts_insert", "deals_fts_delete", "deals_fts_update"} {
		back = append(back, v1[name].SQL.S)
	}
	for name, o := range latest {
		if _, ok := v1[name]; !ok && o.Type == "trigger" {
			back = append([]string{`DROP TRIGGER ` + name}, back...) // before its tables
		}
	}
	for name, o := range latest {
		if _, ok := v1[name]; !ok && o.Type == "table" {
			back = append(back, `DROP TABLE `+name)
		}
	}
	// Dropped in any order: the foreign keys between them are not checked.
	back = append([]string{`PRAGMA foreign_keys = OFF`}, back...)
	for _, stmt := range append(back, `PRAGMA foreign_keys = ON`, `PRAGMA user_version = 1`) {
		if _, err := db.W.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{c.ID: c.ID, n.ID: c.ID, task.ID: c.ID, deal.ID: c.ID, co.ID: "", unlinked.ID: ""}
	for entity, contact := range want {
		var got []string
		if err := db.R.Select(&got, `SELECT contact_id FROM audit_log WHERE entity_id = ?`, entity); err != nil || len(got) == 0 {
			t.Fatalf("events of %s: %v, %v", entity, got, err)
		}
		for _, g := range got {
			if g != contact {
				t.Errorf("an event of %s names contact %q, want %q", entity, g, contact)
			}
		}
	}
}

// The audit events of one person are found through indexes, not by reading
// the whole audit log.
func TestAuditAboutContact_UsesIndexes(t *testing.T) {
	db := MustOpenWorkspace(t)
	var plan []struct {
		ID      int    `db:"id"`
		Parent  int    `db:"parent"`
		NotUsed int    `db:"notused"`
		Detail  string `db:"detail"`
	}
	if err := db.R.Select(&plan, `EXPLAIN QUERY PLAN SELECT * FROM audit_log WHERE `+auditAboutContact, "x"); err != nil {
		t.Fatal(err)
	}
	for _, p := range plan {
		if strings.HasPrefix(p.Detail, "SCAN audit_log") {
			t.Fatalf("the audit log is scanned: %+v", plan)
		}
	}
}

// Erasure takes what only the person had: a tag made for them, and the
// company named in their record, when nothing else uses it. Shared tags
// and companies someone created or uses stay.
func TestEraseContact_TheirTagsAndCompany(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	acme, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Acme")})
	if err != nil {
		t.Fatal(err)
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("Zsofia"), Company: ptr("Quimby Family Trust"), Tags: ptr([]string{"zsofia-vip", "shared"})})
	mustContact(t, db, ContactInput{FirstName: ptr("Bo"), Company: ptr("Shared Name Only"), Tags: ptr([]string{"shared"})})
	inAcme := mustContact(t, db, ContactInput{FirstName: ptr("Cy"), Company: ptr("Acme")})
	withShared := mustContact(t, db, ContactInput{FirstName: ptr("Di"), Company: ptr("Shared Name Only")})
	for _, id := range []string{c.ID, inAcme.ID, withShared.ID} {
		if err := EraseContact(ctx, db, tester, id); err != nil {
			t.Fatal(err)
		}
	}
	var tags, companies []string
	if err := db.R.Select(&tags, `SELECT name FROM tags ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	if err := db.R.Select(&companies, `SELECT name FROM companies ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tags, ","), "shared"; got != want {
		t.Errorf("tags = %s, want %s", got, want)
	}
	if got, want := strings.Join(companies, ","), "Acme,Shared Name Only"; got != want {
		t.Errorf("companies = %s, want %s", got, want)
	}
	if rs, _ := Search(ctx, db, "quimby", 10); len(rs) != 0 {
		t.Errorf("search still finds their company: %+v", rs)
	}
	if _, err := GetCompany(ctx, db, acme.ID); err != nil {
		t.Errorf("a company someone created went with them: %v", err)
	}
}

// EraseAgain finds the erased by id, and by email when the person was
// made again under another id; the ledger holds a keyed hash, not the
// address.
func TestEraseAgain_ByIDAndEmail(t *testing.T) {
	ctx := context.Background()
	catalog, err := OpenCatalog(filepath.Join(t.TempDir(), "catalog.db"), OpenOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer catalog.Close()
	if _, _, err := Migrate(ctx, catalog.DB, CatalogSchema); err != nil {
		t.Fatal(err)
	}
	db := MustOpenWorkspace(t)
	gone := mustContact(t, db, ContactInput{FirstName: ptr("Ann"), Email: ptr("ann@example.com")})
	// Zed was deleted and made again (another id) before the erasure; this
	// file holds the older record.
	again := mustContact(t, db, ContactInput{FirstName: ptr("Zed"), Email: ptr("zed@example.com")})
	kept := mustContact(t, db, ContactInput{FirstName: ptr("Bo"), Email: ptr("bo@example.com")})
	if err := RecordErasure(ctx, catalog, "w1", gone.ID, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := RecordErasure(ctx, catalog, "w1", "01a22b40-0000-7000-8000-000000000000", " ZED@example.com"); err != nil {
		t.Fatal(err)
	}
	es, err := Erasures(ctx, catalog.R, "w1")
	if err != nil || len(es) != 2 || strings.Contains(es[0].EmailHash+es[1].EmailHash, "example") {
		t.Fatalf("ledger %+v, %v", es, err)
	}
	// An import matches ids only: what an archive says of its origin
	// cannot be checked, and emails would tell who was erased there.
	if n, err := EraseAgain(ctx, catalog, db, es, false); err != nil || n != 1 {
		t.Fatalf("by id: erased %d, %v", n, err)
	}
	if _, err := GetContact(ctx, db, again.ID); err != nil {
		t.Fatalf("matched by email without byEmail: %v", err)
	}
	if n, err := EraseAgain(ctx, catalog, db, es, true); err != nil || n != 1 {
		t.Fatalf("by email: erased %d, %v", n, err)
	}
	for _, id := range []string{gone.ID, again.ID} {
		if _, err := GetContact(ctx, db, id); ErrorCode(err) != ENotFound {
			t.Errorf("contact %s is still there: %v", id, err)
		}
	}
	if _, err := GetContact(ctx, db, kept.ID); err != nil {
		t.Errorf("another contact went too: %v", err)
	}
}
