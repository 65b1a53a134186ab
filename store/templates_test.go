package store

import (
	"context"
	"strings"
	"testing"
)

func mustTemplate(tb testing.TB, db *DB, name, subject, body string) *Template {
	tb.Helper()
	t, err := CreateTemplate(context.Background(), db, tester, TemplateInput{Name: &name, Subject: &subject, Body: &body})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestTemplates_Create(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		tp := mustTemplate(t, db, " Intro ", " Hi {{first_name | \"there\"}} ", "<p>Hello {{company}}</p>")
		if tp.Name != "Intro" || tp.Subject != `Hi {{first_name | "there"}}` || tp.Version != 1 || !ValidID(tp.ID) {
			t.Fatalf("got %+v", tp)
		}
		got, err := GetTemplate(ctx, db, tp.ID)
		if err != nil || got.Body != tp.Body {
			t.Fatalf("get: %+v, %v", got, err)
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: tp.ID})
		if len(events) != 1 || events[0].Action != "template.create" || events[0].EntityType != "template" ||
			events[0].ChangesMap()["body"].After != "24 characters" || events[0].ChangesMap()["name"].After != "Intro" {
			t.Fatalf("audit = %+v", events)
		}
	})
	t.Run("ErrFieldWithPosition", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		for _, tc := range []struct{ subject, body, field, says string }{
			{"Hi", "Dear {{first_name}},\n\nAt {{compnay}}", "body", `Line 3, column 6: "compnay" is not a field`},
			{"Hi {{custom.tier}}", "x", "subject", `Column 6: There is no custom field "tier": this workspace has no custom fields`},
			{"Hi", "{{first_name", "body", "Line 1, column 1: This {{ is not closed"},
			{"", "x", "subject", "The subject is empty."},
			{"Hi", " \n ", "body", "The body is empty."},
		} {
			_, err := CreateTemplate(ctx, db, tester, TemplateInput{Name: ptr("T"), Subject: &tc.subject, Body: &tc.body})
			if ErrorCode(err) != EValidation || ErrorField(err) != tc.field || !strings.Contains(ErrorMessage(err), tc.says) {
				t.Errorf("%q / %q: got %v (field %q), want %s error containing %q", tc.subject, tc.body, err, ErrorField(err), tc.field, tc.says)
			}
		}
		if _, err := CreateTemplate(ctx, db, tester, TemplateInput{Subject: ptr("Hi"), Body: ptr("x")}); ErrorField(err) != "name" {
			t.Errorf("no name: %v", err)
		}
		if n, _ := CountTemplates(ctx, db); n != 0 {
			t.Fatalf("%d templates saved", n)
		}
	})
	t.Run("CustomFields", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Tier", Type: "text"}); err != nil {
			t.Fatal(err)
		}
		if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "company", Label: "Size band", Type: "text"}); err != nil {
			t.Fatal(err)
		}
		mustTemplate(t, db, "T", "Hi", "{{custom.tier}}")
		_, err := CreateTemplate(ctx, db, tester, TemplateInput{Name: ptr("U"), Subject: ptr("Hi"), Body: ptr("{{custom.size_band}}")})
		if !strings.Contains(ErrorMessage(err), "The contact custom fields are: custom.tier") {
			t.Fatalf("a company field was accepted: %v", err)
		}
	})
	t.Run("ErrDuplicateName", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		mustTemplate(t, db, "Intro", "Hi", "x")
		_, err := CreateTemplate(ctx, db, tester, TemplateInput{Name: ptr("INTRO"), Subject: ptr("Hi"), Body: ptr("x")})
		if ErrorCode(err) != EConflict || ErrorField(err) != "name" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestTemplates_Update(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	tp := mustTemplate(t, db, "Intro", "Hi", "Hello")
	t.Run("OK", func(t *testing.T) {
		got, err := UpdateTemplate(ctx, db, tester, tp.ID, TemplateInput{Body: ptr("Hello {{first_name}}"), Version: ptr(1)})
		if err != nil || got.Body != "Hello {{first_name}}" || got.Subject != "Hi" || got.Version != 2 {
			t.Fatalf("got %+v, %v", got, err)
		}
		events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: tp.ID, Action: "template.update"})
		if len(events) != 1 || events[0].ChangesMap()["body"].Before != "5 characters" {
			t.Fatalf("audit = %+v", events)
		}
	})
	t.Run("NoChangeKeepsVersion", func(t *testing.T) {
		got, err := UpdateTemplate(ctx, db, tester, tp.ID, TemplateInput{Name: ptr("Intro")})
		if err != nil || got.Version != 2 {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("ErrStaleVersion", func(t *testing.T) {
		_, err := UpdateTemplate(ctx, db, tester, tp.ID, TemplateInput{Subject: ptr("Lost"), Version: ptr(1)})
		if ErrorCode(err) != EConflict || !strings.Contains(ErrorMessage(err), "version 2") {
			t.Fatalf("got %v", err)
		}
		if got, _ := GetTemplate(ctx, db, tp.ID); got.Subject != "Hi" {
			t.Fatalf("a stale edit was saved: %+v", got)
		}
	})
	t.Run("ErrBadBody", func(t *testing.T) {
		_, err := UpdateTemplate(ctx, db, tester, tp.ID, TemplateInput{Body: ptr("{{ nope }}")})
		if ErrorField(err) != "body" || !strings.HasPrefix(ErrorMessage(err), "Line 1, column 4:") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := UpdateTemplate(ctx, db, tester, newID(), TemplateInput{Name: ptr("X")})
		if ErrorCode(err) != ENotFound {
			t.Fatalf("got %v", err)
		}
	})
}

func TestTemplates_ListAndDelete(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, n := range []string{"charlie", "Alpha", "bravo"} {
		mustTemplate(t, db, n, "Hi", "x")
	}
	page, next, err := ListTemplates(ctx, db, TemplateFilter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].Name != "Alpha" || page[1].Name != "bravo" || next == "" {
		t.Fatalf("first page %v, %q, %v", page, next, err)
	}
	page, next, err = ListTemplates(ctx, db, TemplateFilter{Limit: 2, Cursor: next})
	if err != nil || len(page) != 1 || page[0].Name != "charlie" || next != "" {
		t.Fatalf("second page %v, %q, %v", page, next, err)
	}
	if err := DeleteTemplate(ctx, db, tester, page[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := DeleteTemplate(ctx, db, tester, page[0].ID); ErrorCode(err) != ENotFound {
		t.Fatalf("second delete: %v", err)
	}
	if n, _ := CountTemplates(ctx, db); n != 2 {
		t.Fatalf("%d left", n)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: page[0].ID, Action: "template.delete"})
	if len(events) != 1 || events[0].ChangesMap()["name"].Before != "charlie" {
		t.Fatalf("audit = %+v", events)
	}
}

func TestTemplates_Render(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	f, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Seats", Type: "number"})
	if err != nil {
		t.Fatal(err)
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Company: ptr("Acme & Co"), Custom: map[string]any{"seats": "12.50"}})
	tp := mustTemplate(t, db, "Intro", `Hi {{first_name}} at {{company}}`, `<p>{{company}} has {{custom.seats}} seats, {{title | "boss"}}</p>`)
	m, err := RenderTemplate(ctx, db, tp.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Hi Ana at Acme & Co" || m.HTML != "<p>Acme &amp; Co has 12.5 seats, boss</p>" || m.Text != "Acme & Co has 12.5 seats, boss" {
		t.Fatalf("got %+v", m)
	}
	// A custom field deleted after the template was saved renders empty.
	if err := DeleteCustomField(ctx, db, tester, f.ID); err != nil {
		t.Fatal(err)
	}
	if m, err = RenderTemplate(ctx, db, tp.ID, c.ID); err != nil || m.Text != "Acme & Co has seats, boss" {
		t.Fatalf("after deleting the field: %+v, %v", m, err)
	}
	// Ids of another workspace's file are not found here.
	other := MustOpenWorkspace(t)
	oc := mustContact(t, other, ContactInput{FirstName: ptr("Bo")})
	if _, err := RenderTemplate(ctx, db, tp.ID, oc.ID); ErrorCode(err) != ENotFound || !strings.Contains(ErrorMessage(err), "contact") {
		t.Fatalf("another workspace's contact: %v", err)
	}
	if _, err := RenderTemplate(ctx, other, tp.ID, oc.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("another workspace's template: %v", err)
	}
}
