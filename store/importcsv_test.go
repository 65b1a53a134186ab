package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func importCSV(t *testing.T, db *DB, csv string, opt ImportOptions) *ImportResult {
	t.Helper()
	res, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestImportCSV_EdgeCases(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Budget", Type: "number"})
	mustContact(t, db, ContactInput{FirstName: ptr("Existing"), Email: ptr("taken@example.com")})
	csv := "\ufeffFirst Name;Last Name;E-mail;Company;Tags;Budget;Notes column\n" +
		"Ana;Silva;ana@example.com;Acme;vip,event;1200.5;ignored\n" +
		"\"Bo\nBo\";Berg;bo@example.com;ACME;;;\n" +
		"Carla;;not-an-email;;;;\n" +
		";;;;;;\n" +
		"Dan;;TAKEN@example.com;;;;\n" +
		"Eve;;eve@example.com;;;lots;\n" +
		"Ana again;;ANA@example.com;;;;\n"
	res := importCSV(t, db, csv, ImportOptions{})
	// Each row is counted once: a duplicate is skipped, a refused row
	// failed (it was counted as both once), and they add up to the rows.
	if res.Read != 7 || res.Created != 2 || res.Skipped != 2 || res.Failed != 3 || res.Updated != 0 ||
		res.Created+res.Updated+res.Skipped+res.Failed != res.Read {
		t.Fatalf("result %+v", res)
	}
	var rows []string
	for _, e := range res.Errors {
		rows = append(rows, fmt.Sprint(e.Row))
	}
	if strings.Join(rows, ",") != "3,4,6" || strings.Join(res.Errors[0].Values, ";") != "Carla;;not-an-email;;;;" {
		t.Fatalf("errors %+v", res.Errors)
	}
	if !strings.Contains(res.Errors[0].Message, "not a valid email") || !strings.Contains(res.Errors[2].Message, "Budget must be a number") {
		t.Fatalf("messages %+v", res.Errors)
	}
	list, _, _ := ListContacts(ctx, db, ContactFilter{Query: "ana"})
	if len(list) != 1 || list[0].Company != "Acme" || strings.Join(list[0].Tags, ",") != "event,vip" || list[0].Custom["budget"] != 1200.5 {
		t.Fatalf("Ana: %+v", list)
	}
	bo, _, _ := ListContacts(ctx, db, ContactFilter{Query: "berg"})
	if len(bo) != 1 || bo[0].FirstName != "Bo\nBo" || bo[0].CompanyID != list[0].CompanyID {
		t.Fatalf("Bo: %+v", bo)
	}
	res = importCSV(t, db, "email,title,stage\ntaken@example.com,CEO,Customer\nnew@example.com,CTO,lead\n", ImportOptions{Update: true})
	if res.Updated != 1 || res.Created != 1 {
		t.Fatalf("update run: %+v", res)
	}
	got, _, _ := ListContacts(ctx, db, ContactFilter{Query: "taken"})
	if got[0].Title != "CEO" || got[0].Stage != "customer" || got[0].FirstName != "Existing" {
		t.Fatalf("updated contact %+v", got[0])
	}
	if _, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(""), ImportOptions{}); ErrorCode(err) != EInvalid {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := ImportContactsCSV(ctx, db, tester, strings.NewReader("a,b\n1,2\n"), ImportOptions{Mapping: []string{"email", "password"}}); ErrorCode(err) != EInvalid {
		t.Fatalf("bad mapping: %v", err)
	}
}

func TestImportCSV_BulkKeepsSchemaAndIndex(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	schema := func() string {
		var sqls []string
		db.R.Select(&sqls, `SELECT coalesce(sql, name) FROM sqlite_schema ORDER BY name`)
		return strings.Join(sqls, "\n")
	}
	before := schema()
	var b strings.Builder
	b.WriteString("first_name,last_name,email,company\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "Person%d,Family%d,p%d@example.com,Co%d\n", i, i%50, i, i%20)
	}
	res := importCSV(t, db, b.String(), ImportOptions{})
	if res.Created != 5000 {
		t.Fatalf("%+v", res.Errors[:min(3, len(res.Errors))])
	}
	if schema() != before {
		t.Fatal("the schema differs after a bulk import")
	}
	if rs, _ := Search(ctx, db, "person4999", 5); len(rs) != 1 {
		t.Fatal("the rebuilt index does not find an imported contact")
	}
	if rs, _ := Search(ctx, db, "co19", 5); len(rs) != 1 || rs[0].Kind != "company" {
		t.Fatalf("the company index: %+v", rs)
	}
	if n, _ := CountContacts(ctx, db, ContactFilter{}); n != 5000 {
		t.Fatalf("counter says %d", n)
	}
	mustContact(t, db, ContactInput{FirstName: ptr("Afterwards")})
	if rs, _ := Search(ctx, db, "afterwards", 5); len(rs) != 1 {
		t.Fatal("the triggers do not index new contacts after the import")
	}
}

func BenchmarkImportCSV(b *testing.B) {
	const rows = 100_000
	var sb strings.Builder
	sb.WriteString("first_name,last_name,email,phone,title,company,tags\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&sb, "Person%d,Family%d,person%d@example.com,+1 555 %07d,Buyer,Company %d,\n", i, i%500, i, i, i%1000)
	}
	csv := sb.String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := MustOpenWorkspace(b)
		b.StartTimer()
		res, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), ImportOptions{})
		if err != nil || res.Created != rows {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "contacts/s")
}

// importRows makes CSV data rows that exercise what an import handles: full
// names to split, diacritics, quoted newlines, emails repeated in another
// letter case, invalid emails, stages, tags, custom fields and companies
// new and existing in another letter case.
func importRows(n, offset int, renamed bool) []string {
	first := []string{"Zoë", "Ana", "José", "Björn", "Li", "Ngozi"}
	rows := make([]string, 0, n)
	for i := offset; i < offset+n; i++ {
		name := fmt.Sprintf("%s Person%d", first[i%len(first)], i)
		if renamed {
			name = fmt.Sprintf("Renamed%d Changed", i)
		}
		email := fmt.Sprintf("p%d@example.com", i)
		switch {
		case i%97 == 0:
			email = "not-an-email"
		case i%89 == 0 && i > offset:
			email = fmt.Sprintf("P%d@EXAMPLE.com", i-1) // the previous row's email
		}
		title := "Buyer"
		if i%13 == 0 {
			title = "\"Head of\nSales\""
		}
		company := fmt.Sprintf("Company %d", i%37)
		switch i % 5 {
		case 0:
			company = ""
		case 1:
			company = "ACME corp"
		}
		tags := ""
		if i%3 == 0 {
			tags = fmt.Sprintf("\"vip,t%d\"", i%7)
		}
		rows = append(rows, fmt.Sprintf("%s,%s,+1 555 %04d,%s,%s,%s,%s,%d.5,Region %d",
			name, email, i, title, company, []string{"lead", "Customer", "qualified"}[i%3], tags, i, i%4))
	}
	return rows
}

const importHeader = "Full Name,Email,Phone,Job Title,Company,Status,Tags,Budget,Region\n"

// importChunks imports rows in one bulk import, or in imports small enough
// to take the row-by-row path.
func importChunks(t *testing.T, db *DB, rows []string, chunk int, opt ImportOptions) (created, updated, skipped int) {
	t.Helper()
	for len(rows) > 0 {
		n := min(chunk, len(rows))
		res := importCSV(t, db, importHeader+strings.Join(rows[:n], "\n")+"\n", opt)
		created, updated, skipped = created+res.Created, updated+res.Updated, skipped+res.Skipped
		rows = rows[n:]
	}
	return created, updated, skipped
}

// workspaceState dumps what an import leaves behind: contacts with their
// company, tags and custom fields, companies, tags, counters, and every
// term of both search indexes with where it occurs.
func workspaceState(t *testing.T, db *DB) string {
	t.Helper()
	ctx := context.Background()
	if _, err := db.W.ExecContext(ctx, `INSERT INTO contacts_fts (contacts_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("contacts index: %v", err)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO companies_fts (companies_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("companies index: %v", err)
	}
	// Through the writer: a long-lived reader that has read the index
	// before can report FTS5 corruption that a fresh connection does not.
	var check []string
	if err := db.W.SelectContext(ctx, &check, `PRAGMA integrity_check`); err != nil || strings.Join(check, ",") != "ok" {
		t.Fatalf("integrity check: %v %v", check, err)
	}
	var b strings.Builder
	dump := func(query string) {
		rows, err := db.W.QueryxContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			cols, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, cols...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	dump(`SELECT c.seq, c.first_name, c.last_name, c.email, c.phone, c.title, co.name, c.owner_id, c.stage, c.custom,
		(SELECT group_concat(t.name, '|') FROM (SELECT t.name FROM contact_tags l JOIN tags t ON t.seq = l.tag_seq
			WHERE l.contact_id = c.id ORDER BY t.name) t)
		FROM contacts c LEFT JOIN companies co ON co.id = c.company_id ORDER BY c.seq`)
	dump(`SELECT seq, name, domain, industry FROM companies ORDER BY seq`)
	dump(`SELECT seq, name FROM tags ORDER BY seq`)
	dump(`SELECT name, n, (SELECT count(*) FROM contacts), (SELECT count(*) FROM companies) FROM counters ORDER BY name`)
	dump(`PRAGMA foreign_key_check`)
	for _, table := range []string{"contacts_fts", "companies_fts"} {
		if _, err := db.W.ExecContext(ctx, `CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, `+table+`, 'instance')`); err != nil {
			t.Fatal(err)
		}
		dump(`SELECT term, doc, col, offset FROM temp.vocab ORDER BY term, doc, col, offset`)
		if _, err := db.W.ExecContext(ctx, `DROP TABLE temp.vocab`); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// importWorkspace is a workspace with custom fields and, if seeded, a
// company and a contact, made the same way each time.
func importWorkspace(t *testing.T, seeded bool) *DB {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	for _, f := range []NewCustomField{{Entity: "contact", Label: "Budget", Type: "number"}, {Entity: "contact", Label: "Region", Type: "text"}} {
		if _, err := CreateCustomField(ctx, db, tester, f); err != nil {
			t.Fatal(err)
		}
	}
	if !seeded {
		return db
	}
	if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr("Acme Corp")}); err != nil {
		t.Fatal(err)
	}
	mustContact(t, db, ContactInput{FirstName: ptr("Existing"), Email: ptr("p5@example.com"), Tags: &[]string{"old"}})
	return db
}

func TestImportCSV_BulkMatchesRowByRow(t *testing.T) {
	t.Run("IntoEmpty", func(t *testing.T) {
		bulk, small := importWorkspace(t, false), importWorkspace(t, false)
		rows := importRows(importBatchRows+bulkThreshold, 0, false) // two batches
		c1, u1, s1 := importChunks(t, bulk, rows, len(rows), ImportOptions{})
		c2, u2, s2 := importChunks(t, small, rows, bulkThreshold-1, ImportOptions{})
		if c1 != c2 || u1 != u2 || s1 != s2 || c1 < bulkThreshold || s1 == 0 {
			t.Fatalf("bulk created, updated, skipped %d, %d, %d; row by row %d, %d, %d", c1, u1, s1, c2, u2, s2)
		}
		if got, want := workspaceState(t, bulk), workspaceState(t, small); got != want {
			t.Fatalf("a bulk import leaves another state than importing row by row:\n%s", firstDiff(got, want))
		}
	})
	t.Run("IntoExisting", testImportIntoExisting)
}

func testImportIntoExisting(t *testing.T) {
	bulk, small := importWorkspace(t, true), importWorkspace(t, true)
	rows := importRows(bulkThreshold+300, 0, false)
	c1, u1, s1 := importChunks(t, bulk, rows, len(rows), ImportOptions{})
	c2, u2, s2 := importChunks(t, small, rows, bulkThreshold-1, ImportOptions{})
	if c1 != c2 || u1 != u2 || s1 != s2 || c1 < bulkThreshold || s1 == 0 {
		t.Fatalf("bulk created, updated, skipped %d, %d, %d; row by row %d, %d, %d", c1, u1, s1, c2, u2, s2)
	}
	if got, want := workspaceState(t, bulk), workspaceState(t, small); got != want {
		t.Fatalf("a bulk import leaves another state than importing row by row:\n%s", firstDiff(got, want))
	}

	// Update mode: renames contacts made before (their old words must leave
	// the index), adds new ones, and updates a contact made earlier in the
	// same file.
	rows = append(importRows(600, 1000, true), importRows(bulkThreshold-600, 2000, false)...)
	rows = append(rows, "Same Again,p3000@example.com,,,,,,,", "Same Again Twice,P3000@example.com,,CEO,,,,,")
	c1, u1, s1 = importChunks(t, bulk, rows, len(rows), ImportOptions{Update: true})
	c2, u2, s2 = importChunks(t, small, rows, bulkThreshold-1, ImportOptions{Update: true})
	if c1 != c2 || u1 != u2 || s1 != s2 || u1 < 600 {
		t.Fatalf("update: bulk created, updated, skipped %d, %d, %d; row by row %d, %d, %d", c1, u1, s1, c2, u2, s2)
	}
	if got, want := workspaceState(t, bulk), workspaceState(t, small); got != want {
		t.Fatalf("a bulk update leaves another state than updating row by row:\n%s", firstDiff(got, want))
	}
	if rs, _ := Search(context.Background(), bulk, "renamed1500", 5); len(rs) != 1 {
		t.Fatalf("search for an updated contact: %+v", rs)
	}
	if rs, _ := Search(context.Background(), bulk, "person1500", 5); len(rs) != 0 {
		t.Fatalf("the old name of an updated contact is still found: %+v", rs)
	}
}

// firstDiff shows the first line where two dumps differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

func TestImportCSV_NonASCIICase(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	csv := "name,email,company,tags\nÖrjan Berg,Örjan@example.com,Ärzte AG,Übung\n"
	if res := importCSV(t, db, csv, ImportOptions{}); res.Created != 1 {
		t.Fatalf("first import: %+v", res)
	}
	// The same file again: the contact, its company and its tag are found,
	// not inserted again (which failed on the unique indexes).
	res := importCSV(t, db, strings.ReplaceAll(csv, "Berg", "Lind"), ImportOptions{Update: true})
	if res.Created != 0 || res.Updated != 1 || len(res.Errors) != 0 {
		t.Fatalf("second import: %+v", res)
	}
	var companies, tags int
	db.R.Get(&companies, `SELECT count(*) FROM companies`)
	db.R.Get(&tags, `SELECT count(*) FROM tags`)
	if companies != 1 || tags != 1 {
		t.Fatalf("%d companies, %d tags; want one of each", companies, tags)
	}
	if rs, _ := Search(ctx, db, "lind", 5); len(rs) != 1 {
		t.Fatalf("the updated contact is not found: %+v", rs)
	}
}

// A company first named by a row that updates a contact, then by a new
// row, is one company.
func TestImportCSV_NewCompanyOnAnUpdateRow(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	importCSV(t, db, "name,email\nAda Lovelace,ada@example.com\n", ImportOptions{})
	csv := "name,email,company\nAda Lovelace,ada@example.com,Initech\nBob Slydell,bob@example.com,initech\n"
	if res := importCSV(t, db, csv, ImportOptions{Update: true}); res.Created != 1 || res.Updated != 1 || len(res.Errors) != 0 {
		t.Fatalf("import: %+v", res)
	}
	var ids []string
	db.R.Select(&ids, `SELECT id FROM companies`)
	if len(ids) != 1 {
		t.Fatalf("%d companies, want 1", len(ids))
	}
	var linked int
	db.R.Get(&linked, `SELECT count(*) FROM contacts WHERE company_id = ?`, ids[0])
	if linked != 2 {
		t.Fatalf("%d contacts at the company, want 2", linked)
	}
	if rs, _ := Search(ctx, db, "initech", 5); len(rs) == 0 {
		t.Fatal("the company is not in the search index")
	}
}

func TestImportCSV_BulkStops(t *testing.T) {
	schema := func(db *DB) string {
		var sqls []string
		db.W.Select(&sqls, `SELECT coalesce(sql, name) FROM sqlite_schema ORDER BY name`)
		return strings.Join(sqls, "\n")
	}
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 2*5000 + 1 {
		fmt.Fprintf(&b, "p%d@example.com\n", i)
	}
	t.Run("Canceled", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		before := schema(db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancelled at the first progress report, seen at the next one.
		_, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(b.String()), ImportOptions{Progress: func(int) { cancel() }})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if n, _ := CountContacts(context.Background(), db, ContactFilter{}); n != 0 || schema(db) != before {
			t.Fatalf("%d contacts after a cancelled import; schema unchanged: %v", n, schema(db) == before)
		}
	})
	t.Run("ReadError", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		broken := io.MultiReader(strings.NewReader(b.String()[:b.Len()/2]), iotest.ErrReader(errors.New("disk on fire")))
		if _, err := ImportContactsCSV(context.Background(), db, tester, broken, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("got %v, want the read error", err)
		}
		if n, _ := CountContacts(context.Background(), db, ContactFilter{}); n != 0 {
			t.Fatalf("%d contacts after a failed import", n)
		}
	})
}

func TestImportFields_Indexes(t *testing.T) {
	want := [fieldCount]string{fieldFirstName: "first_name", fieldLastName: "last_name", fieldName: "name", fieldEmail: "email",
		fieldPhone: "phone", fieldTitle: "title", fieldCompany: "company", fieldStage: "stage", fieldTags: "tags", fieldOwner: "owner",
		fieldCreatedAt: "created_at"}
	if !slices.Equal(ImportFields, want[:]) {
		t.Fatalf("ImportFields %v, field indexes name %v", ImportFields, want)
	}
}

func TestReadCSVHeader_Limits(t *testing.T) {
	cols := func(n int) string { return strings.TrimSuffix(strings.Repeat("c,", n), ",") }
	for name, tc := range map[string]struct{ csv, want string }{
		"OK":                {cols(MaxCSVColumns) + "\r\n1\n", ""},
		"OKBOMAndSemicolon": {"\ufeff" + strings.ReplaceAll(cols(MaxCSVColumns), ",", ";") + "\n", ""},
		"ErrLongLine":       {strings.Repeat("a,", 500_000) + "a\n1\n", "64 KiB"},
		"ErrLongLineNoEOL":  {strings.Repeat("a", MaxCSVHeaderBytes+1), "64 KiB"},
		"ErrQuotedNewlines": {strings.Repeat("\"a\n\",", 20_000) + "a\n", "64 KiB"},
		"ErrColumns":        {cols(MaxCSVColumns+1) + "\n", "at most 200 columns"},
		"ErrColumnName":     {"a," + strings.Repeat("x", MaxCSVColumnName+1) + "\n", "column 2"},
		"ErrEmpty":          {"", "no header row"},
	} {
		t.Run(name, func(t *testing.T) {
			cr, err := NewCSVReader(strings.NewReader(tc.csv))
			var header []string
			if err == nil {
				header, err = ReadCSVHeader(cr)
			}
			if tc.want == "" {
				if err != nil || len(header) != MaxCSVColumns {
					t.Fatalf("got %d columns, %v, want %d", len(header), err, MaxCSVColumns)
				}
				return
			}
			if got := ErrorMessage(err); ErrorCode(err) != EInvalid || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q (%s), want an invalid error naming %q", got, ErrorCode(err), tc.want)
			}
		})
	}
}

// Progress moves for a file of a few hundred rows, not only every 5,000.
func TestImportCSV_ProgressMoves(t *testing.T) {
	db := MustOpenWorkspace(t)
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 350 {
		fmt.Fprintf(&b, "p%d@example.com\n", i)
	}
	var seen []int
	res := importCSV(t, db, b.String(), ImportOptions{Progress: func(rows int) { seen = append(seen, rows) }})
	if res.Created != 350 || len(seen) == 0 || seen[0] >= 350 {
		t.Fatalf("created %d, progress reports %v", res.Created, seen)
	}
}

// A file that is not UTF-8 is refused whole, naming its first such line,
// unless its encoding is named: then it is converted. Named UTF-8, it is
// read as it is, and its rows that are not UTF-8 are refused one by one.
func TestImportCSV_Encoding(t *testing.T) {
	ctx := context.Background()
	// Windows-1252: é is E9, ñ F1, ’ 92, € 80. Line 3 is the first that
	// is not UTF-8 (the quoted cell on line 2 is two lines long).
	csv := "first_name,last_name,email,title\n\"Ana\nMaria\",Silva,ana@example.com,x\nJos\xe9,Nu\xf1ez,jose@example.com,O\x92Brien \x80\nL\xe9a,,lea@example.com,\n"
	t.Run("ErrNotUTF8", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		_, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(csv), ImportOptions{})
		if ErrorCode(err) != EInvalid || !strings.Contains(ErrorMessage(err), "Line 4 is not UTF-8") || !strings.Contains(ErrorMessage(err), "windows-1252") {
			t.Fatalf("got %v, want a refusal naming line 4", err)
		}
		if n, _ := CountContacts(ctx, db, ContactFilter{}); n != 0 {
			t.Fatalf("%d contacts imported from a refused file", n)
		}
		if _, err := ImportContactsCSV(ctx, db, tester, strings.NewReader("Pr\xe9nom,email\nAna,a@example.com\n"), ImportOptions{}); !strings.Contains(ErrorMessage(err), "Line 1 ") {
			t.Fatalf("a header not UTF-8: got %v", err)
		}
	})
	t.Run("ErrNotUTF8Bulk", func(t *testing.T) {
		// Past the rows read ahead, where a bulk import streams them.
		db := MustOpenWorkspace(t)
		var b strings.Builder
		b.WriteString("first_name,email\n")
		for i := range bulkThreshold + 500 {
			name := "Ana"
			if i == bulkThreshold+300 {
				name = "L\xe9a"
			}
			fmt.Fprintf(&b, "%s,p%d@example.com\n", name, i)
		}
		_, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(b.String()), ImportOptions{})
		if want := fmt.Sprintf("Line %d is not UTF-8", bulkThreshold+302); !strings.Contains(ErrorMessage(err), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
		if n, _ := CountContacts(ctx, db, ContactFilter{}); n != 0 {
			t.Fatalf("%d contacts imported from a refused file", n)
		}
	})
	t.Run("ErrUnknownEncoding", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		if _, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(csv), ImportOptions{Encoding: "ebcdic"}); ErrorCode(err) != EInvalid {
			t.Fatalf("got %v", err)
		}
	})
	for _, tc := range []struct{ enc, title string }{
		{EncodingWindows1252, "O’Brien €"},
		{"ISO-8859-1", ""}, // C1 controls in Latin-1: that row's title is refused
	} {
		t.Run(tc.enc, func(t *testing.T) {
			db := MustOpenWorkspace(t)
			res := importCSV(t, db, csv, ImportOptions{Encoding: tc.enc})
			list, _, _ := ListContacts(ctx, db, ContactFilter{Query: "jose"})
			lea, _, _ := ListContacts(ctx, db, ContactFilter{Query: "lea"})
			if len(lea) != 1 || lea[0].FirstName != "Léa" {
				t.Fatalf("Léa: %+v (%+v)", lea, res)
			}
			if tc.title == "" {
				if len(list) != 0 || res.Failed != 1 || !strings.Contains(res.Errors[0].Message, "control characters") {
					t.Fatalf("got %+v, %+v", list, res)
				}
				return
			}
			if len(list) != 1 || list[0].FirstName != "José" || list[0].LastName != "Nuñez" || list[0].Title != tc.title || res.Created != 3 {
				t.Fatalf("got %+v, %+v", list, res)
			}
		})
	}
	t.Run("UTF8AsIs", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		res := importCSV(t, db, csv, ImportOptions{Encoding: EncodingUTF8})
		if res.Created != 1 || res.Failed != 2 || res.Errors[0].Row != 2 || !strings.Contains(res.Errors[0].Message, "not valid UTF-8") {
			t.Fatalf("got %+v", res)
		}
	})
}

// An owner column takes a member's email, in any letter case, name or
// user id; a row naming anyone else is imported without an owner, and the
// owner is listed with its rows, not guessed.
func TestImportCSV_Owner(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	mustContact(t, db, ContactInput{FirstName: ptr("Old"), Email: ptr("old@example.com")})
	owners := map[string]string{"u1": "u1", "ana@example.com": "u1", "ana silva": "u1", "u2": "u2", "bo@example.com": "u2"}
	csv := "name,email,owner\nCy One,cy@example.com,Ana@Example.com\nDi Two,di@example.com,u2\nEd Three,ed@example.com,eve@example.com\n" +
		"Fay Four,fay@example.com,\nOld,old@example.com,bo@example.com\nGus Five,gus@example.com,ANA SILVA\nHal Six,hal@example.com,eve@example.com\n" +
		"Ida Seven,ida@example.com,Ana Silva (ana@example.com)\nJo Eight,jo@example.com,Ana\n"
	res := importCSV(t, db, csv, ImportOptions{Owners: owners, Update: true})
	if res.Read != 9 || res.Created != 8 || res.Updated != 1 || res.Failed != 0 || res.OwnersMatched != 2 ||
		!slices.Equal(res.UnmatchedOwners, []UnmatchedOwner{{"eve@example.com", 2}, {"Ana", 1}}) {
		t.Fatalf("got %+v", res)
	}
	want := map[string]string{"cy@example.com": "u1", "di@example.com": "u2", "ed@example.com": "", "fay@example.com": "", "old@example.com": "u2",
		"gus@example.com": "u1", "hal@example.com": "", "ida@example.com": "u1", "jo@example.com": ""}
	list, _, _ := ListContacts(ctx, db, ContactFilter{})
	for _, c := range list {
		if c.OwnerID != want[c.Email] {
			t.Errorf("%s is owned by %q, want %q", c.Email, c.OwnerID, want[c.Email])
		}
	}
	if len(list) != len(want) {
		t.Fatalf("%d contacts", len(list))
	}
	// Without members given, every owner is unmatched.
	res = importCSV(t, MustOpenWorkspace(t), csv, ImportOptions{})
	if res.Created != 9 || res.OwnersMatched != 0 || len(res.UnmatchedOwners) != 7 {
		t.Fatalf("no members: %+v", res)
	}
}

func TestSuggestMapping_Export(t *testing.T) {
	header := []string{"id", "first_name", "email", "owner", "custom.tier", "owner_id"}
	got := SuggestMapping(header, []CustomField{{Key: "tier", Label: "Customer tier"}})
	if want := []string{"", "first_name", "email", "owner", "custom.tier", ""}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
