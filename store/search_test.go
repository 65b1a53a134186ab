package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

func titles(rs []SearchResult) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Kind+":"+r.Title)
	}
	return strings.Join(s, ",")
}

// insertContacts adds n contacts named first last in one statement per
// row of one transaction (the search triggers index them).
func insertContacts(tb testing.TB, db *DB, n int, first, last, emailDomain string) {
	tb.Helper()
	err := db.InTx(context.Background(), func(tx *sqlx.Tx) error {
		for i := range n {
			if _, err := tx.Exec(`INSERT INTO contacts (id, first_name, last_name, email, created_at, updated_at)
				VALUES (?, ?, ?, ?, datetime('now'), datetime('now'))`, newID(), first, last,
				fmt.Sprintf("%s.%d@%s", strings.ToLower(first), i, emailDomain)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestSearch_Ranking: names that are the query come first, companies
// before the people who work there, whatever the number of other matches
// (issue 18: "Cyberdyne" listed the company 10th, "Müller" never showed
// "Müller & Söhne GmbH").
func TestSearch_Ranking(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	cyberdyne, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Cyberdyne"), Domain: ptr("cyberdyne.example")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Müller & Söhne GmbH")}); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Cyberdyne Systems Europe")}); err != nil {
		t.Fatal(err)
	}
	insertContacts(t, db, 60, "Miles", "Dyson", "cyberdyne.example")
	insertContacts(t, db, 60, "Hans", "Müller", "example.com")
	if _, err := CreateNote(ctx, db, tester, NoteInput{CompanyID: cyberdyne.ID, Body: "Cyberdyne wants a demo"}); err != nil {
		t.Fatal(err)
	}
	mustContact(t, db, ContactInput{FirstName: ptr("Ana"), LastName: ptr("Silva")})
	insertContacts(t, db, 30, "Anabel", "Silvano", "example.org")

	for _, tc := range []struct{ q, first, second string }{
		{"Cyberdyne", "company:Cyberdyne", "company:Cyberdyne Systems Europe"},
		{"cyber", "company:Cyberdyne", "company:Cyberdyne Systems Europe"},
		{"Müller", "company:Müller & Söhne GmbH", "contact:Hans Müller"},
		{"muller", "company:Müller & Söhne GmbH", "contact:Hans Müller"},
		{"Mu\u0308ller", "company:Müller & Söhne GmbH", "contact:Hans Müller"}, // decomposed, as some keyboards send it
		{"müller söhne", "company:Müller & Söhne GmbH", ""},
		{"ana silva", "contact:Ana Silva", "contact:Anabel Silvano"},
	} {
		rs, err := Search(ctx, db, tc.q, 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 || rs[0].Kind+":"+rs[0].Title != tc.first {
			t.Errorf("search %q: first %.80q, want %s", tc.q, titles(rs), tc.first)
			continue
		}
		if tc.second != "" && (len(rs) < 2 || rs[1].Kind+":"+rs[1].Title != tc.second) {
			t.Errorf("search %q: second of %.120q, want %s", tc.q, titles(rs), tc.second)
		}
	}
	// Other matches (emails at the domain, the note) follow the names.
	rs, _ := Search(ctx, db, "cyberdyne", 100)
	if n := len(rs); n != 2+60+1 || rs[n-1].Kind != "contact" && rs[n-1].Kind != "note" {
		t.Errorf("cyberdyne: %d results, last %+v", n, rs[len(rs)-1])
	}
	if rs, _ := Search(ctx, db, "cyberdyne", 5); len(rs) != 5 || rs[0].Title != "Cyberdyne" {
		t.Errorf("a limit cuts after ranking: %q", titles(rs))
	}
}

// TestSearch_CustomFields: custom field values are words of the index,
// for contacts and companies, kept in step by the triggers.
func TestSearch_CustomFields(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, in := range []NewCustomField{{Entity: "contact", Key: "city", Label: "City", Type: "text"},
		{Entity: "company", Key: "segment", Label: "Segment", Type: "text"}} {
		if _, err := CreateCustomField(ctx, db, tester, in); err != nil {
			t.Fatal(err)
		}
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ines"), Custom: map[string]any{"city": "Wolfsburg"}})
	if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Initech"), Custom: map[string]any{"segment": "Aerospace"}}); err != nil {
		t.Fatal(err)
	}
	if got := titles(mustSearch(t, db, "wolfsb")); got != "contact:Ines" {
		t.Errorf("custom contact field: %q", got)
	}
	if got := titles(mustSearch(t, db, "aerospace")); got != "company:Initech" {
		t.Errorf("custom company field: %q", got)
	}
	if list, _, _ := ListContacts(ctx, db, ContactFilter{Query: "wolfsburg"}); len(list) != 1 {
		t.Errorf("the contact list does not find a custom field value: %d", len(list))
	}
	if _, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Custom: map[string]any{"city": "Bremen"}}); err != nil {
		t.Fatal(err)
	}
	if got := titles(mustSearch(t, db, "wolfsburg")); got != "" {
		t.Errorf("the old value is still found: %q", got)
	}
	if got := titles(mustSearch(t, db, "bremen")); got != "contact:Ines" {
		t.Errorf("the new value is not found: %q", got)
	}
}

func mustSearch(tb testing.TB, db *DB, q string) []SearchResult {
	tb.Helper()
	rs, err := Search(context.Background(), db, q, 20)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// TestSearchGroups: each kind with its best results and its count, capped
// at SearchCountCap; SearchKind pages through one kind.
func TestSearchGroups(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	insertContacts(t, db, SearchCountCap+1, "Mariko", "Okafor", "example.com")
	insertContacts(t, db, 3, "Okafor", "Ltd", "example.net")
	if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Okafor Logistics")}); err != nil {
		t.Fatal(err)
	}
	groups, err := SearchGroups(ctx, db, "okafor", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Kind != "company" || groups[0].Count != 1 || groups[0].Capped ||
		groups[1].Kind != "contact" || groups[1].Count != SearchCountCap || !groups[1].Capped || len(groups[1].Results) != 5 {
		t.Fatalf("groups = %+v", groups)
	}
	if groups, _ := SearchGroups(ctx, db, "ltd", 5); len(groups) != 1 || groups[0].Count != 3 || groups[0].Capped {
		t.Fatalf("groups for ltd = %+v", groups)
	}
	if groups, _ := SearchGroups(ctx, db, `"(`, 5); len(groups) != 0 {
		t.Fatalf("groups without a word = %+v", groups)
	}

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, next, err := SearchKind(ctx, db, "okafor", "contact", cursor, 200)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i, r := range page {
			if seen[r.ID] || r.Kind != "contact" || i > 0 && r.Seq >= page[i-1].Seq {
				t.Fatalf("page %d: %+v repeated or out of order", pages, r)
			}
			seen[r.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != SearchCountCap+4 || pages != 6 {
		t.Fatalf("show all: %d contacts in %d pages", len(seen), pages)
	}
	if _, _, err := SearchKind(ctx, db, "okafor", "planet", "", 10); ErrorCode(err) != EInvalid {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, _, err := SearchKind(ctx, db, "okafor", "contact", "garbage", 10); ErrorCode(err) != EInvalid {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestListContacts_Query: a list with a query, driven by the index,
// pages through exactly the matching contacts in both directions and
// counts them, alone and with other filters.
func TestListContacts_Query(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	insertContacts(t, db, 25, "Mariko", "Okafor", "example.com")
	insertContacts(t, db, 10, "Other", "Person", "example.com")
	insertContacts(t, db, 7, "Mariko", "Okaforson", "example.org")
	if _, err := db.W.Exec(`UPDATE contacts SET stage = 'customer' WHERE seq % 3 = 0`); err != nil {
		t.Fatal(err)
	}
	var wantCustomers int
	if err := db.R.Get(&wantCustomers, `SELECT count(*) FROM contacts WHERE last_name LIKE 'okafor%' AND stage = 'customer'`); err != nil {
		t.Fatal(err)
	}
	for _, asc := range []bool{false, true} {
		var all []Contact
		cursor := ""
		for {
			page, next, err := ListContacts(ctx, db, ContactFilter{Query: "okafor", Asc: asc, Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(all) != 32 {
			t.Fatalf("asc=%v: %d contacts, want 32", asc, len(all))
		}
		for i := 1; i < len(all); i++ {
			if asc != (all[i].Seq > all[i-1].Seq) {
				t.Fatalf("asc=%v: out of order at %d", asc, i)
			}
		}
	}
	for _, tc := range []struct {
		f    ContactFilter
		want int
	}{
		{ContactFilter{Query: "okafor"}, 32},
		{ContactFilter{Query: "okaforson"}, 7},
		{ContactFilter{Query: "mariko okafor"}, 32},
		{ContactFilter{Query: "okafor", Stage: "customer"}, wantCustomers},
		{ContactFilter{Query: `"(`}, 0},
	} {
		if n, err := CountContacts(ctx, db, tc.f); err != nil || n != tc.want {
			t.Errorf("count %+v = %d %v, want %d", tc.f, n, err, tc.want)
		}
		list, _, err := ListContacts(ctx, db, ContactFilter{Query: tc.f.Query, Stage: tc.f.Stage, Limit: 100})
		if err != nil || len(list) != tc.want {
			t.Errorf("list %+v = %d %v, want %d", tc.f, len(list), err, tc.want)
		}
	}
	for _, sort := range []string{"name", "updated"} {
		if got := walkContacts(t, db, ContactFilter{Query: "okafor", Sort: sort, Asc: true, Limit: 4}); got != 32 {
			t.Errorf("sort %s: %d contacts, want 32", sort, got)
		}
	}
	// A cursor of the list without a query goes on with one: both are seqs.
	_, next, _ := ListContacts(ctx, db, ContactFilter{Limit: 5})
	if page, _, err := ListContacts(ctx, db, ContactFilter{Query: "mariko", Cursor: next, Limit: 100}); err != nil || len(page) == 0 {
		t.Fatalf("cursor across filters: %d %v", len(page), err)
	}
}

// TestMigration0017_RebuildsSearch: a workspace made before 0017 keeps its
// search index through it, and its custom field values become searchable.
func TestMigration0017_RebuildsSearch(t *testing.T) {
	ctx := context.Background()
	db, before := openWorkspaceBefore(t, "_search")
	if _, err := db.W.Exec(`INSERT INTO contacts (id, first_name, last_name, custom, created_at, updated_at)
		VALUES (?, 'Zsofia', 'Quimby', '{"city":"Debrecen"}', datetime('now'), datetime('now'))`, newID()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`INSERT INTO companies (id, name, custom, created_at, updated_at)
		VALUES (?, 'Initrode', '{"segment":"Aerospace"}', datetime('now'), datetime('now'))`, newID()); err != nil {
		t.Fatal(err)
	}
	if from, to, err := Migrate(ctx, db, WorkspaceSchema); err != nil || from != before || to != LatestVersion(WorkspaceSchema) {
		t.Fatalf("migrate %d→%d: %v", from, to, err)
	}
	for q, want := range map[string]string{"zsofia": "contact:Zsofia Quimby", "debrecen": "contact:Zsofia Quimby",
		"initrode": "company:Initrode", "aerospace": "company:Initrode"} {
		if got := titles(mustSearch(t, db, q)); got != want {
			t.Errorf("after migration, %q = %q, want %q", q, got, want)
		}
	}
	if _, err := db.W.Exec(`INSERT INTO contacts_fts (contacts_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("contacts index does not match its table: %v", err)
	}
	if _, err := db.W.Exec(`INSERT INTO companies_fts (companies_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("companies index does not match its table: %v", err)
	}
}

// walkContacts pages through a list and returns how many contacts it
// holds, failing on a repeated one or a name out of order.
func walkContacts(tb testing.TB, db *DB, f ContactFilter) int {
	tb.Helper()
	seen := map[string]bool{}
	var last string
	for {
		page, next, err := ListContacts(context.Background(), db, f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range page {
			key := strings.ToLower(c.LastName + "\x00" + c.FirstName)
			if seen[c.ID] || f.Sort == "name" && key < last {
				tb.Fatalf("%+v: %s repeated or out of order", f, c.ID)
			}
			seen[c.ID], last = true, key
		}
		if next == "" {
			return len(seen)
		}
		f.Cursor = next
	}
}

// TestListContacts_QueryManyByName: more matches than are sorted in
// memory are found walking the name index.
func TestListContacts_QueryManyByName(t *testing.T) {
	db := MustOpenWorkspace(t)
	insertContacts(t, db, fewMatches+1, "Mariko", "Okafor", "example.com")
	insertContacts(t, db, 50, "Mariko", "Abe", "example.org")
	insertContacts(t, db, 50, "Other", "Person", "example.com")
	if got := walkContacts(t, db, ContactFilter{Query: "mariko", Sort: "name", Asc: true, Limit: 200}); got != fewMatches+51 {
		t.Fatalf("%d contacts, want %d", got, fewMatches+51)
	}
}
