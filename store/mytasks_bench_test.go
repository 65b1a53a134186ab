package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// BenchmarkMyTasks reads one user's open tasks and counts in a workspace
// of 20,000 tasks among 10 people, as My tasks and the switcher do for
// each workspace.
func BenchmarkMyTasks(b *testing.B) {
	ctx := context.Background()
	db := MustOpenWorkspace(b)
	c := mustContact(b, db, ContactInput{FirstName: ptr("Ana")})
	now := time.Now().UTC()
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		for i := range 20000 {
			due := now.AddDate(0, 0, i%60-30).Format("2006-01-02")
			if i%7 == 0 {
				due = ""
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO tasks (id, contact_id, title, due_date, assignee_id, done, created_by, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, newID(), c.ID, fmt.Sprint("task ", i), due, fmt.Sprint("u", i%10), i%3 == 0, "user:u0", now, now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	today := Today()
	b.Run("List", func(b *testing.B) {
		for b.Loop() {
			if got, err := ListMyTasks(ctx, db, "u3", 50); err != nil || len(got) != 50 {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("Count", func(b *testing.B) {
		for b.Loop() {
			if _, err := CountMyTasks(ctx, db, "u3", today); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkImportCSV_FileName is BenchmarkImportCSV with and without the
// file's name, which puts "Imported from" on each new contact's timeline:
// what that costs a 100,000-row import.
func BenchmarkImportCSV_FileName(b *testing.B) {
	const rows = 100_000
	var sb strings.Builder
	sb.WriteString("first_name,last_name,email,phone,title,company,tags\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&sb, "Person%d,Family%d,person%d@example.com,+1 555 %07d,Buyer,Company %d,\n", i, i%500, i, i, i%1000)
	}
	csv := sb.String()
	for _, name := range []string{"", "people.csv"} {
		b.Run("file="+name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := MustOpenWorkspace(b)
				b.StartTimer()
				res, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), ImportOptions{FileName: name})
				if err != nil || res.Created != rows {
					b.Fatalf("%v %+v", err, res)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "contacts/s")
		})
	}
}
