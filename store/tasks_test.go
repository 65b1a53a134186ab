package store

import (
	"context"
	"fmt"
	"testing"
)

func TestTasks_Create(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	acme := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	t.Run("OK", func(t *testing.T) {
		task, err := CreateTask(ctx, db, tester, TaskInput{ContactID: &ana.ID, Title: ptr(" Call back "), DueDate: ptr("2027-03-01"), AssigneeID: ptr("u2")})
		if err != nil || task.Title != "Call back" || task.ContactID != ana.ID || task.CompanyID != "" || task.Done || task.DoneAt != nil || task.CreatedBy != "user:u1" {
			t.Fatalf("got %+v %v", task, err)
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: task.ID})
		if len(events) != 1 || events[0].Action != "task.create" || events[0].ChangesMap()["due_date"].After != "2027-03-01" {
			t.Fatalf("audit = %+v", events)
		}
	})
	unknown := "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"
	for _, tc := range []struct {
		name, field string
		in          TaskInput
	}{
		{"ErrNoParent", "contact_id", TaskInput{Title: ptr("x")}},
		{"ErrTwoParents", "contact_id", TaskInput{Title: ptr("x"), ContactID: &ana.ID, CompanyID: &acme.ID}},
		{"ErrUnknownParent", "company_id", TaskInput{Title: ptr("x"), CompanyID: &unknown}},
		{"ErrNoTitle", "title", TaskInput{CompanyID: &acme.ID}},
		{"ErrDueDate", "due_date", TaskInput{Title: ptr("x"), CompanyID: &acme.ID, DueDate: ptr("01/03/2027")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CreateTask(ctx, db, tester, tc.in)
			if ErrorCode(err) != EValidation || ErrorField(err) != tc.field {
				t.Fatalf("err = %v (field %q)", err, ErrorField(err))
			}
		})
	}
}

func TestTasks_UpdateDoneAndDelete(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	acme := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	task, err := CreateTask(ctx, db, tester, TaskInput{ContactID: &ana.ID, Title: ptr("Call")})
	if err != nil {
		t.Fatal(err)
	}
	done, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{Done: ptr(true)})
	if err != nil || !done.Done || done.DoneAt == nil || done.Title != "Call" || done.ContactID != ana.ID {
		t.Fatalf("done: %+v %v", done, err)
	}
	again, _ := UpdateTask(ctx, db, tester, task.ID, TaskInput{Done: ptr(true)})
	if !again.DoneAt.Equal(*done.DoneAt) {
		t.Fatal("marking a done task done again moved DoneAt")
	}
	reopened, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{Done: ptr(false)})
	if err != nil || reopened.Done || reopened.DoneAt != nil {
		t.Fatalf("reopen: %+v %v", reopened, err)
	}
	moved, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{CompanyID: &acme.ID})
	if err != nil || moved.CompanyID != acme.ID || moved.ContactID != "" {
		t.Fatalf("move: %+v %v", moved, err)
	}
	if _, err := UpdateTask(ctx, db, tester, task.ID, TaskInput{Title: ptr("")}); ErrorField(err) != "title" {
		t.Fatalf("blank title: %v", err)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: task.ID, Action: "task.update"})
	if len(events) != 3 || events[2].ChangesMap()["done"].After != true {
		t.Fatalf("audit = %+v", events)
	}
	if err := DeleteTask(ctx, db, tester, task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := GetTask(ctx, db, task.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("after delete: %v", err)
	}
	if err := DeleteTask(ctx, db, tester, task.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestTasks_List(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	acme := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	for i := 0; i < 12; i++ {
		in := TaskInput{Title: ptr(fmt.Sprintf("T%02d", i)), Done: ptr(i%3 == 0), AssigneeID: ptr(fmt.Sprintf("u%d", i%2))}
		if i%2 == 0 {
			in.ContactID = &ana.ID
		} else {
			in.CompanyID = &acme.ID
		}
		if _, err := CreateTask(ctx, db, tester, in); err != nil {
			t.Fatal(err)
		}
	}
	var titles []string
	for cursor := ""; ; {
		list, next, err := ListTasks(ctx, db, TaskFilter{Limit: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range list {
			titles = append(titles, task.Title)
		}
		if cursor = next; next == "" {
			break
		}
	}
	if len(titles) != 12 || titles[0] != "T11" || titles[11] != "T00" {
		t.Fatalf("pages: %v", titles)
	}
	for _, tc := range []struct {
		f    TaskFilter
		want int
	}{
		{TaskFilter{ContactID: ana.ID}, 6},
		{TaskFilter{CompanyID: acme.ID, Done: ptr(false)}, 4},
		{TaskFilter{Done: ptr(true)}, 4},
		{TaskFilter{AssigneeID: "u0", Done: ptr(true)}, 2},
	} {
		if list, _, err := ListTasks(ctx, db, tc.f); err != nil || len(list) != tc.want {
			t.Errorf("%+v: %d tasks, want %d (%v)", tc.f, len(list), tc.want, err)
		}
	}
	if err := DeleteContact(ctx, db, tester, ana.ID); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := ListTasks(ctx, db, TaskFilter{}); len(list) != 6 {
		t.Fatalf("a deleted contact's tasks remain: %d tasks", len(list))
	}
}
