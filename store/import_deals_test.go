package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func importSample(t *testing.T, name string, fn func(r *strings.Reader) (*ImportResult, error)) *ImportResult {
	t.Helper()
	text, _ := readSample(t, name)
	res, err := fn(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func dealByTitle(t *testing.T, db *DB, title string) *Deal {
	t.Helper()
	var id string
	if err := db.R.Get(&id, `SELECT id FROM deals WHERE title = ?`, title); err != nil {
		t.Fatalf("%s: %v", title, err)
	}
	d, err := GetDeal(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func companyByName(t *testing.T, db *DB, name string) *Company {
	t.Helper()
	var ids []string
	if err := db.R.Select(&ids, `SELECT id FROM companies WHERE name = ? COLLATE NOCASE`, name); err != nil || len(ids) != 1 {
		t.Fatalf("%s: %d companies, %v", name, len(ids), err)
	}
	c, err := GetCompany(context.Background(), db, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Pipedrive's organizations, people and deals, imported in that order:
// companies deduplicated by domain, people linked to them by name, deals to
// both, to their pipelines and stages, with exact values.
func TestImport_PipedriveOrganizationsPeopleDeals(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	orgs := importSample(t, "pipedrive-organizations.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportCompaniesCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if orgs.Read != 5 || orgs.Created != 4 || orgs.Skipped != 1 || orgs.Failed != 0 || orgs.Source != SourcePipedrive || orgs.OwnersMatched != 2 ||
		strings.Join(orgs.FieldsCreated, ",") != "Organization - ID (number),Organization - Address (text),Organization - People (number)" ||
		strings.Join(orgs.SkippedColumns, ",") != "Organization - Annual revenue (empty)" {
		t.Fatalf("organizations: %+v", orgs)
	}
	vdb := companyByName(t, db, "Van der Berg B.V.")
	if vdb.Domain != "vdberg.example" || vdb.OwnerID != "u1" || strings.Join(vdb.Tags, ",") != "Customer" ||
		vdb.Custom["organization_address"] != "Keizersgracht 1, Amsterdam" || !vdb.CreatedAt.Equal(time.Date(2019, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("Van der Berg: %+v", vdb)
	}
	if items, _ := Timeline(ctx, db, KindCompany, vdb.ID, 10); !slices.ContainsFunc(items, func(i TimelineItem) bool {
		return i.Kind == "imported" && i.Changes()["source"].After == "Pipedrive" && i.At.Equal(vdb.CreatedAt)
	}) {
		t.Errorf("timeline %+v", items)
	}
	people := importSample(t, "pipedrive-people.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportContactsCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if people.Created != 4 || people.Failed != 0 {
		t.Fatalf("people: %+v", people)
	}
	if n := countRows(t, db, "companies"); n != 4 {
		t.Fatalf("%d companies after the people: they were not found by name", n)
	}
	deals := importSample(t, "pipedrive-deals.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportDealsCSV(ctx, db, tester, r, DealImportOptions{ImportOptions: ImportOptions{Owners: testOwners, Unmapped: UnmappedSkip}, Stages: StagesCreate})
	})
	if deals.Read != 5 || deals.Created != 5 || deals.Failed != 0 || deals.Source != SourcePipedrive ||
		strings.Join(deals.StagesCreated, ",") != "Partners (pipeline),Discovery" || strings.Join(deals.SkippedColumns, ",") != "Deal - ID,Deal - Products" ||
		len(deals.Notes) != 1 || deals.Notes[0].Row != 4 || !strings.Contains(deals.Notes[0].Message, "Nobody Known") {
		t.Fatalf("deals: %+v", deals)
	}
	jan, ludwig, maria := contactByEmail(t, db, "jan@vdberg.example"), contactByEmail(t, db, "ludwig@example.at"), contactByEmail(t, db, "maria@example.mx")
	for _, tc := range []struct {
		title, contact, company, value, currency, stage, status, closes string
	}{
		{"Grachtenhaus renovation", jan.ID, vdb.ID, "12500.50", "EUR", "Proposal", "open", "2023-09-30"},
		{"Symphony licence", ludwig.ID, ludwig.CompanyID, "1200.00", "EUR", "Negotiation", "won", "2023-01-15"},
		{"Iberia rollout", maria.ID, maria.CompanyID, "990.00", "USD", "Discovery", "open", ""},
		{"Lost bid", "", companyByName(t, db, "Nordlicht Ärzte GmbH").ID, "5000.00", "EUR", "Qualified", "lost", "2021-04-01"},
		{"Tokyo pilot", "", companyByName(t, db, "Tokyo Robotics KK").ID, "1500", "JPY", "Lead in", "open", ""},
	} {
		d := dealByTitle(t, db, tc.title)
		if d.ContactID != tc.contact || d.CompanyID != tc.company || d.CompanyID == "" || d.Value != tc.value || d.Currency != tc.currency ||
			d.StageName != tc.stage || d.Status != tc.status || d.ExpectedClose != tc.closes {
			t.Errorf("%s: %+v", tc.title, d)
		}
	}
	if jan.CompanyID != vdb.ID {
		t.Errorf("Jan's company %s, want %s", jan.CompanyID, vdb.ID)
	}
	if d := dealByTitle(t, db, "Lost bid"); d.LostReason != "Price too high, went with a competitor" || d.OwnerID != "u1" ||
		!d.CreatedAt.Equal(time.Date(2021, 3, 3, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Lost bid: %+v", d)
	}
}

// HubSpot's contacts, then companies updating those the contacts named,
// then deals whose associations name companies and contacts their way.
func TestImport_HubSpotContactsCompaniesDeals(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	importSample(t, "hubspot-contacts.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportContactsCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	cos := importSample(t, "hubspot-companies.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportCompaniesCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate, Update: true})
	})
	if cos.Read != 3 || cos.Updated != 3 || cos.Created != 0 || cos.Failed != 0 || cos.Source != SourceHubSpot {
		t.Fatalf("companies: %+v", cos)
	}
	m := companyByName(t, db, "Müller & Söhne, GmbH")
	if m.Domain != "mueller-soehne.example" || m.Size != "51-200" || m.Industry != "Manufacturing" || m.Custom["annual_revenue"] != 1.2e7 {
		t.Errorf("Müller: %+v", m)
	}
	if a := companyByName(t, db, "Acme Iberia"); a.Size != "5001+" || a.OwnerID != "u2" {
		t.Errorf("Acme: %+v", a)
	}
	opt := DealImportOptions{ImportOptions: ImportOptions{Owners: testOwners, Unmapped: UnmappedSkip}}
	// Its pipeline and a stage are new: refused, naming them, until asked
	// to create them.
	text, _ := readSample(t, "hubspot-deals.csv")
	_, err := ImportDealsCSV(ctx, db, tester, strings.NewReader(text), opt)
	if ErrorCode(err) != EValidation || !strings.Contains(ErrorMessage(err), `"Sales Pipeline" › "Appointment Scheduled"`) {
		t.Fatalf("unknown stages: %v", err)
	}
	if n := countRows(t, db, "deals"); n != 0 {
		t.Fatalf("a refused import left %d deals", n)
	}
	opt.Stages = StagesCreate
	deals := importSample(t, "hubspot-deals.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportDealsCSV(ctx, db, tester, r, opt)
	})
	if deals.Created != 3 || deals.Failed != 0 || len(deals.Notes) != 0 || strings.Join(deals.StagesCreated, ",") != "Sales Pipeline (pipeline),Appointment Scheduled" {
		t.Fatalf("deals: %+v", deals)
	}
	for title, want := range map[string][4]string{
		"Müller ERP upgrade": {"zoe.muller@example.de", "Müller & Söhne, GmbH", "48000.00 EUR", "open"},
		"Iberia expansion":   {"jose@example.es", "Acme Iberia", "12345.67 USD", "won"},
		"Lagos pilot":        {"ngozi@example.ng", "Lagos Trading Co., Ltd.", "999.99 EUR", "lost"},
	} {
		d := dealByTitle(t, db, title)
		if d.ContactID != contactByEmail(t, db, want[0]).ID || d.CompanyID != companyByName(t, db, want[1]).ID ||
			d.Value+" "+d.Currency != want[2] || d.Status != want[3] {
			t.Errorf("%s: %+v", title, d)
		}
	}
	if n := countRows(t, db, "companies"); n != 3 {
		t.Errorf("%d companies: the deals made some again", n)
	}
}

func TestParseImportAmount(t *testing.T) {
	for _, tc := range []struct{ in, cur, value, currency string }{
		{"1200.5", "", "1200.5", "EUR"}, {"$1,200.50", "", "1200.50", "USD"}, {"1.200,50 €", "", "1200.50", "EUR"},
		{"EUR 1200", "", "1200", "EUR"}, {"1200 CHF", "", "1200", "CHF"}, {"1,200", "", "1200", "EUR"}, {"12,5", "", "12.5", "EUR"},
		{"", "", "0", "EUR"}, {"99.99", "usd", "99.99", "USD"}, {"1500", "JPY", "1500", "JPY"},
	} {
		v, c, err := parseImportAmount(tc.in, tc.cur, "EUR")
		if err != nil || v != tc.value || c != tc.currency {
			t.Errorf("parseImportAmount(%q, %q) = %q %q %v; want %q %q", tc.in, tc.cur, v, c, err, tc.value, tc.currency)
		}
	}
	for _, bad := range []string{"1.5.5", "-3", "12.345", "abc"} {
		if _, _, err := parseImportAmount(bad, "", "EUR"); err == nil {
			t.Errorf("parseImportAmount(%q) took it", bad)
		}
	}
	if _, _, err := parseImportAmount("1500.5", "JPY", "EUR"); err == nil {
		t.Error("a yen value with decimals was taken")
	}
}

// Salesforce's accounts, contacts and opportunities: US dates, accounts
// found by the contacts and opportunities by name, contacts by name or
// email, closed stages closing the deals.
func TestImport_SalesforceAccountsContactsOpportunities(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	accounts := importSample(t, "salesforce-accounts.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportCompaniesCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if accounts.Created != 3 || accounts.Failed != 0 || accounts.Source != SourceSalesforce || accounts.OwnersMatched != 2 {
		t.Fatalf("accounts: %+v", accounts)
	}
	sge := companyByName(t, db, "Société Générale d'Équipement")
	if sge.Size != "1001-5000" || sge.Custom["description"] != "Long-standing account, \"gold\" tier\nRenewal every March." ||
		!sge.CreatedAt.Equal(time.Date(2020, 1, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("SGE: %+v", sge)
	}
	if tr := companyByName(t, db, "Tokyo Robotics"); tr.Domain != "tokyo-robotics.example" || tr.Custom["billing_city"] != "東京" {
		t.Errorf("Tokyo Robotics: %+v", tr)
	}
	importSample(t, "salesforce-contacts.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportContactsCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if n := countRows(t, db, "companies"); n != 3 {
		t.Fatalf("%d companies: the contacts did not find their accounts", n)
	}
	opps := importSample(t, "salesforce-opportunities.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportDealsCSV(ctx, db, tester, r, DealImportOptions{ImportOptions: ImportOptions{Owners: testOwners, Unmapped: UnmappedSkip}})
	})
	if opps.Created != 3 || opps.Failed != 0 || len(opps.Notes) != 0 || opps.Source != SourceSalesforce ||
		strings.Join(opps.SkippedColumns, ",") != "Probability (%),Lead Source,Type" {
		t.Fatalf("opportunities: %+v", opps)
	}
	for title, want := range map[string][6]string{
		"SGE retrofit": {"chloe.dubois@example.fr", "Société Générale d'Équipement", "250000.00 EUR", "open", "2024-12-31", "u1"},
		"Robot arms":   {"kenji@example.jp", "Tokyo Robotics", "1500000 JPY", "won", "2024-06-30", "u2"},
		"Acme support": {"sean@example.ie", "Acme, Inc.", "9999.99 USD", "lost", "2024-03-31", ""},
	} {
		d := dealByTitle(t, db, title)
		if d.ContactID != contactByEmail(t, db, want[0]).ID || d.CompanyID != companyByName(t, db, want[1]).ID ||
			d.Value+" "+d.Currency != want[2] || d.Status != want[3] || d.ExpectedClose != want[4] || d.OwnerID != want[5] {
			t.Errorf("%s: %+v", title, d)
		}
	}
}

// Zoho CRM's accounts, contacts and deals: day-first dates told by the
// column, Indian digit grouping, a pipeline and stage to create.
func TestImport_ZohoAccountsContactsDeals(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	accounts := importSample(t, "zoho-accounts.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportCompaniesCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if accounts.Created != 2 || accounts.Failed != 0 || accounts.Source != SourceZoho {
		t.Fatalf("accounts: %+v", accounts)
	}
	if k := companyByName(t, db, "Kraków Steel, S.A."); k.Domain != "krakow-steel.example" || k.Size != "5001+" || k.OwnerID != "u2" {
		t.Errorf("Kraków Steel: %+v", k)
	}
	importSample(t, "zoho-contacts.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportContactsCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if n := countRows(t, db, "companies"); n != 2 {
		t.Fatalf("%d companies: the contacts did not find their accounts", n)
	}
	deals := importSample(t, "zoho-deals.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportDealsCSV(ctx, db, tester, r, DealImportOptions{ImportOptions: ImportOptions{Owners: testOwners, Unmapped: UnmappedSkip}, Stages: StagesCreate})
	})
	if deals.Created != 3 || deals.Failed != 0 || len(deals.Notes) != 0 || deals.Source != SourceZoho ||
		strings.Join(deals.StagesCreated, ",") != "Standard (pipeline),Needs Analysis" {
		t.Fatalf("deals: %+v", deals)
	}
	for title, want := range map[string][5]string{
		"Chennai export line": {"priya@example.in", "Chennai Exports Pvt. Ltd.", "125000.00 INR", "open", "2024-06-25"},
		"Steel contract":      {"lukasz@example.pl", "Kraków Steel, S.A.", "48000.00 PLN", "won", "2023-12-31"},
		"Analyst seats":       {"fatima@example.ae", "Chennai Exports Pvt. Ltd.", "1200.50 EUR", "lost", "2024-01-13"},
	} {
		d := dealByTitle(t, db, title)
		if d.ContactID != contactByEmail(t, db, want[0]).ID || d.CompanyID != companyByName(t, db, want[1]).ID ||
			d.Value+" "+d.Currency != want[2] || d.Status != want[3] || d.ExpectedClose != want[4] {
			t.Errorf("%s: %+v", title, d)
		}
	}
}

// checkCompanyColumnsLand checks that every non-empty cell of a companies
// file is found in the company its first cell's row became (by name
// column nameCol): in a field, a custom field, or its creation date.
func checkCompanyColumnsLand(t *testing.T, db *DB, recs [][]string, nameCol int) {
	t.Helper()
	for r, rec := range recs[1:] {
		c := companyByName(t, db, rec[nameCol])
		hay := []string{c.Name, c.Domain, c.Industry, c.Size, c.OwnerID, c.CreatedAt.Format("2006-01-02")}
		hay = append(hay, c.Tags...)
		for _, v := range c.Custom {
			hay = append(hay, fmt.Sprint(v))
		}
		for i, cell := range rec {
			if cell = strings.TrimSpace(cell); cell == "" {
				continue
			}
			want := []string{cell}
			if d, err := cleanDomain(cell); err == nil {
				want = append(want, d)
			}
			if s, ok := companySize(cell); ok {
				want = append(want, s)
			}
			if d, ok := ParseImportDate(cell, false); ok {
				want = append(want, d.Format("2006-01-02"))
			}
			if n, err := strconv.ParseFloat(strings.ReplaceAll(cell, ",", ""), 64); err == nil {
				want = append(want, fmt.Sprint(n))
			}
			if !slices.ContainsFunc(want, func(w string) bool { return slices.Contains(hay, w) }) {
				t.Errorf("row %d, column %q: %q is nowhere in %+v", r+1, recs[0][i], cell, c)
			}
		}
	}
}

// Close's leads (its companies), contacts and opportunities: values in
// cents, opportunities titled by their note, linked to the lead's company
// and the contact by name, and the note kept on the company.
func TestImport_CloseLeadsContactsOpportunities(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	_, recs := readSample(t, "close-leads.csv")
	leads := importSample(t, "close-leads.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportCompaniesCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if leads.Read != 4 || leads.Created != 4 || leads.Failed != 0 || leads.Source != SourceClose || len(leads.SkippedColumns) != 0 {
		t.Fatalf("leads: %+v", leads)
	}
	if got, want := SuggestCompanyMapping(recs[0], nil), []string{"", "name", "domain", "", "", "", "created_at", "", "", "", "", "", "", "industry", "size", ""}; !slices.Equal(got, want) {
		t.Errorf("mapping %q, want %q", got, want)
	}
	checkCompanyColumnsLand(t, db, recs, 1)
	f := companyByName(t, db, "Fontaine & Fils, SARL")
	if f.Domain != "fontaine.example" || f.Industry != "Food" || f.Size != "51-200" || f.Custom["address_1_city"] != "Lyon" ||
		f.Custom["description"] != "Family business since 1890.\nPrefers calls after 2pm, \"never\" on Mondays." ||
		!f.CreatedAt.Equal(time.Date(2023, 4, 12, 9, 41, 23, 123000000, time.UTC)) {
		t.Errorf("Fontaine: %+v", f)
	}
	if l := companyByName(t, db, "Łódź Ceramika sp. z o.o."); l.Domain != "lodz-ceramika.example" || l.Custom["address_1_city"] != "Łódź" {
		t.Errorf("Łódź: %+v", l)
	}
	importSample(t, "close-contacts.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportContactsCSV(ctx, db, tester, r, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	})
	if n := countRows(t, db, "companies"); n != 4 {
		t.Fatalf("%d companies: the contacts did not find their leads", n)
	}
	opps := importSample(t, "close-opportunities.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportDealsCSV(ctx, db, tester, r, DealImportOptions{ImportOptions: ImportOptions{Owners: testOwners, Unmapped: UnmappedSkip}, Stages: StagesCreate})
	})
	if opps.Read != 4 || opps.Created != 4 || opps.Failed != 0 || len(opps.Notes) != 0 || opps.Source != SourceClose ||
		strings.Join(opps.SkippedColumns, ",") != "id,lead_id,contact_id,value_formatted,value_period,confidence,date_updated,created_by_name" ||
		strings.Join(opps.StagesCreated, ",") != "Proposal Sent,Demo Scheduled" ||
		len(opps.UnmatchedOwners) != 1 || opps.UnmatchedOwners[0].Owner != "Carl Nobody" {
		t.Fatalf("opportunities: %+v", opps)
	}
	nordwind := companyByName(t, db, "Nordwind AG")
	for title, want := range map[string][7]string{
		"Cold room, phase 2":           {"am@fontaine.example", f.ID, "12500.50 EUR", "open", "2024-09-30", "u1", "Proposal Sent"},
		"Fleet tracking seats":         {"gunther@nordwind.example", nordwind.ID, "49.00 EUR", "won", "2023-02-15", "u2", "Won"},
		"Solo Consulting (2024-02-02)": {"liwei@solo.example", companyByName(t, db, "Solo Consulting").ID, "3000.00 USD", "lost", "", "", "Lost"},
		"Warehouse pilot, Hamburg":     {"", nordwind.ID, "0.00 EUR", "open", "", "", "Demo Scheduled"},
	} {
		d := dealByTitle(t, db, title)
		contact := ""
		if want[0] != "" {
			contact = contactByEmail(t, db, want[0]).ID
		}
		if d.ContactID != contact || d.CompanyID != want[1] || d.Value+" "+d.Currency != want[2] || d.Status != want[3] ||
			d.ExpectedClose != want[4] || d.OwnerID != want[5] || (want[6] != "Won" && want[6] != "Lost" && d.StageName != want[6]) {
			t.Errorf("%s: %+v", title, d)
		}
	}
	notes, _, err := ListNotes(ctx, db, "", f.ID, "", "", 10)
	if err != nil || len(notes) != 1 || notes[0].Body != "Deal “Cold room, phase 2”:\nCold room, phase 2\nQuote v3 sent, awaiting the board." {
		t.Errorf("Fontaine's notes %+v %v", notes, err)
	}
	// Imported again, to update: the same deals, their notes not repeated.
	again := importSample(t, "close-opportunities.csv", func(r *strings.Reader) (*ImportResult, error) {
		return ImportDealsCSV(ctx, db, tester, r, DealImportOptions{ImportOptions: ImportOptions{Owners: testOwners, Unmapped: UnmappedSkip, Update: true}})
	})
	if again.Updated != 4 || again.Created != 0 || countRows(t, db, "deals") != 4 || countRows(t, db, "notes") != 3 {
		t.Errorf("again: %+v, %d deals, %d notes", again, countRows(t, db, "deals"), countRows(t, db, "notes"))
	}
}

// A deals file imported again creates no deal twice: a deal of the same
// title and company (or contact, without company) in the same pipeline is
// skipped with a note, or updated with Update.
func TestImportDeals_Again(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	file := "Deal Name,Company,Contact,Amount,Pipeline,Stage\n" +
		"Renewal,\"Acme, Inc.\",,1000,Sales,Qualified\n" +
		"Renewal,Globex,,2000,Sales,Qualified\n" + // another company: another deal
		"Renewal,,ana@example.com,300,Sales,Qualified\n" + // no company: by contact
		"Renewal,\"Acme, Inc.\",,1000,Partners,Qualified\n" + // another pipeline
		"renewal,\"ACME, INC.\",,1000,Sales,Qualified\n" // the first one again, in the same file
	if _, err := CreateContact(ctx, db, tester, ContactInput{Email: ptr("ana@example.com")}); err != nil {
		t.Fatal(err)
	}
	opt := DealImportOptions{Stages: StagesCreate}
	first, err := ImportDealsCSV(ctx, db, tester, strings.NewReader(file), opt)
	if err != nil || first.Created != 4 || first.Skipped != 1 || len(first.Notes) != 1 || first.Notes[0].Row != 5 {
		t.Fatalf("first import: %+v %v", first, err)
	}
	t.Run("Skip", func(t *testing.T) {
		again, err := ImportDealsCSV(ctx, db, tester, strings.NewReader(file), opt)
		if err != nil || again.Read != 5 || again.Created != 0 || again.Skipped != 5 || again.Failed != 0 || len(again.Notes) != 5 ||
			!strings.Contains(again.Notes[0].Message, `"Renewal" is already in this pipeline`) {
			t.Fatalf("again: %+v %v", again, err)
		}
		if n := countRows(t, db, "deals"); n != 4 {
			t.Errorf("%d deals, want 4", n)
		}
	})
	t.Run("Update", func(t *testing.T) {
		changed := strings.Replace(strings.Replace(file, ",2000,Sales,Qualified", ",2500.50,Sales,Won", 1), ",300,", ",350,", 1)
		upd, err := ImportDealsCSV(ctx, db, tester, strings.NewReader(changed), DealImportOptions{ImportOptions: ImportOptions{Update: true}, Stages: StagesCreate})
		if err != nil || upd.Created != 0 || upd.Updated != 5 || upd.Skipped != 0 || upd.Failed != 0 {
			t.Fatalf("update: %+v %v", upd, err)
		}
		if n := countRows(t, db, "deals"); n != 4 {
			t.Errorf("%d deals, want 4", n)
		}
		var globex Deal
		if err := db.R.Get(&globex, `SELECT value_minor, currency, status, created_at FROM deals WHERE company_id = ?`, companyByName(t, db, "Globex").ID); err != nil {
			t.Fatal(err)
		}
		if globex.ValueMinor != 250050 || globex.Status != "won" {
			t.Errorf("Globex's deal: %+v", globex)
		}
		var byContact int64
		if err := db.R.Get(&byContact, `SELECT value_minor FROM deals WHERE company_id IS NULL AND contact_id IS NOT NULL`); err != nil || byContact != 35000 {
			t.Errorf("the contact's deal: %d %v", byContact, err)
		}
	})
	// Close's opportunities have no title: two of one lead without notes
	// are two deals, and the file imported again makes none.
	t.Run("Untitled", func(t *testing.T) {
		closeFile := "lead_name,status_type,value,value_currency,date_created\n" +
			"Solo Consulting,active,10000,USD,2024-01-05 10:00:00.000000+00:00\nSolo Consulting,active,20000,USD,2024-03-07 10:00:00.000000+00:00\n"
		for i, want := range [][2]int{{2, 0}, {0, 2}} {
			res, err := ImportDealsCSV(ctx, db, tester, strings.NewReader(closeFile), DealImportOptions{})
			if err != nil || res.Source != SourceClose || res.Created != want[0] || res.Skipped != want[1] {
				t.Fatalf("import %d: %+v %v", i+1, res, err)
			}
		}
		if d := dealByTitle(t, db, "Solo Consulting (2024-03-07)"); d.Value != "200.00" || d.Currency != "USD" {
			t.Errorf("the second deal: %+v", d)
		}
	})
}
