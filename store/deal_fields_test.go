package store

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// Deals take custom fields of kind "deal": checked as contacts' are, kept
// apart from the contacts' fields, told by label on the deal's timeline.
func TestDeals_CustomFields(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, f := range []NewCustomField{
		{Entity: "deal", Label: "Seats", Type: "number"},
		{Entity: "deal", Label: "Channel", Type: "select", Options: []string{"Direct", "Partner"}},
		{Entity: "contact", Label: "Shoe size", Type: "number"},
	} {
		if _, err := CreateCustomField(ctx, db, tester, f); err != nil {
			t.Fatal(err)
		}
	}
	defs, err := CustomFields(ctx, db, KindDeal)
	if err != nil || len(defs) != 2 || defs[0].Key != "seats" || defs[1].Key != "channel" {
		t.Fatalf("deal fields = %+v, %v", defs, err)
	}
	d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Fleet"), Custom: map[string]any{"seats": "40", "channel": "partner"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Custom["seats"] != 40.0 || d.Custom["channel"] != "Partner" {
		t.Fatalf("custom = %#v", d.Custom)
	}
	t.Run("ErrInvalid", func(t *testing.T) {
		for name, in := range map[string]map[string]any{
			"not a number":       {"seats": "many"},
			"not an option":      {"channel": "Reseller"},
			"a contact's field":  {"shoe_size": 42.0},
			"no field like that": {"colour": "red"},
		} {
			_, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{Custom: in})
			if ErrorCode(err) != EValidation {
				t.Errorf("%s: err = %v, want a validation error", name, err)
				continue
			}
			var key string
			for k := range in {
				key = k
			}
			if got := ErrorField(err); got != "custom."+key {
				t.Errorf("%s: the error names %q, want custom.%s", name, got, key)
			}
		}
	})
	// A partial update keeps the other values; null clears one.
	d, err = UpdateDeal(ctx, db, tester, d.ID, DealInput{Custom: map[string]any{"seats": nil}})
	if err != nil || d.Custom["seats"] != nil || d.Custom["channel"] != "Partner" {
		t.Fatalf("after clearing seats: %#v, %v", d.Custom, err)
	}
	d, err = UpdateDeal(ctx, db, tester, d.ID, DealInput{Custom: map[string]any{"seats": 12.5}})
	if err != nil {
		t.Fatal(err)
	}
	// Custom values are searchable, as contacts' are; a change follows.
	if list, _, err := ListDeals(ctx, db, DealFilter{Query: "partner"}); err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Errorf("deals matching a custom value: %+v, %v", list, err)
	}
	if _, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{Custom: map[string]any{"channel": "Direct"}}); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := ListDeals(ctx, db, DealFilter{Query: "partner"}); len(list) != 0 {
		t.Errorf("the old value still matches: %+v", list)
	}
	if list, _, _ := ListDeals(ctx, db, DealFilter{Query: "fleet"}); len(list) != 1 {
		t.Errorf("the title no longer matches: %+v", list)
	}
	items, err := DealTimeline(ctx, db, d.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	names, err := LoadNames(ctx, db, KindDeal, nil)
	if err != nil {
		t.Fatal(err)
	}
	names.Describe(items)
	var lines []string
	for _, it := range items {
		lines = append(lines, it.Lines...)
	}
	if !slices.Contains(lines, "Seats changed from — to 12.5") || !slices.Contains(lines, "Seats changed from 40 to —") {
		t.Errorf("timeline lines = %q", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, "seats") {
			t.Errorf("a line names the field by its key: %q", l)
		}
	}
}

// The migration (0021) gives deals an empty custom object, lets a field
// belong to a deal, and fills each company's name key from its name.
func TestMigration_DealFieldsCompanyKeys(t *testing.T) {
	ctx := context.Background()
	db, _ := openWorkspaceBefore(t, "deal_fields_company_keys")
	for _, stmt := range []string{
		`INSERT INTO companies (id, name, created_at, updated_at) VALUES ('co1', 'Müller & Söhne GmbH', datetime(), datetime())`,
		`INSERT INTO custom_fields (seq, id, entity, key, label, type, created_at) VALUES (5, 'f1', 'contact', 'tier', 'Tier', 'text', datetime())`,
	} {
		if _, err := db.W.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	p, err := Pipelines(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO deals (id, title, pipeline_id, stage_id, created_at, updated_at) VALUES ('d1', 'Fleet', ?, ?, datetime(), datetime())`,
		p[0].ID, p[0].Stages[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		t.Fatal(err)
	}
	if d, err := GetDeal(ctx, db, "d1"); err != nil || d.Custom == nil || len(d.Custom) != 0 {
		t.Fatalf("deal after the migration: %+v, %v", d, err)
	}
	if list, _, err := ListDeals(ctx, db, DealFilter{Query: "fleet"}); err != nil || len(list) != 1 {
		t.Fatalf("the deal's title is not found after the migration: %+v, %v", list, err)
	}
	if fs, err := CustomFields(ctx, db, KindContact); err != nil || len(fs) != 1 || fs[0].Seq != 5 || fs[0].ID != "f1" {
		t.Fatalf("contact fields after the migration: %+v, %v", fs, err)
	}
	if got, err := SimilarCompany(ctx, db, "MÜLLER & SÖHNE"); err != nil || got == nil || got.ID != "co1" {
		t.Fatalf("similar company after the migration: %+v, %v", got, err)
	}
}

// A deals CSV fills the deals' custom fields by header (key or label),
// each value checked as the form checks it; a mapping to a field deals do
// not have is refused before any row.
func TestImportDeals_CustomFields(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, f := range []NewCustomField{
		{Entity: "deal", Label: "Seats", Type: "number"},
		{Entity: "deal", Label: "Renewal date", Type: "date"},
		{Entity: "contact", Label: "Tier", Type: "text"},
	} {
		if _, err := CreateCustomField(ctx, db, tester, f); err != nil {
			t.Fatal(err)
		}
	}
	text := "Title,Seats,Renewal date\nFleet,40,2027-03-01\nBad,many,\n"
	res, err := ImportDealsCSV(ctx, db, tester, strings.NewReader(text), DealImportOptions{ImportOptions: ImportOptions{Unmapped: UnmappedSkip}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "Seats must be a number") {
		t.Fatalf("result %+v", res)
	}
	if d := dealByTitle(t, db, "Fleet"); d.Custom["seats"] != 40.0 || d.Custom["renewal_date"] != "2027-03-01" {
		t.Errorf("custom %#v", d.Custom)
	}
	_, err = ImportDealsCSV(ctx, db, tester, strings.NewReader("Title,Tier\nX,Gold\n"),
		DealImportOptions{ImportOptions: ImportOptions{Mapping: []string{"title", "custom.tier"}, Unmapped: UnmappedSkip}})
	if ErrorCode(err) != EInvalid || !strings.Contains(ErrorMessage(err), "tier") {
		t.Errorf("a contact's field mapped: %v", err)
	}
}
