package store

import (
	"context"
	"strings"
	"testing"
)

func TestCompanies_Counts(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	acme := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	idle := mustCompany(t, db, CompanyInput{Name: ptr("Idle")})
	for _, n := range []string{"Ana", "Bo", "Cy"} {
		mustContact(t, db, ContactInput{FirstName: ptr(n), CompanyID: &acme.ID})
	}
	mustContact(t, db, ContactInput{FirstName: ptr("Nobody's")})
	for _, status := range []string{"open", "open", "won", "lost"} {
		if _, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("D"), CompanyID: &acme.ID, Status: ptr(status)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := CountsOfCompanies(ctx, db, []string{acme.ID, idle.ID, "not-an-id"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (CompanyCounts{People: 3, OpenDeals: 2}); got[acme.ID] != want {
		t.Errorf("Acme: got %+v, want %+v", got[acme.ID], want)
	}
	if c, ok := got[idle.ID]; !ok || c != (CompanyCounts{}) {
		t.Errorf("Idle: got %+v (%v), want zeros", c, ok)
	}
	if len(got) != 2 {
		t.Errorf("got %d entries, want 2", len(got))
	}
	if got, err := CountsOfCompanies(ctx, db, nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v %v", got, err)
	}
}

// TestCompanies_CountsUseIndexes reads the plan of the counts query: every
// table is reached through an index, none scanned.
func TestCompanies_CountsUseIndexes(t *testing.T) {
	db := MustOpenWorkspace(t)
	all := queryPlan(t, db, companyCountsSQL+`(?, ?)`, "a", "b")
	for _, want := range []string{"contacts_company", "deals_company"} {
		if !strings.Contains(all, want) {
			t.Errorf("plan does not use %s:\n%s", want, all)
		}
	}
}

// TestCompanies_PeopleUseIndex: a page of people walks contacts_company in
// order, with no sort of the company's people.
func TestCompanies_PeopleUseIndex(t *testing.T) {
	db := MustOpenWorkspace(t)
	for _, q := range []string{peopleAfterSQL, peopleBeforeSQL} {
		plan := queryPlan(t, db, q, "a", 1, 51)
		if !strings.Contains(plan, "contacts_company") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("plan of %s:\n%s", q, plan)
		}
	}
}

// queryPlan returns the EXPLAIN QUERY PLAN lines of q and fails when one
// of them scans a whole table.
func queryPlan(t *testing.T, db *DB, q string, args ...any) string {
	t.Helper()
	var plan []struct {
		ID      int    `db:"id"`
		Parent  int    `db:"parent"`
		NotUsed int    `db:"notused"`
		Detail  string `db:"detail"`
	}
	if err := db.R.Select(&plan, `EXPLAIN QUERY PLAN `+q, args...); err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, p := range plan {
		text = append(text, p.Detail)
	}
	all := strings.Join(text, "\n")
	for _, l := range text {
		if strings.HasPrefix(l, "SCAN ") {
			t.Errorf("plan scans a table: %q\n%s", l, all)
		}
	}
	return all
}

// seedCompanies adds companies companies and people contacts spread over
// them (the first company gets bigFirst of them), with one open deal per 10
// contacts, in raw SQL: fast enough for 100k rows.
func seedCompanies(tb testing.TB, db *DB, companies, people, bigFirst int) []string {
	tb.Helper()
	ctx := context.Background()
	// A first deal makes the default pipeline.
	d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("First")})
	if err != nil {
		tb.Fatal(err)
	}
	pipeline, stage := d.PipelineID, d.StageID
	ids := make([]string, companies)
	tx := db.W.MustBegin()
	defer tx.Rollback()
	for i := range ids {
		ids[i] = newID()
		tx.MustExec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, datetime('now'), datetime('now'))`, ids[i], "Company "+ids[i][:8])
	}
	for i := 0; i < people; i++ {
		co := ids[i%companies]
		if i < bigFirst {
			co = ids[0]
		}
		id := newID()
		tx.MustExec(`INSERT INTO contacts (id, first_name, last_name, company_id, created_at, updated_at) VALUES (?, 'P', ?, ?, datetime('now'), datetime('now'))`, id, id[:8], co)
		if i%10 == 0 {
			tx.MustExec(`INSERT INTO deals (id, title, pipeline_id, stage_id, company_id, created_at, updated_at) VALUES (?, 'D', ?, ?, ?, datetime('now'), datetime('now'))`, newID(), pipeline, stage, co)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// BenchmarkCompanies_Counts counts people and open deals of a page of 50
// companies among 2,000 holding 100k contacts.
func BenchmarkCompanies_Counts(b *testing.B) {
	db := MustOpenWorkspace(b)
	ids := seedCompanies(b, db, 2000, 100_000, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := CountsOfCompanies(context.Background(), db, ids[:50]); err != nil {
			b.Fatal(err)
		}
	}
}
