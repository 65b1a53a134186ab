package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fullExportDB extracts the export of a workspace with a row in every
// table, made by the write paths; the caller copies it to tamper with.
func fullExportDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Tier", Type: "select", Options: []string{"Gold"}}))
	must(CreateCustomField(ctx, db, tester, NewCustomField{Entity: "company", Label: "Region", Type: "text"}))
	co, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Initech"), Domain: ptr("initech.example"), Size: ptr("11-50"),
		Tags: &[]string{"partner"}, Custom: map[string]any{"region": "North"}})
	must(co, err)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com"), Company: ptr("Acme"),
		Tags: &[]string{"vip"}, Custom: map[string]any{"tier": "Gold"}})
	must(UpdateContact(ctx, db, tester, c.ID, ContactInput{Title: ptr("CTO")}))
	must(CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Likes long lunches"}))
	must(CreateNote(ctx, db, tester, NoteInput{CompanyID: co.ID, Body: "Pays late"}))
	must(CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Call"), DueDate: ptr("2030-01-31")}))
	d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Renewal"), Value: ptr("1200.10"), ContactID: &c.ID, ExpectedClose: ptr("2030-02-01")})
	must(d, err)
	must(UpdateDeal(ctx, db, tester, d.ID, DealInput{Status: ptr("lost"), LostReason: ptr("Price")}))
	must(nil, SetRetention(ctx, db, tester, Retention{AuditDays: 365}, nil))
	must(nil, SetListExportRole(ctx, db, tester, "admin"))
	_, _, err = AddSuppression(ctx, db, tester, SuppressionInput{Email: "gone@example.com", Reason: SuppressBounced})
	must(nil, err)
	_, _, err = CreateAPIKey(ctx, db, tester, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "key", "write")
	must(nil, err)
	must(CreateTemplate(ctx, db, tester, TemplateInput{Name: ptr("Intro"), Subject: ptr("Hi {{first_name}}"), Body: ptr("<p>{{custom.tier}}</p>\n")}))
	p := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(p)
	must(f, err)
	defer f.Close()
	must(ExportWorkspace(ctx, db, ExportMeta{ID: "w", Name: "W"}, t.TempDir(), f, nil))
	out, _, err := ExtractArchive(p, t.TempDir())
	must(out, err)
	return out
}

// TestImport_RowRules: a file whose rows a normal write could not have made
// is refused with the table, row and column named; one case at least per
// table checked.
func TestImport_RowRules(t *testing.T) {
	ctx := context.Background()
	base := fullExportDB(t)
	long := func(n int) string { return "'" + strings.Repeat("x", n) + "'" }
	fiftyOneTags := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		INSERT INTO tags (name) SELECT 'bulk' || i FROM n;
		INSERT INTO %s SELECT (SELECT id FROM %s ORDER BY seq LIMIT 1), seq FROM tags WHERE name GLOB 'bulk*'`
	for _, tc := range []struct{ name, table, column, sql string }{
		{"ErrFieldOptions", "custom_fields", "options", `UPDATE custom_fields SET options = '{"a": 1}' WHERE type = 'select'`},
		{"ErrFieldKey", "custom_fields", "key", `UPDATE custom_fields SET key = 'Tier!'`},
		{"ErrCompanyName", "companies", "name", `UPDATE companies SET name = ` + long(maxRecordTitle+1)},
		{"ErrCompanyDomain", "companies", "domain", `UPDATE companies SET domain = 'not a domain'`},
		{"ErrCompanyCustomArray", "companies", "custom", `UPDATE companies SET custom = '[1]'`},
		{"ErrContactStage", "contacts", "stage", `UPDATE contacts SET stage = 'pending'`},
		{"ErrContactEmail", "contacts", "email", `UPDATE contacts SET email = 'no-at-sign'`},
		{"ErrContactCustomNested", "contacts", "custom", `UPDATE contacts SET custom = '{"tier": {"nested": 1}}'`},
		{"ErrContactCustomLong", "contacts", "custom", `UPDATE contacts SET custom = json_object('tier', ` + long(maxCustomText+1) + `)`},
		{"ErrContactTime", "contacts", "created_at", `UPDATE contacts SET created_at = 'yesterday'`},
		{"ErrContactControlCharacter", "contacts", "first_name", `UPDATE contacts SET first_name = 'A' || char(7)`},
		{"ErrNoteTooLong", "notes", "body", `UPDATE notes SET body = ` + long(MaxNoteLength+1)},
		{"ErrNoteLengthBehindNUL", "notes", "body", `UPDATE notes SET body = 'a' || char(0) || ` + long(MaxNoteLength+1)},
		{"ErrTaskDueDate", "tasks", "due_date", `UPDATE tasks SET due_date = '2024-02-30'`},
		{"ErrTaskTitle", "tasks", "title", `UPDATE tasks SET title = ''`},
		{"ErrTagName", "tags", "name", `UPDATE tags SET name = ` + long(MaxTagLength+1) + ` WHERE seq = (SELECT min(seq) FROM tags)`},
		{"ErrContactTags", "contact_tags", "contact_id", fmt.Sprintf(fiftyOneTags, MaxTags+1, "contact_tags", "contacts")},
		{"ErrCompanyTags", "company_tags", "company_id", fmt.Sprintf(fiftyOneTags, MaxTags+1, "company_tags", "companies")},
		{"ErrPipelineName", "pipelines", "name", `UPDATE pipelines SET name = ''`},
		{"ErrStageProbability", "stages", "probability", `UPDATE stages SET probability = 50.5`},
		{"ErrDealValueFloat", "deals", "value_minor", `UPDATE deals SET value_minor = 12.5`},
		{"ErrDealValueTooLarge", "deals", "value_minor", `UPDATE deals SET value_minor = 1` + strings.Repeat("0", maxMoneyDigits+2)},
		{"ErrDealCurrency", "deals", "currency", `UPDATE deals SET currency = 'euro'`},
		{"ErrDealStageOfOtherPipeline", "deals", "stage_id", `INSERT INTO pipelines (id, name, created_at, updated_at) SELECT '0192f0c1-0000-7000-8000-000000000001', 'Other', created_at, updated_at FROM pipelines;
			INSERT INTO stages (id, pipeline_id, name, created_at) SELECT '0192f0c1-0000-7000-8000-000000000002', '0192f0c1-0000-7000-8000-000000000001', 'S', created_at FROM pipelines LIMIT 1;
			UPDATE deals SET stage_id = '0192f0c1-0000-7000-8000-000000000002'`},
		{"ErrActivityDetail", "activities", "detail", `UPDATE activities SET detail = 'not json'`},
		{"ErrSettingNotANumber", "workspace_settings", "value", `UPDATE workspace_settings SET value = 'not-a-number' WHERE key = 'retention.audit_days'`},
		{"ErrSettingTooMany", "workspace_settings", "value", fmt.Sprintf(`UPDATE workspace_settings SET value = '%d'`, MaxRetentionDays+1)},
		{"ErrSettingUnknown", "workspace_settings", "key", `INSERT INTO workspace_settings VALUES ('theme', 'dark')`},
		{"ErrListExportRole", "workspace_settings", "value", `UPDATE workspace_settings SET value = 'owner' WHERE key = 'lists.export_role'`},
		{"ErrListExportNumber", "workspace_settings", "value", `UPDATE workspace_settings SET value = 'admin' WHERE key = 'retention.audit_days'`},
		{"ErrAuditChanges", "audit_log", "changes", `UPDATE audit_log SET changes = '['`},
		{"ErrAuditActor", "audit_log", "actor", `UPDATE audit_log SET actor = 'root'`},
		{"ErrCounter", "counters", "n", `UPDATE counters SET n = 'many'`},
		{"ErrTemplateSubjectLines", "templates", "subject", `UPDATE templates SET subject = 'Hi' || char(10) || 'Bcc: x'`},
		{"ErrTemplateBodyTooLarge", "templates", "body", `UPDATE templates SET body = ` + long(100<<10+1)},
		{"ErrTemplateVersion", "templates", "version", `UPDATE templates SET version = 0`},
		{"ErrSuppressionDetail", "suppressions", "detail", `UPDATE suppressions SET detail = ` + long(maxSuppressionDetail+1)},
		{"ErrSuppressionEmailCase", "suppressions", "email", `UPDATE suppressions SET email = 'Gone@example.com'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := copyDB(t, base)
			db, err := Open(p, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.W.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			err = ValidateImport(ctx, p)
			if got, want := ErrorCode(err), EInvalid; got != want {
				t.Fatalf("got %q (%v), want %q", got, err, want)
			}
			named := regexp.MustCompile(fmt.Sprintf(`^Table %s, row (seq|rowid|key|name) \S+, column %s: `, tc.table, tc.column))
			if !named.MatchString(err.Error()) {
				t.Fatalf("got %q, want the table %s, a row and the column %s named", err, tc.table, tc.column)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		if err := ValidateImport(ctx, copyDB(t, base)); err != nil {
			t.Fatalf("a normal export is refused: %v", err)
		}
	})
}

// TestImportRules_CoverSchema: every table of the schema has row rules or
// is deliberately left unchecked, so a new table cannot slip past.
func TestImportRules_CoverSchema(t *testing.T) {
	ref, err := referenceSchema(context.Background(), LatestVersion(WorkspaceSchema))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name, o := range ref {
		if _, skip := importUnchecked[name]; o.Type == "table" && !skip {
			want = append(want, name)
		}
	}
	sort.Strings(want)
	if got := importTableNames(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got rules for %v, want them for %v (or list a table in importUnchecked, saying why)", got, want)
	}
	for name := range importUnchecked {
		if _, ok := ref[name]; !ok {
			t.Errorf("importUnchecked lists %s, which the schema does not have", name)
		}
	}
}

// copyDB copies a closed workspace file into a fresh directory.
func copyDB(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "workspace.db")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
