package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
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
	if res.Created != 2 || res.Skipped != 5 || res.Updated != 0 {
		t.Fatalf("result %+v", res)
	}
	var rows []string
	for _, e := range res.Errors {
		rows = append(rows, fmt.Sprint(e.Row))
	}
	if strings.Join(rows, ",") != "3,4,6" {
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
