package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// MustOpenWorkspace opens a fresh, migrated workspace file.
func MustOpenWorkspace(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "ws.db"), OpenOptions{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, _, err := Migrate(context.Background(), db, WorkspaceSchema); err != nil {
		tb.Fatal(err)
	}
	return db
}

var tester = Actor{Kind: "user", ID: "u1", IP: "127.0.0.1"}

func ptr[T any](v T) *T { return &v }

func mustContact(tb testing.TB, db *DB, in ContactInput) *Contact {
	tb.Helper()
	c, err := CreateContact(context.Background(), db, tester, in)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestContacts_Create(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		c := mustContact(t, db, ContactInput{FirstName: ptr(" Ana "), LastName: ptr("Silva"), Email: ptr("Ana@Example.com"),
			Company: ptr("Acme"), Tags: ptr([]string{"vip", "VIP", "lead source"})})
		if c.FirstName != "Ana" || c.Company != "Acme" || c.CompanyID == "" || c.Stage != "lead" {
			t.Fatalf("got %+v", c)
		}
		if strings.Join(c.Tags, ",") != "lead source,vip" {
			t.Fatalf("tags = %v", c.Tags)
		}
		other := mustContact(t, db, ContactInput{FirstName: ptr("Bo"), Company: ptr("ACME")})
		if other.CompanyID != c.CompanyID {
			t.Fatal("the same company in another letter case made a second company")
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: c.ID})
		if len(events) != 1 || events[0].Action != "contact.create" || events[0].Actor != "user:u1" || events[0].ChangesMap()["email"].After != "Ana@Example.com" {
			t.Fatalf("audit = %+v", events)
		}
	})
	t.Run("ErrEmailInvalid", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		_, err := CreateContact(ctx, db, tester, ContactInput{Email: ptr("not an email")})
		if ErrorCode(err) != EValidation || ErrorField(err) != "email" {
			t.Fatalf("err = %v (%s)", err, ErrorField(err))
		}
	})
	t.Run("ErrEmailTakenAnyCase", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		mustContact(t, db, ContactInput{FirstName: ptr("Ana"), LastName: ptr("Silva"), Email: ptr("ana@example.com")})
		_, err := CreateContact(ctx, db, tester, ContactInput{Email: ptr("ANA@EXAMPLE.COM")})
		if ErrorCode(err) != EConflict || !strings.Contains(err.Error(), "Ana Silva") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrEmpty", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		if _, err := CreateContact(ctx, db, tester, ContactInput{Phone: ptr("123")}); ErrorCode(err) != EValidation {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrStage", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		if _, err := CreateContact(ctx, db, tester, ContactInput{FirstName: ptr("A"), Stage: ptr("boss")}); ErrorField(err) != "stage" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrCompanyIDForeign", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		_, err := CreateContact(ctx, db, tester, ContactInput{FirstName: ptr("A"), CompanyID: ptr("0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e")})
		if ErrorField(err) != "company_id" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestContacts_CustomFields(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, f := range []NewCustomField{
		{Entity: "contact", Label: "Budget", Type: "number"},
		{Entity: "contact", Label: "Renewal date", Type: "date"},
		{Entity: "contact", Label: "Tier", Type: "select", Options: []string{"Gold", "Silver"}},
		{Entity: "contact", Label: "Source", Type: "text"},
	} {
		if _, err := CreateCustomField(ctx, db, tester, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Tier", Type: "text"}); ErrorCode(err) != EValidation {
		t.Fatalf("duplicate key: %v", err)
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("A"), Custom: map[string]any{"budget": "1200.5", "renewal_date": "2027-01-31", "tier": "Gold", "source": "event"}})
	if c.Custom["budget"] != 1200.5 || c.Custom["tier"] != "Gold" {
		t.Fatalf("custom = %v", c.Custom)
	}
	for _, bad := range []map[string]any{
		{"budget": "lots"}, {"renewal_date": "31/01/2027"}, {"tier": "Bronze"}, {"nope": "x"}, {"source": 12.0},
	} {
		if _, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Custom: bad}); ErrorCode(err) != EValidation || !strings.HasPrefix(ErrorField(err), "custom.") {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
	c2, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Custom: map[string]any{"tier": nil, "budget": 99.0}})
	if err != nil || c2.Custom["tier"] != nil || c2.Custom["budget"] != 99.0 || c2.Custom["source"] != "event" {
		t.Fatalf("patch custom: %v %v", c2.Custom, err)
	}
	list, _, err := ListContacts(ctx, db, ContactFilter{Custom: map[string]string{"source": "event"}})
	if err != nil || len(list) != 1 {
		t.Fatalf("filter by custom: %d %v", len(list), err)
	}
}

func TestContacts_UpdateAndTimeline(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com")})
	u, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Stage: ptr("customer"), Title: ptr("CTO")})
	if err != nil || u.Stage != "customer" || u.Title != "CTO" || u.Email != "ana@example.com" {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := UpdateContact(ctx, db, tester, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", ContactInput{Title: ptr("x")}); ErrorCode(err) != ENotFound {
		t.Fatalf("update unknown: %v", err)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: c.ID, Action: "contact.update"})
	if len(events) != 1 || events[0].ChangesMap()["stage"].Before != "lead" || events[0].ChangesMap()["stage"].After != "customer" {
		t.Fatalf("audit = %+v", events)
	}
	if err := DeleteContact(ctx, db, tester, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := GetContact(ctx, db, c.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("after delete: %v", err)
	}
}

func TestContacts_ListPaginationAndFilters(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for i := 0; i < 23; i++ {
		stage := "lead"
		if i%2 == 0 {
			stage = "customer"
		}
		mustContact(t, db, ContactInput{FirstName: ptr(fmt.Sprintf("P%02d", i)), LastName: ptr(fmt.Sprintf("L%02d", 22-i)), Stage: ptr(stage), Tags: ptr([]string{fmt.Sprintf("t%d", i%3)})})
	}
	for _, sort := range []string{"created", "updated", "name"} {
		for _, asc := range []bool{false, true} {
			seen := map[string]bool{}
			cursor, pages := "", 0
			var order []string
			for {
				list, next, err := ListContacts(ctx, db, ContactFilter{Sort: sort, Asc: asc, Limit: 5, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range list {
					if seen[c.ID] {
						t.Fatalf("%s: %s twice", sort, c.ID)
					}
					seen[c.ID] = true
					order = append(order, c.LastName)
				}
				pages++
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != 23 || pages != 5 {
				t.Fatalf("sort %s asc %v: %d contacts in %d pages", sort, asc, len(seen), pages)
			}
			if sort == "name" && asc && (order[0] != "L00" || order[22] != "L22") {
				t.Fatalf("name order %v", order)
			}
		}
	}
	list, _, _ := ListContacts(ctx, db, ContactFilter{Stage: "customer", Tag: "t0", Limit: 50})
	for _, c := range list {
		if c.Stage != "customer" || c.Tags[0] != "t0" {
			t.Fatalf("filter leaked %+v", c)
		}
	}
	if n, _ := CountContacts(ctx, db, ContactFilter{Stage: "customer", Tag: "t0"}); n != len(list) || n != 4 {
		t.Fatalf("count %d, list %d", n, len(list))
	}
	if _, _, err := ListContacts(ctx, db, ContactFilter{Cursor: "garbage"}); ErrorCode(err) != EInvalid {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), LastName: ptr("Núñez"), Email: ptr("ana@globex.com"), Company: ptr("Globex Corporation")})
	mustContact(t, db, ContactInput{FirstName: ptr("Johanna"), LastName: ptr("Berg")})
	if _, err := CreateNote(ctx, db, tester, NoteInput{ContactID: ana.ID, Body: "Discussed the renewal budget"}); err != nil {
		t.Fatal(err)
	}
	kinds := func(q string) string {
		rs, err := Search(ctx, db, q, 20)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var ks []string
		for _, r := range rs {
			ks = append(ks, r.Kind+":"+r.Title)
		}
		return strings.Join(ks, ",")
	}
	for q, want := range map[string]string{
		"ana":      "contact:Ana Núñez",
		"nunez":    "contact:Ana Núñez",
		"glob":     "contact:Ana Núñez,company:Globex Corporation",
		"renew":    "note:Ana Núñez",
		"jo":       "contact:Johanna Berg",
		"Núñ":      "contact:Ana Núñez",
		"日本":       "",
		"":         "",
		"ana berg": "",
	} {
		got := kinds(q)
		if q == "glob" { // ranking between kinds may vary; compare as sets
			if !strings.Contains(got, "company:Globex Corporation") || !strings.Contains(got, "contact:Ana") {
				t.Errorf("search %q = %q", q, got)
			}
			continue
		}
		if got != want {
			t.Errorf("search %q = %q, want %q", q, got, want)
		}
	}
	for _, hostile := range []string{`"a OR`, `NEAR(`, `*`, `"`, `ana" OR "x`, `a AND`, `-ana`, `ana:`, `^ana`, `(`, strings.Repeat("x", 10000), strings.Repeat("ana ", 2500)} {
		if _, err := Search(ctx, db, hostile, 20); err != nil {
			t.Errorf("search %.20q: %v", hostile, err)
		}
		if _, _, err := ListContacts(ctx, db, ContactFilter{Query: hostile}); err != nil {
			t.Errorf("list %.20q: %v", hostile, err)
		}
	}
	if got := kinds(`"ana`); got != "contact:Ana Núñez" {
		t.Errorf("a lone quote is not searched as a word: %q", got)
	}
	if err := DeleteContact(ctx, db, tester, ana.ID); err != nil {
		t.Fatal(err)
	}
	if got := kinds("ana"); got != "" {
		t.Errorf("deleted contact still found: %q", got)
	}
	if got := kinds("renew"); got != "" {
		t.Errorf("deleted contact's note still found: %q", got)
	}
}

func TestContacts_Bulk(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	a := mustContact(t, db, ContactInput{FirstName: ptr("A"), Tags: ptr([]string{"old"})})
	b := mustContact(t, db, ContactInput{FirstName: ptr("B")})
	c := mustContact(t, db, ContactInput{FirstName: ptr("C")})
	if n, err := BulkContacts(ctx, db, tester, []string{a.ID, b.ID}, BulkAction{Kind: "tag", Value: "vip"}); err != nil || n != 2 {
		t.Fatalf("tag: %d %v", n, err)
	}
	if n, _ := BulkContacts(ctx, db, tester, []string{a.ID, b.ID}, BulkAction{Kind: "tag", Value: "VIP"}); n != 0 {
		t.Fatalf("tagging again changed %d", n)
	}
	if _, err := BulkContacts(ctx, db, tester, []string{a.ID, c.ID}, BulkAction{Kind: "stage", Value: "nope"}); ErrorCode(err) != EValidation {
		t.Fatalf("bad stage: %v", err)
	}
	if _, err := BulkContacts(ctx, db, tester, []string{c.ID, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"}, BulkAction{Kind: "delete"}); ErrorCode(err) != ENotFound {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := GetContact(ctx, db, c.ID); err != nil {
		t.Fatal("a refused bulk delete removed a contact")
	}
	if n, err := BulkContacts(ctx, db, tester, []string{a.ID}, BulkAction{Kind: "untag", Value: "old"}); err != nil || n != 1 {
		t.Fatalf("untag: %d %v", n, err)
	}
	got, _ := GetContact(ctx, db, a.ID)
	if strings.Join(got.Tags, ",") != "vip" {
		t.Fatalf("tags %v", got.Tags)
	}
	if n, err := BulkContacts(ctx, db, tester, []string{a.ID, b.ID}, BulkAction{Kind: "delete"}); err != nil || n != 2 {
		t.Fatalf("delete: %d %v", n, err)
	}
	if n, _ := CountContacts(ctx, db, ContactFilter{}); n != 1 {
		t.Fatalf("%d contacts left", n)
	}
}

func TestTimeline(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	UpdateContact(ctx, db, tester, c.ID, ContactInput{Stage: ptr("customer")})
	CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Met at the fair"})
	items, err := Timeline(ctx, db, "contact", c.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	if strings.Join(kinds, ",") != "note,changed,created" {
		t.Fatalf("timeline kinds %v", kinds)
	}
	if items[1].Changes()["stage"].After != "customer" {
		t.Fatalf("change detail %v", items[1].Changes())
	}
}

func TestDecodeCursor_WrongShape(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := decodeCursor(cursor{"2024-01-01", 7.0, nil}.encode(), 3)
		if err != nil || len(c) != 3 {
			t.Fatalf("got %v, %v, want a cursor of 3", c, err)
		}
	})
	for _, raw := range []string{`[[1]]`, `[{"a":1}]`, `[true]`, `{"a":1}`, `[1,2]`} {
		t.Run("Err"+raw, func(t *testing.T) {
			_, err := decodeCursor(base64.RawURLEncoding.EncodeToString([]byte(raw)), 1)
			if got, want := ErrorCode(err), EInvalid; got != want {
				t.Fatalf("got %q (%v), want %q", got, err, want)
			}
		})
	}
}

// The newer custom field types take what they should and refuse the rest
// with a message naming the field.
func TestCustomFields_MoreTypes(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, f := range []NewCustomField{
		{Entity: "contact", Label: "Channels", Type: "multiselect", Options: []string{"Email", "Phone", "Post"}},
		{Entity: "contact", Label: "Newsletter", Type: "checkbox"},
		{Entity: "contact", Label: "Assistant email", Type: "email"},
		{Entity: "contact", Label: "Mobile", Type: "phone"},
	} {
		if _, err := CreateCustomField(ctx, db, tester, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Empty", Type: "multiselect"}); ErrorField(err) != "options" {
		t.Fatalf("a multi-select without options: %v", err)
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("A"), Custom: map[string]any{
		"channels": "post; Email", "newsletter": "yes", "assistant_email": " Bo@Example.com ", "mobile": "+44 (20) 7946-0958 ext. 12"}})
	if got := CustomText(c.Custom["channels"]); got != "Email, Post" {
		t.Errorf("channels = %q, want Email, Post (options' order)", got)
	}
	if c.Custom["newsletter"] != true || c.Custom["assistant_email"] != "Bo@Example.com" {
		t.Errorf("custom = %v", c.Custom)
	}
	for _, bad := range []map[string]any{
		{"channels": "Fax"}, {"channels": 3.0}, {"newsletter": "maybe"}, {"assistant_email": "not an address"}, {"mobile": "call me"},
	} {
		if _, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Custom: bad}); ErrorCode(err) != EValidation || !strings.HasPrefix(ErrorField(err), "custom.") {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
	// A JSON list, and nothing picked clears the field.
	c, err := UpdateContact(ctx, db, tester, c.ID, ContactInput{Custom: map[string]any{"channels": []any{"Phone"}, "newsletter": false}})
	if err != nil || CustomText(c.Custom["channels"]) != "Phone" || c.Custom["newsletter"] != false {
		t.Fatalf("update: %v %v", c.Custom, err)
	}
	if c, err = UpdateContact(ctx, db, tester, c.ID, ContactInput{Custom: map[string]any{"channels": []string{}}}); err != nil || c.Custom["channels"] != nil {
		t.Fatalf("cleared: %v %v", c.Custom, err)
	}
}

// A field is renamed, its options changed and moved; its key and type stay,
// and a field of another workspace is not found.
func TestCustomFields_EditAndMove(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	var ids []string
	for _, label := range []string{"First", "Second", "Third"} {
		f, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: label, Type: "select", Options: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	f, err := UpdateCustomField(ctx, db, tester, ids[0], CustomFieldChange{Label: "Tier", Options: []string{"Gold", " Silver ", "Gold"}})
	if err != nil || f.Label != "Tier" || f.Key != "first" || strings.Join(f.OptionList(), ",") != "Gold,Silver" {
		t.Fatalf("update: %+v %v", f, err)
	}
	if _, err := UpdateCustomField(ctx, db, tester, ids[0], CustomFieldChange{Label: " "}); ErrorField(err) != "label" {
		t.Errorf("empty label: %v", err)
	}
	if _, err := UpdateCustomField(ctx, db, tester, ids[0], CustomFieldChange{Label: "Tier", Options: []string{""}}); ErrorField(err) != "options" {
		t.Errorf("no options: %v", err)
	}
	other := MustOpenWorkspace(t)
	if _, err := UpdateCustomField(ctx, other, tester, ids[0], CustomFieldChange{Label: "X"}); ErrorCode(err) != ENotFound {
		t.Errorf("another workspace's field: %v", err)
	}
	if err := MoveCustomField(ctx, other, tester, ids[0], false); ErrorCode(err) != ENotFound {
		t.Errorf("moving another workspace's field: %v", err)
	}
	order := func() string {
		fs, _ := CustomFields(ctx, db, "contact")
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.Key)
		}
		return strings.Join(keys, ",")
	}
	for _, step := range []struct {
		id   string
		up   bool
		want string
	}{{ids[2], true, "first,third,second"}, {ids[2], true, "third,first,second"}, {ids[2], true, "third,first,second"}, {ids[0], false, "third,second,first"}} {
		if err := MoveCustomField(ctx, db, tester, step.id, step.up); err != nil {
			t.Fatal(err)
		}
		if got := order(); got != step.want {
			t.Fatalf("order %s, want %s", got, step.want)
		}
	}
}

// openWorkspaceBefore makes a workspace file at the schema version just
// before the migration whose file name contains name, for a test of that
// migration, and returns it with that version; it is closed when the test
// ends.
func openWorkspaceBefore(tb testing.TB, name string) (*DB, int) {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "ws.db"), OpenOptions{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ms, err := migrations(WorkspaceSchema)
	if err != nil {
		tb.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return strings.Contains(m.name, name) })
	if i < 0 {
		tb.Fatalf("no migration named like %q", name)
	}
	for _, m := range ms[:i] {
		if _, err := db.W.Exec(m.sql); err != nil {
			tb.Fatalf("%s: %v", m.name, err)
		}
	}
	if _, err := db.W.Exec(fmt.Sprintf("PRAGMA user_version = %d", ms[i].version-1)); err != nil {
		tb.Fatal(err)
	}
	return db, ms[i].version - 1
}
