package store

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testOwners are two members, by user id, email and name, as
// tenant.Service gives them.
var testOwners = map[string]string{"u1": "u1", "ana@atrium.test": "u1", "ana silva": "u1", "u2": "u2", "bo@atrium.test": "u2", "bo berg": "u2"}

func readSample(t *testing.T, name string) (string, [][]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "crm", name))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return string(b), recs
}

// contactOfRow finds the contact a sample row became, by the first address
// among its cells.
func contactOfRow(t *testing.T, db *DB, rec []string) *Contact {
	t.Helper()
	for _, cell := range rec {
		for _, e := range splitEmails(cell) {
			if strings.Contains(e, "@") && !strings.HasSuffix(e, "atrium.test") {
				id, err := ContactIDByEmail(context.Background(), db, e)
				if err == nil {
					c, err := GetContact(context.Background(), db, id)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
			}
		}
	}
	t.Fatalf("no contact for row %q", rec)
	return nil
}

// checkColumnsLand checks that every non-empty cell of every row is found
// in its contact: in a field, a custom field, its company, its owner, its
// creation date, or (an owner who is no member) in the report.
func checkColumnsLand(t *testing.T, db *DB, recs [][]string, res *ImportResult) {
	t.Helper()
	header := recs[0]
	for r, rec := range recs[1:] {
		c := contactOfRow(t, db, rec)
		hay := []string{c.FirstName, c.LastName, c.FirstName + " " + c.LastName, c.Email, c.Phone, c.Title, c.Company, c.Stage, c.OwnerID,
			c.CreatedAt.Format("2006-01-02")}
		hay = append(hay, c.Tags...)
		for _, v := range c.Custom {
			hay = append(hay, fmt.Sprint(v))
			hay = append(hay, strings.Split(fmt.Sprint(v), "; ")...)
		}
		found := func(s string) bool {
			return slices.ContainsFunc(hay, func(h string) bool {
				return strings.EqualFold(h, s) || strings.Contains(strings.ToLower(h), strings.ToLower(s))
			})
		}
		for i, cell := range rec {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				continue
			}
			ok := found(cell) || found(importStage(cell)) || found(testOwners[strings.ToLower(cell)])
			if !ok {
				parts := splitPhones(strings.ReplaceAll(cell, ",", ";"))
				ok = !slices.ContainsFunc(parts, func(p string) bool { return !found(p) })
			}
			for _, dayFirst := range []bool{false, true} {
				if d, isDate := ParseImportDate(cell, dayFirst); isDate && !ok {
					ok = found(d.Format("2006-01-02"))
				}
			}
			if !ok && slices.ContainsFunc(res.UnmatchedOwners, func(o UnmatchedOwner) bool { return o.Owner == cell }) {
				ok = true
			}
			if !ok {
				t.Errorf("row %d, column %q: %q is nowhere in %+v", r+1, header[i], cell, c)
			}
		}
	}
}

func TestImportCSV_CRMExports(t *testing.T) {
	for _, tc := range []struct {
		file, source string
		created      int
		fields       []string // custom fields created
		skipped      []string
		matched      int
		unmatched    []UnmatchedOwner
		check        func(t *testing.T, db *DB)
	}{
		{file: "hubspot-contacts.csv", source: SourceHubSpot, created: 4,
			fields:  []string{"Record ID (number)", "Lead Status (select)", "City (text)", "Country/Region (text)", "Website URL (url)", "Message (text)", "Other emails (text)", "Other phones (text)"},
			skipped: []string{"Fax Number (empty)"}, matched: 2, unmatched: []UnmatchedOwner{{"Carl Nobody", 1}},
			check: func(t *testing.T, db *DB) {
				c := contactByEmail(t, db, "zoe.muller@example.de")
				if c.Stage != "customer" || c.Company != "Müller & Söhne, GmbH" || c.OwnerID != "u1" || c.Phone != "+49 30 1234567" ||
					c.Custom["other_emails"] != "zoe@private.example; zm@old.example" || c.Custom["other_phones"] != "+49 171 7654321" ||
					c.Custom["message"] != "Met at the fair.\nWants a demo, in Q2." || c.Custom["lead_status"] != "Connected" {
					t.Errorf("Zoë: %+v", c)
				}
				if want := time.Date(2021, 3, 15, 9, 41, 0, 0, time.UTC); !c.CreatedAt.Equal(want) {
					t.Errorf("created %v, want %v", c.CreatedAt, want)
				}
				jose := contactByEmail(t, db, "jose@example.es")
				if jose.Stage != "qualified" || jose.OwnerID != "u2" {
					t.Errorf("José: %+v", jose)
				}
				items, err := Timeline(context.Background(), db, KindContact, c.ID, 10)
				if err != nil || len(items) != 1 || items[0].Kind != "imported" || items[0].Changes()["source"].After != "HubSpot" ||
					!items[0].At.Equal(c.CreatedAt) {
					t.Errorf("timeline %+v %v", items, err)
				}
			}},
		{file: "salesforce-contacts.csv", source: SourceSalesforce, created: 3,
			fields: []string{"Salutation (text)", "Mailing Street (text)", "Mailing City (text)", "Mailing Country (text)", "Lead Source (select)",
				"Birthdate (date)", "Description (text)", "Other phones (text)"},
			skipped: []string{"Assistant (empty)"}, matched: 2, unmatched: []UnmatchedOwner{{"Somebody Else", 1}},
			check: func(t *testing.T, db *DB) {
				c := contactByEmail(t, db, "chloe.dubois@example.fr")
				if c.Company != "Société Générale d'Équipement" || c.Phone != "+33 1 42 00 00 00" || c.Custom["birthdate"] != "1980-07-04" ||
					c.Custom["mailing_street"] != "12 rue de la Paix\nBâtiment B" || !c.CreatedAt.Equal(time.Date(2021, 3, 15, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("Chloé: %+v", c)
				}
				if s := contactByEmail(t, db, "sean@example.ie"); s.Company != "Acme, Inc." || s.Custom["birthdate"] != "1975-12-25" ||
					s.Custom["description"] != `Said "call me in May"` {
					t.Errorf("Sean: %+v", s)
				}
			}},
		{file: "pipedrive-people.csv", source: SourcePipedrive, created: 4,
			fields:  []string{"Person - ID (number)", "Person - Visible to (select)", "Person - Open deals (number)", "Other emails (text)", "Other phones (text)"},
			matched: 2,
			check: func(t *testing.T, db *DB) {
				for email, name := range map[string][2]string{
					"jan@vdberg.example": {"Jan", "van der Berg"}, "ludwig@example.at": {"Ludwig", "van Beethoven"},
					"maria@example.mx": {"María", "de la Cruz"}, "bjork@example.is": {"Björk", "Guðmundsdóttir"},
				} {
					if c := contactByEmail(t, db, email); c.FirstName != name[0] || c.LastName != name[1] {
						t.Errorf("%s: %q %q, want %q", email, c.FirstName, c.LastName, name)
					}
				}
				jan := contactByEmail(t, db, "jan@vdberg.example")
				if jan.Company != "Van der Berg B.V." || strings.Join(jan.Tags, ",") != "Hot lead" || jan.Custom["other_emails"] != "jan.berg@home.example" {
					t.Errorf("Jan: %+v", jan)
				}
			}},
		{file: "zoho-contacts.csv", source: SourceZoho, created: 3,
			fields: []string{"Record Id (text)", "Salutation (text)", "Department (select)", "Lead Source (select)", "Modified Time (date)",
				"Mailing City (text)", "Mailing Country (text)", "Description (text)", "Other emails (text)", "Other phones (text)"},
			skipped: []string{"Fax (empty)"}, matched: 2,
			check: func(t *testing.T, db *DB) {
				p := contactByEmail(t, db, "priya@example.in")
				if p.Custom["modified_time"] != "2023-04-25" || p.Custom["other_emails"] != "priya.r@gmail.example" || p.OwnerID != "u1" {
					t.Errorf("Priya: %+v", p)
				}
				if l := contactByEmail(t, db, "lukasz@example.pl"); l.Custom["modified_time"] != "2023-02-03" || l.FirstName != "Łukasz" {
					t.Errorf("Łukasz: %+v", l)
				}
			}},
		{file: "close-contacts.csv", source: SourceClose, created: 3,
			fields: []string{"lead_id (text)", "contact_id (text)", "status_label (select)", "url (url)", "custom.Industry (select)",
				"Other emails (text)", "Other phones (text)"},
			check: func(t *testing.T, db *DB) {
				am := contactByEmail(t, db, "am@fontaine.example")
				if am.FirstName != "Anne-Marie" || am.LastName != "de la Fontaine" || am.Company != "Fontaine & Fils, SARL" ||
					am.Custom["other_emails"] != "anne-marie@perso.example" || am.Custom["other_phones"] != "+33 6 00 00 00 01" {
					t.Errorf("Anne-Marie: %+v", am)
				}
				if g := contactByEmail(t, db, "gunther@nordwind.example"); g.LastName != "von Richthofen" || g.Custom["other_emails"] != nil {
					t.Errorf("Günther: %+v", g)
				}
			}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			db := MustOpenWorkspace(t)
			text, recs := readSample(t, tc.file)
			res := importCSV(t, db, text, ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
			if res.Created != tc.created || res.Failed != 0 || res.Source != tc.source {
				t.Fatalf("result %+v", res)
			}
			if !slices.Equal(sorted(res.FieldsCreated), sorted(tc.fields)) || !slices.Equal(res.SkippedColumns, tc.skipped) {
				t.Errorf("fields created %q, skipped %q", res.FieldsCreated, res.SkippedColumns)
			}
			if res.OwnersMatched != tc.matched || !slices.Equal(res.UnmatchedOwners, tc.unmatched) {
				t.Errorf("owners: %d matched, unmatched %+v", res.OwnersMatched, res.UnmatchedOwners)
			}
			checkColumnsLand(t, db, recs, res)
			tc.check(t, db)
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func contactByEmail(t *testing.T, db *DB, email string) *Contact {
	t.Helper()
	id, err := ContactIDByEmail(context.Background(), db, email)
	if err != nil {
		t.Fatalf("%s: %v", email, err)
	}
	c, err := GetContact(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Without a choice for its unmapped columns, an import that asks for one
// is refused, naming them; skip leaves them out and lists them.
func TestImportCSV_Unmapped(t *testing.T) {
	csv := "Name,Email,Shoe size,Favourite colour\nAna Silva,ana@example.com,38,blue\n"
	db := MustOpenWorkspace(t)
	_, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), ImportOptions{Unmapped: UnmappedRefuse})
	if ErrorCode(err) != EValidation || !strings.Contains(ErrorMessage(err), `"Shoe size", "Favourite colour"`) {
		t.Fatalf("refuse: %v", err)
	}
	if n := countRows(t, db, "contacts") + countRows(t, db, "custom_fields"); n != 0 {
		t.Fatalf("a refused import wrote %d rows", n)
	}
	res := importCSV(t, db, csv, ImportOptions{Unmapped: UnmappedSkip})
	if res.Created != 1 || !slices.Equal(res.SkippedColumns, []string{"Shoe size", "Favourite colour"}) || len(res.FieldsCreated) != 0 {
		t.Fatalf("skip: %+v", res)
	}
	// A mapping may ask for a new field for one column and leave another.
	res = importCSV(t, db, "Name,Email,Shoe size,Favourite colour\nBo Berg,bo@example.com,44,\n",
		ImportOptions{Mapping: []string{"name", "email", MappingNewField, ""}, Unmapped: UnmappedSkip})
	if bo := contactByEmail(t, db, "bo@example.com"); res.Created != 1 || bo.Custom["shoe_size"] != 44.0 || bo.FirstName != "Bo" {
		t.Fatalf("new field: %+v %+v", res, bo)
	}
	if _, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), ImportOptions{Unmapped: "maybe"}); ErrorCode(err) != EInvalid {
		t.Fatalf("bad option: %v", err)
	}
}

func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.R.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSplitFullName(t *testing.T) {
	for _, tc := range [][3]string{
		{"Jan van der Berg", "Jan", "van der Berg"}, {"Ludwig van Beethoven", "Ludwig", "van Beethoven"},
		{"Leonardo da Vinci", "Leonardo", "da Vinci"}, {"Anne-Marie de la Fontaine", "Anne-Marie", "de la Fontaine"},
		{"Ursula von der Leyen", "Ursula", "von der Leyen"}, {"Benicio del Toro", "Benicio", "del Toro"},
		{"Jean Le Pen", "Jean", "Le Pen"}, {"Mary Ann Smith", "Mary Ann", "Smith"}, {"Madonna", "Madonna", ""},
		{"  Zoë   Müller ", "Zoë", "Müller"}, {"Berg, Jan", "Jan", "Berg"}, {"Van Morrison", "Van", "Morrison"},
		{"", "", ""},
	} {
		if first, last := SplitFullName(tc[0]); first != tc[1] || last != tc[2] {
			t.Errorf("SplitFullName(%q) = %q, %q; want %q, %q", tc[0], first, last, tc[1], tc[2])
		}
	}
}

func TestParseImportDate(t *testing.T) {
	for _, tc := range []struct {
		in       string
		dayFirst bool
		want     string // RFC 3339, "" for not a date
	}{
		{"2021-03-15 09:41", false, "2021-03-15T09:41:00Z"},
		{"2023-04-12 09:41:23", false, "2023-04-12T09:41:23Z"},
		{"2023-04-12T09:41:23.123000+02:00", false, "2023-04-12T07:41:23.123Z"},
		{"2023-04-12T09:41:23.000Z", false, "2023-04-12T09:41:23Z"},
		{"2023-04-12", false, "2023-04-12T00:00:00Z"},
		{"3/15/2021", false, "2021-03-15T00:00:00Z"},
		{"4/3/2021", false, "2021-04-03T00:00:00Z"},
		{"4/3/2021", true, "2021-03-04T00:00:00Z"},
		{"25/04/2023 10:00", false, "2023-04-25T10:00:00Z"},
		{"12.04.2023", false, "2023-04-12T00:00:00Z"},
		{"1/9/2023 3:04 PM", false, "2023-01-09T15:04:00Z"},
		{"1/9/2023 12:30 AM", false, "2023-01-09T00:30:00Z"},
		{"Jan 9, 2023", false, "2023-01-09T00:00:00Z"},
		{"31/04/2023", false, ""}, {"13/13/2023", false, ""}, {"soon", false, ""}, {"", false, ""}, {"42", false, ""},
	} {
		got, ok := ParseImportDate(tc.in, tc.dayFirst)
		if s := got.Format(time.RFC3339Nano); ok != (tc.want != "") || ok && s != tc.want {
			t.Errorf("ParseImportDate(%q, %v) = %s, %v; want %q", tc.in, tc.dayFirst, s, ok, tc.want)
		}
	}
}

func TestGuessFieldType(t *testing.T) {
	for _, tc := range []struct {
		values   []string
		complete bool
		want     string
		options  []string
	}{
		{[]string{"1", "", "2.5", "-3"}, true, "number", nil},
		{[]string{"2021-03-15", "3/16/2021", ""}, true, "date", nil},
		{[]string{"https://a.example/x", "www.b.example", "c.example"}, true, "url", nil},
		{[]string{"New", "Open", "New", ""}, true, "select", []string{"New", "Open"}},
		{[]string{"New", "Open", "New"}, false, "text", nil}, // the rest of the file may hold others
		{[]string{"a", "b", "c"}, true, "text", nil},         // nothing repeats
		{[]string{"x, y", "x, y"}, true, "text", nil},        // a select option cannot hold a comma
		{[]string{"", ""}, true, "text", nil},
		{[]string{"ana@example.com", "bo@example.com", "ana@example.com"}, true, "select", []string{"ana@example.com", "bo@example.com"}},
	} {
		typ, opts := GuessFieldType(tc.values, tc.complete)
		if typ != tc.want || !slices.Equal(opts, tc.options) {
			t.Errorf("GuessFieldType(%q) = %s %q; want %s %q", tc.values, typ, opts, tc.want, tc.options)
		}
	}
}

func TestDetectSource(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   string
	}{
		{[]string{"Record ID", "First Name", "Email", "Create Date", "Lifecycle Stage"}, SourceHubSpot},
		{[]string{"First Name", "Account Name", "Mailing City", "Lead Source"}, SourceSalesforce},
		{[]string{"Person - Name", "Person - Email - Work"}, SourcePipedrive},
		{[]string{"First Name", "Created Time", "Modified Time", "Secondary Email"}, SourceZoho},
		{[]string{"lead_name", "contact_name", "primary_email", "date_created"}, SourceClose},
		{[]string{"id", "display_name", "url", "status_label", "address_1_city", "date_created"}, SourceClose},
		{[]string{"lead_name", "status_type", "value", "value_currency", "value_period", "user_name"}, SourceClose},
		{[]string{"Display Name", "Status Label", "Date Created"}, ""},
		{[]string{"first_name", "last_name", "email"}, ""},
		{[]string{"Name", "Email", "Created"}, ""},
	} {
		if got := DetectSource(tc.header); got != tc.want {
			t.Errorf("DetectSource(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

// A file past the read-ahead goes through the bulk load: its creation
// dates and timeline entries, other addresses and owners are kept the
// same; a select is not guessed from the first rows alone.
func TestImportCSV_CRMExportBulk(t *testing.T) {
	const rows = ImportSampleRows + 500
	var sb strings.Builder
	sb.WriteString("Record ID,First Name,Last Name,Email,Additional email addresses,Lifecycle Stage,Lead Status,Contact owner,Create Date\n")
	for i := range rows {
		fmt.Fprintf(&sb, "%d,Zoë%d,van der Berg,p%d@example.com,p%d@old.example,Lead,%s,%s,2021-03-%02d 09:41\n",
			i, i, i, i, []string{"New", "Open"}[i%2], []string{"Bo Berg", "Nobody"}[i%2], i%28+1)
	}
	db := MustOpenWorkspace(t)
	res := importCSV(t, db, sb.String(), ImportOptions{Owners: testOwners, Unmapped: UnmappedCreate})
	if res.Created != rows || res.Failed != 0 || res.Source != SourceHubSpot || res.OwnersMatched != 1 ||
		!slices.Equal(res.UnmatchedOwners, []UnmatchedOwner{{"Nobody", rows / 2}}) ||
		!slices.Equal(sorted(res.FieldsCreated), []string{"Lead Status (text)", "Other emails (text)", "Record ID (number)"}) {
		t.Fatalf("result %+v", res)
	}
	c := contactByEmail(t, db, fmt.Sprintf("p%d@example.com", rows-1))
	if c.OwnerID != "" || c.Custom["other_emails"] != fmt.Sprintf("p%d@old.example", rows-1) || c.LastName != "van der Berg" ||
		c.CreatedAt.Format("2006-01-02 15:04") != fmt.Sprintf("2021-03-%02d 09:41", (rows-1)%28+1) {
		t.Errorf("last contact %+v", c)
	}
	if n := countRows(t, db, "activities WHERE kind = 'imported'"); n != rows {
		t.Errorf("%d timeline entries, want %d", n, rows)
	}
	if list, _, _ := ListContacts(context.Background(), db, ContactFilter{Query: fmt.Sprintf("Zoë%d", rows-2)}); len(list) != 1 {
		t.Errorf("search finds %d", len(list))
	}
}

// Atrium's own list export imports without a choice for its bookkeeping
// columns (id, company_id, updated_at), which are listed as left out.
func TestImportCSV_AtriumExport(t *testing.T) {
	csv := "id,first_name,last_name,email,company,company_id,owner,stage,tags,created_at,updated_at\n" +
		"0190a,Ana,Silva,ana@example.com,Acme,0190b,,customer,vip,2024-01-02T03:04:05Z,2024-02-02T03:04:05Z\n"
	db := MustOpenWorkspace(t)
	res := importCSV(t, db, csv, ImportOptions{Unmapped: UnmappedRefuse})
	if res.Created != 1 || res.Source != "Atrium" ||
		strings.Join(res.SkippedColumns, ",") != "id (Atrium's own),company_id (Atrium's own),updated_at (Atrium's own)" {
		t.Fatalf("result %+v", res)
	}
	if c := contactByEmail(t, db, "ana@example.com"); c.Company != "Acme" || !c.CreatedAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("contact %+v", c)
	}
	// Only the three together are Atrium's: an "id" alone is a column like others.
	if _, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader("id,email\n7,bo@example.com\n"), ImportOptions{Unmapped: UnmappedRefuse}); ErrorCode(err) != EValidation {
		t.Fatalf("a lone id column: %v", err)
	}
}
