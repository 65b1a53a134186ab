package store

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// A large import commits in batches: a write that waits for it gets in
// between two batches, not after the last.
func TestImportCSV_OtherWritersGetInBetweenBatches(t *testing.T) {
	ctx := context.Background()
	db := importWorkspace(t, false)
	rows := importRows(3*importBatchRows, 0, false)
	var once sync.Once
	written := make(chan error, 1)
	opt := ImportOptions{Progress: func(int) {
		// Called by the import inside its first batch: the write waits.
		once.Do(func() {
			go func() {
				_, err := CreateContact(ctx, db, tester, ContactInput{FirstName: ptr("Between"), Email: ptr("between@example.com")})
				written <- err
			}()
		})
	}}
	res := importCSV(t, db, importHeader+strings.Join(rows, "\n")+"\n", opt)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	var before, after int
	if err := db.R.GetContext(ctx, &before, `SELECT count(*) FROM contacts WHERE seq < (SELECT seq FROM contacts WHERE email = 'between@example.com')`); err != nil {
		t.Fatal(err)
	}
	if after = res.Created - before; before < importBatchRows/2 || after < importBatchRows {
		t.Fatalf("the write came in after %d of the import's contacts, before %d: not between two batches", before, after)
	}
	if n, err := CountContacts(ctx, db, ContactFilter{}); err != nil || n != res.Created+1 {
		t.Fatalf("counter says %d contacts (%v), want %d", n, err, res.Created+1)
	}
	if got := searchCount(t, db, "between"); got != 1 {
		t.Fatalf("the contact written between batches is found %d times", got)
	}
	workspaceState(t, db) // checks the indexes' and the file's integrity
	if left, err := HasImportUndo(ctx, db); err != nil || left {
		t.Fatalf("an undo log is left after a finished import (%v)", err)
	}
}

func searchCount(t *testing.T, db *DB, q string) int {
	t.Helper()
	n, err := CountContacts(context.Background(), db, ContactFilter{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// undoFixture is a workspace holding contacts, tags, companies and fields
// that a large import in update mode then changes, adds to and makes a
// custom field for: the import's CSV, and the workspace as it was before.
func undoFixture(t *testing.T) (db *DB, csv string, before string) {
	t.Helper()
	db = importWorkspace(t, true)
	importCSV(t, db, importHeader+strings.Join(importRows(1000, 0, false), "\n")+"\n", ImportOptions{})
	// Renames the first thousand, and adds the rest, with a column that
	// becomes a new custom field.
	rows := append(importRows(1000, 0, true), importRows(3*importBatchRows, 1000, false)...)
	for i := range rows {
		rows[i] += ",size " + strconv.Itoa(36+i%12)
	}
	csv = strings.TrimSuffix(importHeader, "\n") + ",Shoe Size\n" + strings.Join(rows, "\n") + "\n"
	return db, csv, undoState(t, db)
}

// undoState is workspaceState with what else an import writes: timelines,
// the audit log and field definitions.
func undoState(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(workspaceState(t, db))
	for _, q := range []string{
		`SELECT count(*) || ' activities' FROM activities`,
		`SELECT count(*) || ' audit entries' FROM audit_log`,
		`SELECT group_concat(key || ':' || label, ',') FROM custom_fields`,
		`SELECT group_concat(c.id || '=' || c.updated_at || '/' || c.version, ',') FROM contacts c`,
	} {
		var s string
		if err := db.R.GetContext(context.Background(), &s, q); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

// A large import that fails after some of its batches committed is undone
// whole: the contacts it updated are as they were, what it added is gone,
// and the indexes and counters agree.
func TestImportCSV_FailureUndoesCommittedBatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(db *DB, csv string) error
	}{
		{"ReadError", func(db *DB, csv string) error {
			broken := io.MultiReader(strings.NewReader(csv[:len(csv)*3/4]), iotest.ErrReader(errors.New("disk on fire")))
			_, err := ImportContactsCSV(context.Background(), db, tester, broken, ImportOptions{Update: true, Unmapped: UnmappedCreate})
			return err
		}},
		{"Cancelled", func(db *DB, csv string) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(csv), ImportOptions{Update: true, Unmapped: UnmappedCreate,
				Progress: func(row int) {
					if row > 2*importBatchRows+100 {
						cancel()
					}
				}})
			return err
		}},
		{"QuotaAtTheEnd", func(db *DB, csv string) error {
			_, err := ImportContactsCSV(context.Background(), db, tester, strings.NewReader(csv), ImportOptions{Update: true, Unmapped: UnmappedCreate,
				CheckCreated: func(n int) error { return Errorf(EForbidden, "Only 10 more contacts fit.") }})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, csv, before := undoFixture(t)
			if err := tc.run(db, csv); err == nil {
				t.Fatal("the import did not fail")
			}
			if got := undoState(t, db); got != before {
				t.Fatalf("a failed import left changes:\n%s", firstDiff(got, before))
			}
			if left, err := HasImportUndo(context.Background(), db); err != nil || left {
				t.Fatalf("an undo log is left (%v)", err)
			}
		})
	}
}

// A crash in the middle of a large import leaves its committed batches and
// their undo log in the file; UndoImports, which tenant runs when it opens
// such a file, takes them out.
func TestUndoImports_AfterACrash(t *testing.T) {
	ctx := context.Background()
	db, csv, before := undoFixture(t)
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	var once sync.Once
	_, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(csv), ImportOptions{Update: true, Unmapped: UnmappedCreate,
		Progress: func(row int) {
			if row > importBatchRows+100 { // in the second batch: the first is committed
				once.Do(func() {
					if err := db.snapshotTo(ctx, crashed); err != nil {
						t.Error(err)
					}
				})
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cdb, err := Open(crashed, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	if left, err := HasImportUndo(ctx, cdb); err != nil || !left {
		t.Fatalf("the file as the crash left it has no undo log (%v)", err)
	}
	if undoState(t, cdb) == before {
		t.Fatal("the file as the crash left it holds nothing of the import")
	}
	if err := UndoImports(ctx, cdb, ""); err != nil {
		t.Fatal(err)
	}
	if got := undoState(t, cdb); got != before {
		t.Fatalf("the undo left changes:\n%s", firstDiff(got, before))
	}
}

// An import calls its Pace hook after every chunk of rows it writes, in
// the writing goroutine (the caller's, which holds the transaction), and
// every row is read.
func TestImportCSV_PacesAfterEachChunk(t *testing.T) {
	db := importWorkspace(t, false)
	rows := importRows(bulkThreshold+5*contactBatch, 0, false)
	paces := 0
	res := importCSV(t, db, importHeader+strings.Join(rows, "\n")+"\n", ImportOptions{Pace: func() { paces++ }})
	if res.Read != len(rows) || res.Created == 0 {
		t.Fatalf("read %d of %d rows, created %d", res.Read, len(rows), res.Created)
	}
	if want := len(rows) / contactBatch; paces < want {
		t.Fatalf("paced %d times for %d rows, want at least %d (one per %d rows)", paces, len(rows), want, contactBatch)
	}
}
