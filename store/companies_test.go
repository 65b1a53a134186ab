package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func mustCompany(tb testing.TB, db *DB, in CompanyInput) *Company {
	tb.Helper()
	c, err := CreateCompany(context.Background(), db, tester, in)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestCompanies_Create(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		c := mustCompany(t, db, CompanyInput{Name: ptr(" Acme "), Domain: ptr("https://www.ACME.example/about"),
			Industry: ptr("Rockets"), Size: ptr("11-50"), Tags: ptr([]string{"b", "A", "a"})})
		if c.Name != "Acme" || c.Domain != "acme.example" || c.Size != "11-50" || strings.Join(c.Tags, ",") != "A,b" {
			t.Fatalf("got %+v", c)
		}
		got, err := GetCompany(ctx, db, c.ID)
		if err != nil || got.Industry != "Rockets" || len(got.Tags) != 2 {
			t.Fatalf("get: %+v %v", got, err)
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: c.ID})
		if len(events) != 1 || events[0].Action != "company.create" || events[0].ChangesMap()["domain"].After != "acme.example" {
			t.Fatalf("audit = %+v", events)
		}
		var activities int
		db.R.GetContext(ctx, &activities, `SELECT count(*) FROM activities WHERE company_id = ? AND kind = 'created'`, c.ID)
		if activities != 1 {
			t.Fatalf("timeline entries = %d", activities)
		}
	})
	for name, in := range map[string]CompanyInput{
		"name":        {Domain: ptr("acme.example")},
		"name ":       {Name: ptr(strings.Repeat("x", 201))},
		"domain":      {Name: ptr("A"), Domain: ptr("not a domain")},
		"domain ":     {Name: ptr("A"), Domain: ptr("localhost")},
		"size":        {Name: ptr("A"), Size: ptr("huge")},
		"tags":        {Name: ptr("A"), Tags: ptr([]string{strings.Repeat("t", 51)})},
		"custom.nope": {Name: ptr("A"), Custom: map[string]any{"nope": "x"}},
	} {
		t.Run("Err_"+strings.TrimSpace(name), func(t *testing.T) {
			db := MustOpenWorkspace(t)
			_, err := CreateCompany(ctx, db, tester, in)
			if ErrorCode(err) != EValidation || ErrorField(err) != strings.TrimSpace(name) {
				t.Fatalf("err = %v (field %q)", err, ErrorField(err))
			}
		})
	}
}

func TestCompanies_UpdateAndCustomFields(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "company", Label: "ARR", Type: "number"}); err != nil {
		t.Fatal(err)
	}
	c := mustCompany(t, db, CompanyInput{Name: ptr("Acme"), Domain: ptr("acme.example"), Custom: map[string]any{"arr": 1000.0}})
	u, err := UpdateCompany(ctx, db, tester, c.ID, CompanyInput{Industry: ptr("Retail"), Custom: map[string]any{"arr": "2000"}})
	if err != nil || u.Industry != "Retail" || u.Domain != "acme.example" || u.Custom["arr"] != 2000.0 {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := UpdateCompany(ctx, db, tester, c.ID, CompanyInput{Name: ptr(" ")}); ErrorField(err) != "name" {
		t.Fatalf("blank name: %v", err)
	}
	if _, err := UpdateCompany(ctx, db, tester, c.ID, CompanyInput{Custom: map[string]any{"arr": "lots"}}); ErrorField(err) != "custom.arr" {
		t.Fatalf("bad custom: %v", err)
	}
	if _, err := UpdateCompany(ctx, db, tester, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", CompanyInput{Name: ptr("x")}); ErrorCode(err) != ENotFound {
		t.Fatalf("unknown: %v", err)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: c.ID, Action: "company.update"})
	if len(events) != 1 || events[0].ChangesMap()["industry"].After != "Retail" {
		t.Fatalf("audit = %+v", events)
	}
	// An update that changes nothing writes nothing.
	if _, err := UpdateCompany(ctx, db, tester, c.ID, CompanyInput{Industry: ptr("Retail")}); err != nil {
		t.Fatal(err)
	}
	if events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: c.ID, Action: "company.update"}); len(events) != 1 {
		t.Fatalf("no-op update audited: %d events", len(events))
	}
}

func TestCompanies_DeleteKeepsContacts(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), CompanyID: &c.ID})
	if _, err := CreateNote(ctx, db, tester, NoteInput{CompanyID: c.ID, Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := DeleteCompany(ctx, db, tester, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := GetCompany(ctx, db, c.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("after delete: %v", err)
	}
	got, err := GetContact(ctx, db, ana.ID)
	if err != nil || got.CompanyID != "" || got.Company != "" {
		t.Fatalf("contact after company delete: %+v %v", got, err)
	}
	var detail string
	db.R.GetContext(ctx, &detail, `SELECT detail FROM activities WHERE contact_id = ? AND kind = 'changed'`, ana.ID)
	if !strings.Contains(detail, "Acme") {
		t.Fatalf("contact timeline does not say the company went: %q", detail)
	}
	if rs, _ := Search(ctx, db, "acme", 10); len(rs) != 0 {
		t.Fatalf("deleted company still found: %+v", rs)
	}
	if err := DeleteCompany(ctx, db, tester, c.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestCompanies_List(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for i := 0; i < 23; i++ {
		mustCompany(t, db, CompanyInput{Name: ptr(fmt.Sprintf("Co %02d", 22-i)), Tags: ptr([]string{fmt.Sprintf("t%d", i%3)})})
	}
	for _, sort := range []string{"created", "name"} {
		for _, asc := range []bool{false, true} {
			var names []string
			cursor, pages := "", 0
			for {
				list, next, err := ListCompanies(ctx, db, CompanyFilter{Sort: sort, Asc: asc, Limit: 5, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range list {
					names = append(names, c.Name)
				}
				pages++
				if cursor = next; next == "" {
					break
				}
			}
			if len(names) != 23 || pages != 5 {
				t.Fatalf("sort %s asc %v: %d companies in %d pages", sort, asc, len(names), pages)
			}
			first := map[bool]string{false: "Co 22", true: "Co 00"}[asc == (sort == "name")]
			if names[0] != first {
				t.Fatalf("sort %s asc %v starts with %s, want %s", sort, asc, names[0], first)
			}
		}
	}
	if list, _, _ := ListCompanies(ctx, db, CompanyFilter{Tag: "t0", Query: "co", Limit: 50}); len(list) != 8 || list[0].Tags[0] != "t0" {
		t.Fatalf("tag filter: %d", len(list))
	}
	// Every word is a prefix: "1" matches Co 10 … Co 19, not Co 01.
	if n, _ := CountCompanies(ctx, db, CompanyFilter{Query: "co 1"}); n != 10 {
		t.Fatalf("count = %d", n)
	}
	if _, _, err := ListCompanies(ctx, db, CompanyFilter{Sort: "size"}); ErrorCode(err) != EInvalid {
		t.Fatalf("bad sort: %v", err)
	}
	if _, _, err := ListCompanies(ctx, db, CompanyFilter{Cursor: "garbage"}); ErrorCode(err) != EInvalid {
		t.Fatalf("bad cursor: %v", err)
	}
	for _, hostile := range []string{`"a OR`, `NEAR(`, `*`, `"`, strings.Repeat("x", 10000)} {
		if _, _, err := ListCompanies(ctx, db, CompanyFilter{Query: hostile}); err != nil {
			t.Errorf("list %.20q: %v", hostile, err)
		}
	}
}
