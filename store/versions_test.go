package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// versionOf reads a record's version straight from its row.
func versionOf(tb testing.TB, db *DB, table, id string) int64 {
	tb.Helper()
	var v int64
	if err := db.W.Get(&v, `SELECT version FROM `+table+` WHERE id = ?`, id); err != nil {
		tb.Fatalf("version of %s %s: %v", table, id, err)
	}
	return v
}

// Every writer of a record's row moves its version: edits, bulk actions,
// imports, stage moves, and the rows a delete or an erasure unlinks.
func TestVersions_EveryWriteMovesTheVersion(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	co := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com"), CompanyID: &co.ID})
	other := mustContact(t, db, ContactInput{FirstName: ptr("Bo")})
	d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Renewal"), ContactID: &other.ID, CompanyID: &co.ID})
	if err != nil {
		t.Fatal(err)
	}
	task, err := CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Call")})
	if err != nil {
		t.Fatal(err)
	}
	n, err := CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Met"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		table, id string
		v         int64
	}{{"companies", co.ID, co.Version}, {"contacts", c.ID, c.Version}, {"deals", d.ID, d.Version}, {"tasks", task.ID, task.Version}, {"notes", n.ID, n.Version}} {
		if r.v != 1 || versionOf(t, db, r.table, r.id) != 1 {
			t.Fatalf("a new row of %s is at version %d, want 1", r.table, r.v)
		}
	}

	steps := []struct {
		name      string
		do        func() error
		table, id string
		want      int64
	}{
		{"contact edit", func() error {
			_, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Title: ptr("CEO")})
			return err
		}, "contacts", c.ID, 2},
		{"contact edit changing nothing", func() error {
			_, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Title: ptr("CEO")})
			return err
		}, "contacts", c.ID, 2},
		{"bulk tag", func() error {
			_, err := BulkContacts(ctx, db, tester, []string{c.ID}, BulkAction{Kind: "tag", Value: "vip"})
			return err
		}, "contacts", c.ID, 3},
		{"import updating the contact", func() error {
			_, err := ImportContactsCSV(ctx, db, tester, strings.NewReader("email,title\nana@example.com,CTO\n"), ImportOptions{Update: true})
			return err
		}, "contacts", c.ID, 4},
		{"company edit", func() error {
			_, err := UpdateCompany(ctx, db, tester, co.ID, CompanyInput{Industry: ptr("Retail")})
			return err
		}, "companies", co.ID, 2},
		{"deal edit", func() error { _, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{Value: ptr("10.00")}); return err }, "deals", d.ID, 2},
		{"deal status", func() error { _, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{Status: ptr("won")}); return err }, "deals", d.ID, 3},
		{"deals moved off a deleted stage", func() error {
			ps, err := Pipelines(ctx, db)
			if err != nil {
				return err
			}
			stages := ps[0].Stages
			return DeleteStage(ctx, db, tester, stages[0].ID, stages[1].ID)
		}, "deals", d.ID, 4},
		{"the deal's contact deleted", func() error { return DeleteContact(ctx, db, tester, other.ID) }, "deals", d.ID, 5},
		{"task toggled", func() error { _, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{Done: ptr(true)}); return err }, "tasks", task.ID, 2},
		{"note edited", func() error { _, err := UpdateNote(ctx, db, tester, n.ID, "Met twice", Expect{}); return err }, "notes", n.ID, 2},
		{"note saved unchanged", func() error { _, err := UpdateNote(ctx, db, tester, n.ID, "Met twice", Expect{}); return err }, "notes", n.ID, 2},
		{"the contact's company deleted", func() error { return DeleteCompany(ctx, db, tester, co.ID) }, "contacts", c.ID, 5},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := versionOf(t, db, s.table, s.id); got != s.want {
			t.Errorf("after %s: version %d, want %d", s.name, got, s.want)
		}
	}

	t.Run("Erasure", func(t *testing.T) {
		erased := mustContact(t, db, ContactInput{FirstName: ptr("Gone")})
		d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Theirs"), ContactID: &erased.ID})
		if err != nil {
			t.Fatal(err)
		}
		if err := EraseContact(ctx, db, tester, erased.ID); err != nil {
			t.Fatal(err)
		}
		if got := versionOf(t, db, "deals", d.ID); got != 2 {
			t.Errorf("a deal the erasure unlinked is at version %d, want 2", got)
		}
	})
}

// A write that expects a version the record is no longer at changes
// nothing and says so, naming the current version; one at the current
// version goes through and moves it.
func TestVersions_StaleWriteIsRefused(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	co := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	d, _ := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Renewal")})
	task, _ := CreateTask(ctx, db, tester, TaskInput{ContactID: &c.ID, Title: ptr("Call")})
	n, _ := CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Met"})
	v1 := ptr(int64(1))
	for _, e := range []struct {
		name, table, id string
		// write changes something (a) or nothing (b), expecting version v
		write func(v *int64, text string) error
	}{
		{"contact", "contacts", c.ID, func(v *int64, text string) error {
			_, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Expect: Expect{v}, Title: &text})
			return err
		}},
		{"company", "companies", co.ID, func(v *int64, text string) error {
			_, err := UpdateCompany(ctx, db, tester, co.ID, CompanyInput{Expect: Expect{v}, Industry: &text})
			return err
		}},
		{"deal", "deals", d.ID, func(v *int64, text string) error {
			_, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{Expect: Expect{v}, LostReason: &text, Status: ptr("lost")})
			return err
		}},
		{"task", "tasks", task.ID, func(v *int64, text string) error {
			_, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{Expect: Expect{v}, Title: ptr("Call " + text)})
			return err
		}},
		{"note", "notes", n.ID, func(v *int64, text string) error {
			_, err := UpdateNote(ctx, db, tester, n.ID, "Met "+text, Expect{v})
			return err
		}},
	} {
		t.Run(e.name, func(t *testing.T) {
			if err := e.write(v1, "a"); err != nil {
				t.Fatalf("write at the current version: %v", err)
			}
			if got := versionOf(t, db, e.table, e.id); got != 2 {
				t.Fatalf("version %d, want 2", got)
			}
			for _, text := range []string{"b", "a"} { // a change, and none
				err := e.write(v1, text)
				if cur, ok := CurrentVersion(err); ErrorCode(err) != EConflict || !ok || cur != 2 {
					t.Fatalf("stale write (%s): err = %v, current %d %v; want a conflict at version 2", text, err, cur, ok)
				}
			}
			if got := versionOf(t, db, e.table, e.id); got != 2 {
				t.Fatalf("a stale write moved the version to %d", got)
			}
			if err := e.write(nil, "c"); err != nil {
				t.Fatalf("write expecting no version: %v", err)
			}
			if got := versionOf(t, db, e.table, e.id); got != 3 {
				t.Fatalf("version %d, want 3", got)
			}
		})
	}
	var title string
	db.R.Get(&title, `SELECT title FROM contacts WHERE id = ?`, c.ID)
	if title != "c" {
		t.Errorf("contact title = %q: a stale write changed it", title)
	}
}

// The version check and the write are one: of writers that all read the
// same version and write at once, exactly one succeeds.
func TestVersions_CheckAndWriteAreAtomic(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	const writers = 4
	for round := int64(1); round <= 10; round++ {
		var wg sync.WaitGroup
		errs := make([]error, writers)
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				title := fmt.Sprintf("Title %d.%d", round, i) // each a change
				_, errs[i] = UpdateContact(ctx, db, tester, c.ID, ContactInput{Expect: Expect{&round}, Title: &title})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case ErrorCode(err) != EConflict:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers at version %d succeeded, want exactly 1", round, won, round)
		}
		if got := versionOf(t, db, "contacts", c.ID); got != round+1 {
			t.Fatalf("round %d: version %d, want %d", round, got, round+1)
		}
	}
}
