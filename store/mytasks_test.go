package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestTasks_ListMine(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), LastName: ptr("Lima")})
	acme := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	maya, olga := Actor{Kind: "user", ID: "maya"}, Actor{Kind: "user", ID: "olga"}
	today := Today()
	day := func(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }
	add := func(a Actor, title, due, assignee string, parent *string, company bool) *Task {
		in := TaskInput{Title: &title, DueDate: &due, AssigneeID: &assignee}
		if company {
			in.CompanyID = parent
		} else {
			in.ContactID = parent
		}
		task, err := CreateTask(ctx, db, a, in)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	add(maya, "later", day(3), "maya", &ana.ID, false)
	late := add(olga, "late", day(-1), "maya", &acme.ID, true)
	add(maya, "mine, for nobody", today, "", &ana.ID, false)
	add(maya, "undated", "", "maya", &ana.ID, false)
	add(maya, "for olga", today, "olga", &ana.ID, false)
	add(olga, "olga's, for nobody", today, "", &ana.ID, false)
	done := add(maya, "done", today, "maya", &ana.ID, false)
	if _, err := UpdateTask(ctx, db, maya, done.ID, TaskInput{Done: ptr(true)}); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		got, err := ListMyTasks(ctx, db, "maya", 50)
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, g := range got {
			titles = append(titles, g.Title)
		}
		if want := []string{"late", "mine, for nobody", "later", "undated"}; !slices.Equal(titles, want) {
			t.Fatalf("titles = %q, want %q", titles, want)
		}
		if got[0].RecordName != "Acme" || got[1].RecordName != "Ana Lima" || got[0].ID != late.ID {
			t.Errorf("records = %q, %q", got[0].RecordName, got[1].RecordName)
		}
		if got, _ := ListMyTasks(ctx, db, "maya", 2); len(got) != 2 {
			t.Errorf("limit 2 gave %d", len(got))
		}
		if got, _ := ListMyTasks(ctx, db, "nobody", 50); len(got) != 0 {
			t.Errorf("a stranger has %d tasks", len(got))
		}
	})
	t.Run("ErrNoUser", func(t *testing.T) {
		if _, err := ListMyTasks(ctx, db, "", 50); ErrorCode(err) != EInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Counts", func(t *testing.T) {
		n, err := CountMyTasks(ctx, db, "maya", today)
		if err != nil || n != (TaskCounts{Overdue: 1, DueToday: 1}) {
			t.Fatalf("counts = %+v, %v", n, err)
		}
		if n, _ := CountMyTasks(ctx, db, "olga", today); n != (TaskCounts{DueToday: 2}) {
			t.Errorf("olga's counts = %+v", n)
		}
		if _, err := CountMyTasks(ctx, db, "maya", "tomorrow"); ErrorCode(err) != EInvalid {
			t.Errorf("a bad day: %v", err)
		}
	})
	t.Run("GetMine", func(t *testing.T) {
		got, err := GetMyTask(ctx, db, late.ID)
		if err != nil || got.RecordName != "Acme" || got.Title != "late" {
			t.Fatalf("got %+v, %v", got, err)
		}
		if _, err := GetMyTask(ctx, db, "nope"); ErrorCode(err) != ENotFound {
			t.Errorf("unknown id: %v", err)
		}
	})
}

func TestTaskBucket(t *testing.T) {
	for due, want := range map[string]string{"": "undated", "2026-01-01": "overdue", "2026-01-02": "today", "2026-02-01": "upcoming"} {
		if got := TaskBucket(due, "2026-01-02"); got != want {
			t.Errorf("TaskBucket(%q) = %q, want %q", due, got, want)
		}
	}
	if (Task{DueDate: "2000-01-01"}).Overdue() != true || (Task{DueDate: "2000-01-01", Done: true}).Overdue() || (Task{}).Overdue() {
		t.Error("Overdue is wrong")
	}
}

func TestNames_Describe(t *testing.T) {
	n := &Names{
		Members: map[string]string{"u1": "Maya"}, Keys: map[string]string{"k1": "Zapier"},
		Fields: map[string]string{"tier": "Tier"}, Stages: map[string]string{"s1": "Proposal"}, Pipelines: map[string]string{},
	}
	lines := n.ChangeLines(map[string]Change{
		"owner_id": {Before: "", After: "u1"},
		"stage":    {Before: "lead", After: "customer"},
		"stage_id": {Before: "s1", After: "s-gone"},
		"custom":   {Before: map[string]any{"tier": "Gold", "old": 1.5}, After: map[string]any{"tier": "Silver", "old": 1.5, "gone": true}},
		"done":     {Before: false, After: true},
		"email":    {Before: "a@x.example", After: nil},
	})
	// Known fields in the order of a form, then the others by name, custom
	// values by their field's label (or key, once the field is deleted).
	want := []string{
		"Email changed from a@x.example to —",
		"Stage changed from Lead to Customer",
		"Stage changed from Proposal to a deleted stage",
		"Owner changed from — to Maya",
		"gone changed from — to yes",
		"Tier changed from Gold to Silver",
		"Marked done",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("lines:\n%q\nwant:\n%q", lines, want)
	}
	for actor, want := range map[string]string{"user:u1": "Maya", "user:u9": "a former member", "apikey:k1": "API key “Zapier”",
		"apikey:k9": "an API key", "system:import": "an import", "system": "Atrium", "": ""} {
		if got := n.Actor(actor); got != want {
			t.Errorf("Actor(%q) = %q, want %q", actor, got, want)
		}
	}
	items := []TimelineItem{
		{Kind: "imported", Detail: `{"file":{"before":null,"after":"leads.csv"}}`},
		{Kind: "imported", Detail: `{"source":{"before":null,"after":"HubSpot"}}`, At: time.Date(2021, 3, 15, 0, 0, 0, 0, time.UTC)},
		{Kind: "note", Actor: "apikey:k1"},
	}
	n.Describe(items)
	if !slices.Equal(items[0].Lines, []string{"Imported from leads.csv"}) || !slices.Equal(items[1].Lines, []string{"Created in HubSpot on 15 March 2021"}) || items[2].Author != "API key “Zapier”" {
		t.Errorf("described: %+v", items)
	}
}

func TestTimeline_NotesByKeysAndEdits(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	_, key, err := CreateAPIKey(ctx, db, tester, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "Zapier", "write")
	if err != nil {
		t.Fatal(err)
	}
	byKey, err := CreateNote(ctx, db, Actor{Kind: "apikey", ID: key.ID}, NoteInput{ContactID: ana.ID, Body: "from the API"})
	if err != nil {
		t.Fatal(err)
	}
	byUser, err := CreateNote(ctx, db, tester, NoteInput{ContactID: ana.ID, Body: "by hand"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateNote(ctx, db, tester, byUser.ID, "by hand, fixed", Expect{}); err != nil {
		t.Fatal(err)
	}
	// Revoked keys keep their names on what they wrote.
	if err := RevokeAPIKey(ctx, db, tester, key.ID); err != nil {
		t.Fatal(err)
	}
	items, err := Timeline(ctx, db, KindContact, ana.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	names, err := LoadNames(ctx, db, KindContact, nil)
	if err != nil {
		t.Fatal(err)
	}
	names.Describe(items)
	found := 0
	for _, it := range items {
		switch it.RefID {
		case byKey.ID:
			found++
			if it.Actor != "apikey:"+key.ID || it.Author != "API key “Zapier”" || it.Edited {
				t.Errorf("the key's note: %+v", it)
			}
		case byUser.ID:
			found++
			if it.Actor != "user:"+tester.ID || !it.Edited || it.Version != 2 {
				t.Errorf("the user's note: %+v", it)
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d notes on the timeline", found)
	}
	if !MayEditNote(byUser, tester, "member") || MayEditNote(byUser, Actor{Kind: "user", ID: "other"}, "member") ||
		!MayEditNote(byUser, Actor{Kind: "user", ID: "other"}, "admin") {
		t.Error("MayEditNote is wrong")
	}
}
