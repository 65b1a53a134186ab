package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// lookupFixture is a workspace whose contacts' emails a file names in
// other letter cases: ASCII, non-ASCII upper- and lower-case, and two
// addresses SQLite's index keeps apart (its lower() folds only ASCII) that
// Go's lower case makes one; the first made is the one rows find.
func lookupFixture(t *testing.T) (db *DB, ids map[string]string) {
	db = MustOpenWorkspace(t)
	ids = map[string]string{}
	for _, e := range []string{"Ana@Example.com", "ÄRZTIN@Klinik.de", "björn@nord.se", "Zoë@x.com", "ZOË@x.com"} {
		ids[e] = mustContact(t, db, ContactInput{FirstName: ptr("Existing"), Email: ptr(e)}).ID
	}
	return db, ids
}

// lookupRows are the rows naming the fixture's contacts.
var lookupRows = []string{"Ana Row,ana@example.COM,Found", "Ärztin Row,ärztin@KLINIK.DE,Found", "Björn Row,BJÖRN@nord.se,Found", "Zoë Row,ZOë@X.com,Found"}

// fillerRows are n rows of new contacts, numbered from offset.
func fillerRows(n, offset int) []string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("Filler%d Person,f%d@example.com,Buyer", offset+i, offset+i)
	}
	return rows
}

func titleOf(t *testing.T, db *DB, id string) string {
	t.Helper()
	var title string
	if err := db.R.Get(&title, `SELECT title FROM contacts WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return title
}

// An import looks the emails of its rows up per chunk of rows through the
// email index, not in a map of the workspace's: existing contacts are
// found in any letter case, in a small import (one transaction) and in a
// batched one, where they are named after the first batch.
func TestImportCSV_FindsExistingByEmailPerChunk(t *testing.T) {
	for _, size := range []struct {
		name   string
		filler int
	}{{"OneTransaction", 10}, {"Batched", importBatchRows + 1000}} {
		t.Run(size.name, func(t *testing.T) {
			db, ids := lookupFixture(t)
			rows := append(fillerRows(size.filler, 0), lookupRows...)
			csv := "name,email,title\n" + strings.Join(rows, "\n") + "\n"
			res := importCSV(t, db, csv, ImportOptions{Update: true})
			if res.Created != size.filler || res.Updated != len(lookupRows) || res.Failed != 0 {
				t.Fatalf("created %d (want %d), updated %d (want %d), failed %d: %+v", res.Created, size.filler, res.Updated, len(lookupRows), res.Failed, res.Errors)
			}
			for _, e := range []string{"Ana@Example.com", "ÄRZTIN@Klinik.de", "björn@nord.se", "Zoë@x.com"} {
				if got := titleOf(t, db, ids[e]); got != "Found" {
					t.Errorf("the contact %s was not updated (title %q)", e, got)
				}
			}
			if got := titleOf(t, db, ids["ZOË@x.com"]); got != "" {
				t.Errorf("the second of two contacts of one lower case was updated, not the first made")
			}
			// Without updates, the same rows are skipped.
			res = importCSV(t, db, "name,email,title\n"+strings.Join(lookupRows, "\n")+"\n", ImportOptions{})
			if res.Created != 0 || res.Skipped != len(lookupRows) {
				t.Fatalf("again without updates: %+v", res)
			}
			var n int
			if err := db.R.Get(&n, `SELECT count(*) FROM contacts`); err != nil || n != size.filler+5 {
				t.Fatalf("%d contacts (%v), want %d", n, err, size.filler+5)
			}
		})
	}
}

// Two rows of one email in other letter cases, the first the last row of
// a batch and the second the first of the next, make one contact: the
// second row updates it, or is skipped.
func TestImportCSV_DuplicateAcrossBatchBoundary(t *testing.T) {
	for _, update := range []bool{false, true} {
		t.Run(fmt.Sprintf("update=%v", update), func(t *testing.T) {
			db := MustOpenWorkspace(t)
			rows := fillerRows(importBatchRows-1, 0)
			rows = append(rows, "First Dup,dup@example.com,First", "Second Dup,DUP@Example.COM,Second")
			rows = append(rows, fillerRows(100, importBatchRows)...)
			if len(rows) <= importBatchRows || !strings.Contains(rows[importBatchRows-1], "First") {
				t.Fatal("the pair does not straddle the batches")
			}
			res := importCSV(t, db, "name,email,title\n"+strings.Join(rows, "\n")+"\n", ImportOptions{Update: update})
			want := ImportResult{Read: len(rows), Created: len(rows) - 1, Skipped: 1}
			if update {
				want.Skipped, want.Updated = 0, 1
			}
			if res.Read != want.Read || res.Created != want.Created || res.Updated != want.Updated || res.Skipped != want.Skipped || res.Failed != 0 {
				t.Fatalf("got %+v, want %+v", res, want)
			}
			var got []string
			if err := db.R.Select(&got, `SELECT email || ' ' || title FROM contacts WHERE lower(email) = 'dup@example.com'`); err != nil {
				t.Fatal(err)
			}
			title := "First"
			if update {
				title = "Second"
			}
			if want := []string{"DUP@Example.COM " + title}; update && !slices.Equal(got, want) {
				t.Fatalf("contacts of the email: %q, want %q", got, want)
			} else if !update && !slices.Equal(got, []string{"dup@example.com First"}) {
				t.Fatalf("contacts of the email: %q, want the first row's", got)
			}
			workspaceState(t, db) // checks the indexes and counters
		})
	}
}

// A file naming existing contacts, imported in batches with updates and
// then failing, leaves the workspace as it was: the contacts looked up per
// chunk are put back from their before-images.
func TestImportCSV_LookedUpContactsUndone(t *testing.T) {
	db, _ := lookupFixture(t)
	before := workspaceState(t, db)
	rows := append(fillerRows(importBatchRows+10, 0), lookupRows...)
	csv := "name,email,title\n" + strings.Join(rows, "\n") + "\n"
	_, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), ImportOptions{Update: true,
		CheckCreated: func(int) error { return Errorf(EQuota, "over quota") }})
	if ErrorCode(err) != EQuota {
		t.Fatalf("the import did not fail on the quota: %v", err)
	}
	if got := workspaceState(t, db); got != before {
		t.Fatalf("a failed import left changes:\n%s", firstDiff(got, before))
	}
}

func TestEmailIndexKeys(t *testing.T) {
	for email, want := range map[string][]string{
		"Ana@Example.COM":  {"ana@example.com"},
		"ÄRZTIN@Klinik.de": {"Ärztin@klinik.de", "ärztin@klinik.de"},
		"ärztin@KLINIK.de": {"ärztin@klinik.de", "Ärztin@klinik.de"},
		"Zoë@x.com":        {"zoë@x.com", "zoË@x.com"},
	} {
		if got := emailIndexKeys(email); !slices.Equal(got, want) {
			t.Errorf("emailIndexKeys(%q) = %q, want %q", email, got, want)
		}
	}
}
