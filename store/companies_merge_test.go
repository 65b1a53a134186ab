package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCompanies_Merge(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		src := mustCompany(t, db, CompanyInput{Name: ptr("Acme Inc"), Domain: ptr("acme.example"), Industry: ptr("Rockets"), Tags: ptr([]string{"old", "shared"})})
		dst := mustCompany(t, db, CompanyInput{Name: ptr("ACME"), Industry: ptr("Aerospace"), Tags: ptr([]string{"shared"})})
		ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), CompanyID: &src.ID})
		d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Order"), CompanyID: &src.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := CreateNote(ctx, db, tester, NoteInput{CompanyID: src.ID, Body: "Met them"}); err != nil {
			t.Fatal(err)
		}
		if _, err := CreateTask(ctx, db, tester, TaskInput{CompanyID: &src.ID, Title: ptr("Call")}); err != nil {
			t.Fatal(err)
		}
		p, err := PreviewCompanyMerge(ctx, db, src.ID, dst.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.People != 1 || p.Deals != 1 || p.Notes != 1 || p.Tasks != 1 || p.Tags != 2 || strings.Join(p.Filled, ",") != "domain" {
			t.Fatalf("preview = %+v", p)
		}
		before := time.Now().UTC().Add(-time.Millisecond)
		if _, err := MergeCompanies(ctx, db, tester, src.ID, dst.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := GetCompany(ctx, db, src.ID); ErrorCode(err) != ENotFound {
			t.Fatalf("the source is still there: %v", err)
		}
		got, _ := GetCompany(ctx, db, dst.ID)
		if got.Domain != "acme.example" || got.Industry != "Aerospace" || strings.Join(got.Tags, ",") != "old,shared" {
			t.Fatalf("target = %+v", got)
		}
		// Moved rows are changed rows: a newer version and updated_at.
		if c, _ := GetContact(ctx, db, ana.ID); c.CompanyID != dst.ID || c.Version != ana.Version+1 || !c.UpdatedAt.After(before) {
			t.Errorf("Ana after the merge: company %q, version %d, updated %v", c.CompanyID, c.Version, c.UpdatedAt)
		}
		if d, _ := GetDeal(ctx, db, d.ID); d.CompanyID != dst.ID || !d.UpdatedAt.After(before) {
			t.Errorf("the deal after the merge: company %q, updated %v", d.CompanyID, d.UpdatedAt)
		}
		var notes, tasks int
		db.R.Get(&notes, `SELECT count(*) FROM notes WHERE company_id = ?`, dst.ID)
		db.R.Get(&tasks, `SELECT count(*) FROM tasks WHERE company_id = ?`, dst.ID)
		if notes != 1 || tasks != 1 {
			t.Errorf("notes %d tasks %d on the target", notes, tasks)
		}
		for _, id := range []string{src.ID, dst.ID} {
			events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: id})
			if len(events) == 0 || events[0].Action != "company.merge" {
				t.Errorf("no merge audit on %s: %+v", id, events)
			}
		}
	})
	t.Run("ErrItself", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		c := mustCompany(t, db, CompanyInput{Name: ptr("A")})
		if _, err := MergeCompanies(ctx, db, tester, c.ID, c.ID); ErrorCode(err) != EInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrUnknownTarget", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		c := mustCompany(t, db, CompanyInput{Name: ptr("A")})
		mustContact(t, db, ContactInput{FirstName: ptr("Bo"), CompanyID: &c.ID})
		if _, err := MergeCompanies(ctx, db, tester, c.ID, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"); ErrorCode(err) != ENotFound {
			t.Fatalf("err = %v", err)
		}
		if _, err := GetCompany(ctx, db, c.ID); err != nil {
			t.Fatalf("the source went: %v", err)
		}
	})
}
