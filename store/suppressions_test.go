package store

import (
	"context"
	"strings"
	"testing"
)

func TestSuppressions_Add(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		s, added, err := AddSuppression(ctx, db, tester, SuppressionInput{Email: " Ana@Example.com ", Detail: "asked by phone"})
		if err != nil || !added {
			t.Fatalf("added = %v, err = %v", added, err)
		}
		if s.Email != "ana@example.com" || s.Reason != SuppressManual || s.CreatedBy != "user:u1" || s.Erased {
			t.Fatalf("got %+v", s)
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: s.ID})
		if len(events) != 1 || events[0].Action != "suppression.add" || events[0].ChangesMap()["email"].After != "ana@example.com" {
			t.Fatalf("audit = %+v", events)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		first, _, _ := AddSuppression(ctx, db, tester, SuppressionInput{Email: "ana@example.com", Reason: SuppressUnsubscribed})
		again, added, err := AddSuppression(ctx, db, tester, SuppressionInput{Email: "ANA@example.com", Reason: SuppressBounced})
		if err != nil || added {
			t.Fatalf("added = %v, err = %v", added, err)
		}
		if again.ID != first.ID || again.Reason != SuppressUnsubscribed || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("the first suppression changed: %+v, then %+v", first, again)
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityType: "suppression"})
		if len(events) != 1 {
			t.Fatalf("%d audit events, want 1", len(events))
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		for _, in := range []SuppressionInput{{Email: "not an address"}, {Email: "Ana <ana@example.com>"}, {Email: "a@b.c", Reason: "annoyed"}} {
			if _, _, err := AddSuppression(ctx, db, tester, in); ErrorCode(err) != EValidation {
				t.Errorf("%+v: err = %v, want validation", in, err)
			}
		}
	})
}

func TestSuppressions_LookupListRemove(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, e := range []string{"ana@example.com", "bo@example.com", "cy@other.example"} {
		if _, _, err := AddSuppression(ctx, db, tester, SuppressionInput{Email: e}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := IsSuppressed(ctx, db, "Bo@Example.com"); err != nil || !ok {
		t.Fatalf("IsSuppressed(bo) = %v, %v", ok, err)
	}
	if ok, _ := IsSuppressed(ctx, db, "dan@example.com"); ok {
		t.Fatal("dan is suppressed")
	}
	got, err := SuppressedAmong(ctx, db.R, []string{"ANA@example.com", "dan@example.com", "", "cy@other.example"})
	if err != nil || len(got) != 2 || got["ana@example.com"] != SuppressManual || got["cy@other.example"] == "" {
		t.Fatalf("SuppressedAmong = %v, %v", got, err)
	}

	page, next, err := ListSuppressions(ctx, db, SuppressionFilter{Limit: 2})
	if err != nil || len(page) != 2 || next == "" || page[0].Email != "cy@other.example" {
		t.Fatalf("first page = %+v, %q, %v", page, next, err)
	}
	rest, next, err := ListSuppressions(ctx, db, SuppressionFilter{Limit: 2, Cursor: next})
	if err != nil || len(rest) != 1 || next != "" || rest[0].Email != "ana@example.com" {
		t.Fatalf("second page = %+v, %q, %v", rest, next, err)
	}
	found, _, _ := ListSuppressions(ctx, db, SuppressionFilter{Query: "EXAMPLE.com"})
	if len(found) != 2 {
		t.Fatalf("search found %+v", found)
	}

	if err := RemoveSuppression(ctx, db, tester, "BO@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveSuppression(ctx, db, tester, page[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := RemoveSuppression(ctx, db, tester, page[0].ID); ErrorCode(err) != ENotFound {
		t.Fatalf("removing twice: %v", err)
	}
	if ok, _ := IsSuppressed(ctx, db, "bo@example.com"); ok {
		t.Fatal("bo is still suppressed")
	}
}

// TestSuppressions_Unsubscribe: an unsubscribe suppresses once, records
// one event about the contact, and changes nothing the second time.
func TestSuppressions_Unsubscribe(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com")})
	sys := Actor{Kind: "system", ID: "unsubscribe"}
	for i, want := range []bool{true, false} {
		added, err := Unsubscribe(ctx, db, sys, c.ID, "ana@example.com")
		if err != nil || added != want {
			t.Fatalf("use %d: added = %v, err = %v", i+1, added, err)
		}
	}
	s, err := GetSuppression(ctx, db, "ana@example.com")
	if err != nil || s.Reason != SuppressUnsubscribed || s.CreatedBy != "system:unsubscribe" {
		t.Fatalf("got %+v, %v", s, err)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{Action: "suppression.add"})
	if len(events) != 1 || events[0].ContactID != c.ID {
		t.Fatalf("audit = %+v", events)
	}
}

// TestSuppressions_Erasure: erasing the person keeps them suppressed, by
// hash, with their address gone from the list and its audit events.
func TestSuppressions_Erasure(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("Ana@Example.com")})
	s, _, err := AddSuppression(ctx, db, tester, SuppressionInput{Email: "ana@example.com", Reason: SuppressBounced, Detail: "550 no such user ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := AddSuppression(ctx, db, tester, SuppressionInput{Email: "bo@example.com"})
	if err := EraseContact(ctx, db, tester, c.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := IsSuppressed(ctx, db, "ana@example.com"); !ok {
		t.Fatal("the erased person is no longer suppressed")
	}
	after, err := GetSuppression(ctx, db, s.ID)
	if err != nil || after.Email != "" || after.Detail != "" || !after.Erased || after.Reason != SuppressBounced {
		t.Fatalf("after the erasure: %+v, %v", after, err)
	}
	var n int
	db.R.GetContext(ctx, &n, `SELECT count(*) FROM suppressions WHERE email LIKE '%ana%' OR detail LIKE '%ana%'`)
	if n != 0 {
		t.Fatal("the address is still in the suppressions table")
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: s.ID})
	if len(events) != 1 || len(events[0].ChangesMap()) != 0 {
		t.Fatalf("the suppression's audit still holds changes: %+v", events)
	}
	if kept, _ := GetSuppression(ctx, db, other.ID); kept.Email != "bo@example.com" {
		t.Fatalf("another's suppression changed: %+v", kept)
	}
}

func TestSuppressions_Instance(t *testing.T) {
	ctx := context.Background()
	c := &Catalog{mustOpenCatalogFile(t)}
	if added, err := AddInstanceSuppression(ctx, c, "user:root", SuppressionInput{Email: "Trap@Example.com", Reason: SuppressComplaint}); err != nil || !added {
		t.Fatalf("added = %v, err = %v", added, err)
	}
	if added, err := AddInstanceSuppression(ctx, c, "user:root", SuppressionInput{Email: "trap@example.com"}); err != nil || added {
		t.Fatalf("again: added = %v, err = %v", added, err)
	}
	got, err := InstanceSuppressedAmong(ctx, c.R, []string{"TRAP@example.com", "ana@example.com"})
	if err != nil || len(got) != 1 || got["trap@example.com"] != SuppressComplaint {
		t.Fatalf("InstanceSuppressedAmong = %v, %v", got, err)
	}
	list, next, err := ListInstanceSuppressions(ctx, c, SuppressionFilter{Query: "trap"})
	if err != nil || len(list) != 1 || next != "" || list[0].CreatedBy != "user:root" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := RemoveInstanceSuppression(ctx, c, "trap@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveInstanceSuppression(ctx, c, "trap@example.com"); ErrorCode(err) != ENotFound {
		t.Fatalf("removing twice: %v", err)
	}
}

// TestImportCSV_SkipsSuppressed: a row adding a suppressed address (the
// workspace's or the instance's) is skipped with a note, unless asked to
// import them; a row updating an existing contact is not concerned.
func TestImportCSV_SkipsSuppressed(t *testing.T) {
	ctx := context.Background()
	csv := "first_name,email\nAna,ANA@example.com\nBo,bo@example.com\nCy,trap@example.com\nDan,dan@example.com\n"
	setup := func(t *testing.T) *DB {
		db := MustOpenWorkspace(t)
		mustContact(t, db, ContactInput{FirstName: ptr("Dan"), Email: ptr("dan@example.com")})
		for _, e := range []string{"ana@example.com", "dan@example.com"} {
			if _, _, err := AddSuppression(ctx, db, tester, SuppressionInput{Email: e, Reason: SuppressUnsubscribed}); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	instance := map[string]string{"trap@example.com": SuppressComplaint}
	t.Run("Skip", func(t *testing.T) {
		db := setup(t)
		res := importCSV(t, db, csv, ImportOptions{Update: true, InstanceSuppressed: instance})
		if res.Read != 4 || res.Created != 1 || res.Updated != 1 || res.Skipped != 2 || res.Suppressed != 2 || res.Failed != 0 {
			t.Fatalf("got %+v", res)
		}
		if len(res.Notes) != 2 || res.Notes[0].Row != 1 || res.Notes[0].Message != "Skipped: ana@example.com is on the suppression list (unsubscribed)." ||
			res.Notes[1].Row != 3 || !strings.Contains(res.Notes[1].Message, "(complaint)") {
			t.Fatalf("notes = %+v", res.Notes)
		}
		var n int
		db.R.GetContext(ctx, &n, `SELECT count(*) FROM contacts WHERE email IN ('ANA@example.com', 'trap@example.com')`)
		if n != 0 {
			t.Fatal("a suppressed address was imported")
		}
	})
	t.Run("ImportSuppressed", func(t *testing.T) {
		db := setup(t)
		res := importCSV(t, db, csv, ImportOptions{ImportSuppressed: true, InstanceSuppressed: instance})
		if res.Created != 3 || res.Skipped != 1 || res.Suppressed != 0 || len(res.Notes) != 0 {
			t.Fatalf("got %+v", res)
		}
	})
}
