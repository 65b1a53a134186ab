package store

import (
	"context"
	"strings"
	"testing"
)

func TestPipelines_Default(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ps, err := Pipelines(ctx, db)
	if err != nil || len(ps) != 1 || len(ps[0].Stages) != 5 || ps[0].Stages[0].Name != "Lead in" {
		t.Fatalf("default pipeline: %+v %v", ps, err)
	}
	again, _ := Pipelines(ctx, db)
	if len(again) != 1 || again[0].ID != ps[0].ID {
		t.Fatal("listing pipelines again made another default")
	}
	if err := DeletePipeline(ctx, db, tester, ps[0].ID); ErrorCode(err) != EConflict {
		t.Fatalf("deleting the last pipeline: %v", err)
	}
}

func TestDeals_ExactValueAndReferences(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Website"), Value: ptr("1200.10"), Currency: ptr("eur"), ContactID: &c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Value != "1200.10" || d.ValueMinor != 120010 || d.Currency != "EUR" || d.StageName != "Lead in" || d.Status != "open" {
		t.Fatalf("deal = %+v", d)
	}
	got, _ := GetDeal(ctx, db, d.ID)
	if got.Value != "1200.10" {
		t.Fatalf("round trip gave %q", got.Value)
	}
	other, _ := CreatePipeline(ctx, db, tester, "Partners")
	foreign := "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"
	for name, in := range map[string]DealInput{
		"stage of another pipeline": {StageID: &other.Stages[1].ID},
		"unknown stage":             {StageID: &foreign},
		"unknown pipeline":          {PipelineID: &foreign},
		"unknown contact":           {ContactID: &foreign},
		"unknown company":           {CompanyID: &foreign},
		"float-ish value":           {Value: ptr("1,200.10")},
		"too many decimals":         {Value: ptr("1.001")},
		"bad status":                {Status: ptr("pending")},
		"bad currency":              {Currency: ptr("euro")},
		"bad close date":            {ExpectedClose: ptr("next week")},
	} {
		if _, err := UpdateDeal(ctx, db, tester, d.ID, in); ErrorCode(err) != EValidation {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	moved, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{PipelineID: &other.ID})
	if err != nil || moved.StageID != other.Stages[0].ID {
		t.Fatalf("moving to another pipeline should land on its first stage: %+v %v", moved, err)
	}
	lost, err := UpdateDeal(ctx, db, tester, d.ID, DealInput{Status: ptr("lost"), LostReason: ptr("Budget cut")})
	if err != nil || lost.ClosedAt == nil || lost.LostReason != "Budget cut" {
		t.Fatalf("lost: %+v %v", lost, err)
	}
	reopened, _ := UpdateDeal(ctx, db, tester, d.ID, DealInput{Status: ptr("open")})
	if reopened.ClosedAt != nil || reopened.LostReason != "" {
		t.Fatalf("reopened: %+v", reopened)
	}
	items, _ := Timeline(ctx, db, "contact", c.ID, 50)
	if items[0].Kind != "deal_open" || items[0].Text != "Website" {
		t.Fatalf("the deal is not on the contact's timeline: %+v", items)
	}
	rs, _ := Search(ctx, db, "webs", 10)
	if len(rs) != 1 || rs[0].Kind != "deal" {
		t.Fatalf("search for the deal: %+v", rs)
	}
	events, _, _ := ListAudit(ctx, db, AuditFilter{EntityID: d.ID})
	if len(events) != 4 {
		t.Fatalf("%d audit events for the deal, want 4", len(events))
	}
}

func TestBoard_TotalsFollowMoves(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	ps, _ := Pipelines(ctx, db)
	p := ps[0]
	a, _ := CreateDeal(ctx, db, tester, DealInput{Title: ptr("A"), Value: ptr("100.50"), ExpectedClose: ptr("2027-03-15")})
	CreateDeal(ctx, db, tester, DealInput{Title: ptr("B"), Value: ptr("0.25"), ExpectedClose: ptr("2027-03-01")})
	CreateDeal(ctx, db, tester, DealInput{Title: ptr("C"), Value: ptr("5000"), Currency: ptr("JPY")})
	b, err := LoadBoard(ctx, db, p.ID, DealFilter{})
	if err != nil {
		t.Fatal(err)
	}
	first := b.Columns[0]
	if first.Count != 3 || len(first.Deals) != 3 || amounts(first.Totals) != "100.75 EUR, 5,000 JPY" {
		t.Fatalf("first column: count %d, totals %s", first.Count, amounts(first.Totals))
	}
	if _, err := UpdateDeal(ctx, db, tester, a.ID, DealInput{StageID: &p.Stages[2].ID}); err != nil {
		t.Fatal(err)
	}
	b, _ = LoadBoard(ctx, db, p.ID, DealFilter{})
	if amounts(b.Columns[0].Totals) != "0.25 EUR, 5,000 JPY" || amounts(b.Columns[2].Totals) != "100.50 EUR" || b.Columns[2].Count != 1 {
		t.Fatalf("after the move: %s | %s", amounts(b.Columns[0].Totals), amounts(b.Columns[2].Totals))
	}
	UpdateDeal(ctx, db, tester, a.ID, DealInput{Status: ptr("won")})
	b, _ = LoadBoard(ctx, db, p.ID, DealFilter{})
	if amounts(b.Won) != "100.50 EUR" || b.Columns[2].Count != 0 {
		t.Fatalf("won %s, column %d", amounts(b.Won), b.Columns[2].Count)
	}
	f, _ := Forecast(ctx, db, p.ID, DealFilter{})
	if len(f) != 2 || f[0].Month != "2027-03" || f[0].TotalText() != "0.25" || f[0].WeightedText() != "0.02" || f[1].Month != "" {
		t.Fatalf("forecast %+v", f)
	}
	if err := DeleteStage(ctx, db, tester, p.Stages[0].ID, ""); ErrorField(err) != "move_to" {
		t.Fatalf("deleting a stage with deals without a target: %v", err)
	}
	if err := DeleteStage(ctx, db, tester, p.Stages[0].ID, p.Stages[1].ID); err != nil {
		t.Fatal(err)
	}
	b, _ = LoadBoard(ctx, db, p.ID, DealFilter{})
	if len(b.Columns) != 4 || b.Columns[0].Count != 2 {
		t.Fatalf("after deleting the stage: %d columns, first has %d", len(b.Columns), b.Columns[0].Count)
	}
}

func amounts(as []Amount) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}
