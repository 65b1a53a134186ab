package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCompanies_PeoplePages(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	co := mustCompany(t, db, CompanyInput{Name: ptr("Acme")})
	other := mustCompany(t, db, CompanyInput{Name: ptr("Other")})
	mustContact(t, db, ContactInput{FirstName: ptr("Elsewhere"), CompanyID: &other.ID})
	for i := 0; i < 120; i++ {
		mustContact(t, db, ContactInput{FirstName: ptr(fmt.Sprintf("P%03d", i)), CompanyID: &co.ID})
	}
	page := func(after, before int64) *CompanyPeople {
		t.Helper()
		p, err := ListCompanyPeople(ctx, db, co.ID, after, before)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(p *CompanyPeople, from, to int, first string, prev, next bool) {
		t.Helper()
		if p.From != from || p.To != to || p.Total != 120 || len(p.People) != to-from+1 {
			t.Fatalf("got %d–%d of %d (%d people), want %d–%d of 120", p.From, p.To, p.Total, len(p.People), from, to)
		}
		if p.People[0].FirstName != first {
			t.Errorf("first is %s, want %s", p.People[0].FirstName, first)
		}
		if (p.Prev != 0) != prev || (p.Next != 0) != next {
			t.Errorf("prev %d next %d, want %v %v", p.Prev, p.Next, prev, next)
		}
	}
	p1 := page(0, 0)
	check(p1, 1, 50, "P000", false, true)
	p2 := page(p1.Next, 0)
	check(p2, 51, 100, "P050", true, true)
	p3 := page(p2.Next, 0)
	check(p3, 101, 120, "P100", true, false)
	check(page(0, p3.Prev), 51, 100, "P050", true, true)
	check(page(0, p2.Prev), 1, 50, "P000", false, true)

	t.Run("ErrBoth", func(t *testing.T) {
		if _, err := ListCompanyPeople(ctx, db, co.ID, 1, 2); ErrorCode(err) != EInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Nobody", func(t *testing.T) {
		p, err := ListCompanyPeople(ctx, db, mustCompany(t, db, CompanyInput{Name: ptr("Empty")}).ID, 0, 0)
		if err != nil || p.Total != 0 || len(p.People) != 0 || p.Next != 0 {
			t.Fatalf("got %+v %v", p, err)
		}
	})
}

// BenchmarkCompanies_PeoplePage reads the last page of people of a company
// of 20,000 among 100k contacts.
func BenchmarkCompanies_PeoplePage(b *testing.B) {
	db := MustOpenWorkspace(b)
	ids := seedCompanies(b, db, 2000, 100_000, 20_000)
	first, err := ListCompanyPeople(context.Background(), db, ids[0], 0, 0)
	if err != nil || first.Total < 20_000 {
		b.Fatalf("%+v %v", first, err)
	}
	var lastSeq int64
	db.R.Get(&lastSeq, `SELECT max(seq) + 1 FROM contacts WHERE company_id = ?`, ids[0])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ListCompanyPeople(context.Background(), db, ids[0], 0, lastSeq); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCompanies_NameKey(t *testing.T) {
	for in, want := range map[string]string{
		"cyberdyne": "cyberdyne", "Cyberdyne": "cyberdyne", "  Cyber   Dyne ": "cyber dyne",
		"Acme Inc": "acme", "ACME, Inc.": "acme", "Acme Co. Ltd": "acme", "Inc": "inc",
		"Müller & Söhne GmbH": "müller & söhne", "Smith & Co": "smith", "AT&T": "at&t", "...": "",
	} {
		if got := CompanyNameKey(in); got != want {
			t.Errorf("CompanyNameKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompanies_Similar(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	cyb := mustCompany(t, db, CompanyInput{Name: ptr("Cyberdyne")})
	acme := mustCompany(t, db, CompanyInput{Name: ptr("ACME, Inc.")})
	mustCompany(t, db, CompanyInput{Name: ptr("Acme Rockets")})
	for name, want := range map[string]string{"cyberdyne": cyb.ID, "CYBERDYNE  ": cyb.ID, "Acme Inc": acme.ID, "acme": acme.ID,
		"Acme LLC": acme.ID, "Acme Rocket": "", "Cyber": "", "Initech": "", "": ""} {
		got, err := SimilarCompany(ctx, db, name)
		if err != nil {
			t.Fatal(err)
		}
		if gotID := ""; got != nil {
			gotID = got.ID
			if gotID != want {
				t.Errorf("%q: got %s, want %q", name, got.Name, want)
			}
		} else if want != "" {
			t.Errorf("%q: got nothing, want %s", name, want)
		}
	}
	t.Run("CreateChecksOnlyWhenAsked", func(t *testing.T) {
		_, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("cyberdyne"), CheckDuplicate: true})
		var dup *DuplicateCompanyError
		if !errors.As(err, &dup) || dup.Company.ID != cyb.ID {
			t.Fatalf("err = %v", err)
		}
		if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("cyberdyne"), CheckDuplicate: true, ConfirmDuplicate: acme.ID}); !errors.As(err, &dup) {
			t.Fatalf("confirmed for another company: err = %v", err)
		}
		if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr(""), CheckDuplicate: true}); ErrorCode(err) != EValidation {
			t.Fatalf("an empty name: err = %v", err)
		}
		mustCompany(t, db, CompanyInput{Name: ptr("cyberdyne"), CheckDuplicate: true, ConfirmDuplicate: cyb.ID})
		mustCompany(t, db, CompanyInput{Name: ptr("Cyberdyne")})
	})
	t.Run("FoldsNonASCII", func(t *testing.T) {
		muller := mustCompany(t, db, CompanyInput{Name: ptr("Müller & Söhne GmbH")})
		strasse := mustCompany(t, db, CompanyInput{Name: ptr("Straße AG")})
		for name, want := range map[string]string{"müller & söhne gmbh": muller.ID, "MÜLLER & SÖHNE": muller.ID,
			"STRASSE": strasse.ID, "straße ag": strasse.ID, "Muller & Sohne": ""} {
			got, err := SimilarCompany(ctx, db, name)
			if err != nil {
				t.Fatal(err)
			}
			if gotID := ""; got != nil {
				gotID = got.ID
				if gotID != want {
					t.Errorf("%q: got %s, want %q", name, got.Name, want)
				}
			} else if want != "" {
				t.Errorf("%q: got nothing, want %s", name, want)
			}
		}
		// A rename moves the key.
		if _, err := UpdateCompany(ctx, db, tester, muller.ID, CompanyInput{Name: ptr("Öztürk Ltd")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := SimilarCompany(ctx, db, "ÖZTÜRK"); got == nil || got.ID != muller.ID {
			t.Errorf("after a rename: got %v", got)
		}
		if got, _ := SimilarCompany(ctx, db, "Müller & Söhne"); got != nil {
			t.Errorf("the old name still matches %s", got.Name)
		}
	})
	plan := queryPlan(t, db, similarCompanySQL, "a")
	if !strings.Contains(plan, "companies_name_key") || strings.Contains(plan, "SCAN") {
		t.Errorf("the duplicate is not looked up in companies_name_key:\n%s", plan)
	}
}
