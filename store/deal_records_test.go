package store

import (
	"context"
	"strings"
	"testing"
)

// Notes and tasks on a deal, its timeline, and a deal of another workspace
// (or none) refused with the deal_id field named.
func TestDealNotesTasksTimeline(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	other := MustOpenWorkspace(t)
	d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Fleet"), Value: ptr("1200.10")})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := CreateDeal(ctx, other, tester, DealInput{Title: ptr("Not here")})
	if err != nil {
		t.Fatal(err)
	}
	n, err := CreateNote(ctx, db, tester, NoteInput{DealID: " " + d.ID + " ", Body: "Budget approved"})
	if err != nil || n.DealID != d.ID || n.ContactID != "" || n.CompanyID != "" {
		t.Fatalf("note on a deal: %+v, %v", n, err)
	}
	task, err := CreateTask(ctx, db, tester, TaskInput{DealID: &d.ID, Title: ptr("Send the contract"), DueDate: ptr("2027-01-15")})
	if err != nil || task.DealID != d.ID {
		t.Fatalf("task on a deal: %+v, %v", task, err)
	}
	for name, err := range map[string]error{
		"note, deal of another workspace": func() error {
			_, err := CreateNote(ctx, db, tester, NoteInput{DealID: elsewhere.ID, Body: "x"})
			return err
		}(),
		"task, deal of another workspace": func() error {
			_, err := CreateTask(ctx, db, tester, TaskInput{DealID: &elsewhere.ID, Title: ptr("x")})
			return err
		}(),
		"task moved to a deal of another workspace": func() error {
			_, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{DealID: &elsewhere.ID})
			return err
		}(),
	} {
		if ErrorField(err) != "deal_id" || !strings.Contains(ErrorMessage(err), "No such record") {
			t.Errorf("%s: err = %v (field %q)", name, err, ErrorField(err))
		}
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	if _, err := CreateNote(ctx, db, tester, NoteInput{DealID: d.ID, ContactID: c.ID, Body: "two parents"}); ErrorField(err) != "contact_id" {
		t.Errorf("a note on a deal and a contact: %v", err)
	}
	notes, _, err := ListNotes(ctx, db, "", "", d.ID, "", 10)
	if err != nil || len(notes) != 1 || notes[0].ID != n.ID {
		t.Fatalf("deal's notes: %+v, %v", notes, err)
	}
	tasks, _, err := ListTasks(ctx, db, TaskFilter{DealID: d.ID})
	if err != nil || len(tasks) != 1 || tasks[0].ID != task.ID {
		t.Fatalf("deal's tasks: %+v, %v", tasks, err)
	}
	// A task moves from the deal to a contact and back.
	moved, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{ContactID: &c.ID})
	if err != nil || moved.DealID != "" || moved.ContactID != c.ID {
		t.Fatalf("moved to the contact: %+v, %v", moved, err)
	}
	if back, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{DealID: &d.ID}); err != nil || back.DealID != d.ID || back.ContactID != "" {
		t.Fatalf("moved back to the deal: %+v, %v", back, err)
	}

	p, err := GetPipeline(ctx, db, d.PipelineID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{StageID: &p.Stages[2].ID}); err != nil {
		t.Fatal(err)
	}
	items, err := DealTimeline(ctx, db, d.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Kind]++
	}
	if kinds["created"] != 1 || kinds["changed"] < 1 || kinds["note"] != 1 || kinds["task"] != 1 {
		t.Fatalf("timeline kinds: %v", kinds)
	}
	names, err := LoadNames(ctx, db, KindDeal, nil)
	if err != nil {
		t.Fatal(err)
	}
	names.Describe(items)
	var lines []string
	for _, it := range items {
		lines = append(lines, it.Lines...)
	}
	if want := "Stage changed from " + p.Stages[0].Name + " to " + p.Stages[2].Name; !strings.Contains(strings.Join(lines, "\n"), want) {
		t.Errorf("timeline lines %q lack %q", lines, want)
	}
	if other, _ := DealTimeline(ctx, db, elsewhere.ID, 50); len(other) != 0 {
		t.Errorf("another workspace's deal has a timeline here: %+v", other)
	}

	// Search finds the deal's note and opens the deal.
	found, err := Search(ctx, db, "budget", 10)
	if err != nil || len(found) != 1 || found[0].Kind != "note" || found[0].Link != "deals/"+d.ID || found[0].Title != "Fleet" {
		t.Fatalf("search for the deal's note: %+v, %v", found, err)
	}

	// Deleting the deal takes its notes and tasks, and the note leaves the
	// search index.
	if err := DeleteDeal(ctx, db, tester, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := GetNote(ctx, db, n.ID); ErrorCode(err) != ENotFound {
		t.Errorf("the deal's note outlived it: %v", err)
	}
	if _, err := GetTask(ctx, db, task.ID); ErrorCode(err) != ENotFound {
		t.Errorf("the deal's task outlived it: %v", err)
	}
	var left int
	if err := db.R.GetContext(ctx, &left, `SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'budget'`); err != nil || left != 0 {
		t.Errorf("notes_fts still finds the note: %d, %v", left, err)
	}
}

// The migration (0019) keeps the notes and tasks of before: their ids,
// parents, versions and search entries; and a note still cannot be on
// nothing.
func TestMigration_DealNotesKeepsRows(t *testing.T) {
	ctx := context.Background()
	db, _ := openWorkspaceBefore(t, "deal_notes_tasks")
	for _, stmt := range []string{
		`INSERT INTO contacts (id, first_name, created_at, updated_at) VALUES ('c1', 'Ana', datetime(), datetime())`,
		`INSERT INTO companies (id, name, created_at, updated_at) VALUES ('co1', 'Acme', datetime(), datetime())`,
		`INSERT INTO notes (seq, id, contact_id, author_id, body, created_at, updated_at, version) VALUES (7, 'n1', 'c1', 'u1', 'zanzibar plans', '2024-01-01', '2024-01-02', 3)`,
		`INSERT INTO notes (seq, id, company_id, author_id, body, created_at, updated_at) VALUES (9, 'n2', 'co1', 'u1', 'about acme', '2024-01-01', '2024-01-01')`,
		`INSERT INTO tasks (seq, id, company_id, title, due_date, assignee_id, created_by, created_at, updated_at, version) VALUES (4, 't1', 'co1', 'Call', '2027-01-15', 'u2', 'user:u1', '2024-01-01', '2024-01-01', 2)`,
	} {
		if _, err := db.W.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		t.Fatal(err)
	}
	n, err := GetNote(ctx, db, "n1")
	if err != nil || n.Seq != 7 || n.ContactID != "c1" || n.Version != 3 || n.Body != "zanzibar plans" || n.DealID != "" {
		t.Fatalf("note after the migration: %+v, %v", n, err)
	}
	if n, err := GetNote(ctx, db, "n2"); err != nil || n.CompanyID != "co1" {
		t.Fatalf("company note after the migration: %+v, %v", n, err)
	}
	task, err := GetTask(ctx, db, "t1")
	if err != nil || task.Seq != 4 || task.CompanyID != "co1" || task.Version != 2 || task.DueDate != "2027-01-15" || task.AssigneeID != "u2" {
		t.Fatalf("task after the migration: %+v, %v", task, err)
	}
	// The search index still points at the kept rows, and its triggers work.
	var found int
	if err := db.R.GetContext(ctx, &found, `SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'zanzibar'`); err != nil || found != 1 {
		t.Errorf("search finds %d notes, %v", found, err)
	}
	if _, err := UpdateNote(ctx, db, tester, "n1", "kilimanjaro plans", Expect{}); err != nil {
		t.Fatal(err)
	}
	if err := db.R.GetContext(ctx, &found, `SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'kilimanjaro' OR notes_fts MATCH 'zanzibar'`); err != nil || found != 1 {
		t.Errorf("after an edit search finds %d notes, %v", found, err)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO notes (id, body, created_at, updated_at) VALUES ('x', 'orphan', datetime(), datetime())`); err == nil {
		t.Error("a note on no record was stored")
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO tasks (id, contact_id, company_id, title, created_at, updated_at) VALUES ('y', 'c1', 'co1', 'two', datetime(), datetime())`); err == nil {
		t.Error("a task on two records was stored")
	}
}
