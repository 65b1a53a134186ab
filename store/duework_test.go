package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// mustOpenCatalogFile opens a fresh, migrated catalog file.
func mustOpenCatalogFile(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "catalog.db"), OpenOptions{Create: true, Transient: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, _, err := Migrate(context.Background(), db, CatalogSchema); err != nil {
		tb.Fatal(err)
	}
	return db
}

// seedDueWork adds n active workspaces, due of which have retention work
// due an hour ago and the rest a day from now, plus a trashed workspace
// with work due.
func seedDueWork(tb testing.TB, db *DB, n, due int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		for i := range n {
			w := &Workspace{ID: fmt.Sprintf("w%05d", i), Name: "W", Region: "default", State: StateActive, CreatedAt: now}
			if err := InsertWorkspace(ctx, tx, w); err != nil {
				return err
			}
			at := now.Add(24 * time.Hour)
			if i%(n/due) == 0 {
				at = now.Add(-time.Hour)
			}
			if err := SetDue(ctx, tx, w.ID, DueRetention, at); err != nil {
				return err
			}
		}
		trashed := &Workspace{ID: "trashed", Name: "T", Region: "default", State: StateTrashed, CreatedAt: now}
		if err := InsertWorkspace(ctx, tx, trashed); err != nil {
			return err
		}
		return SetDue(ctx, tx, trashed.ID, DueRetention, now.Add(-time.Hour))
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func TestDueWork(t *testing.T) {
	ctx := context.Background()
	db := mustOpenCatalogFile(t)
	now := time.Now()
	seedDueWork(t, db, 1000, 10, now)
	due, err := DueWork(ctx, db.R, now, 100)
	if err != nil || len(due) != 10 {
		t.Fatalf("%d due, %v", len(due), err)
	}
	for _, d := range due {
		if d.WorkspaceID == "trashed" || d.Kind != DueRetention || d.DueAt.After(now) {
			t.Fatalf("%+v", d)
		}
	}
	if due, _ := DueWork(ctx, db.R, now, 3); len(due) != 3 {
		t.Fatalf("the limit gave %d", len(due))
	}
	// Setting it again moves it; clearing removes it; a deleted workspace
	// takes its work with it.
	if err := SetDue(ctx, db.W, due[0].WorkspaceID, DueRetention, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ClearDue(ctx, db.W, due[1].WorkspaceID, DueRetention); err != nil {
		t.Fatal(err)
	}
	if err := MarkWorkspaceDeleted(ctx, db.W, due[2].WorkspaceID, "test", now); err != nil {
		t.Fatal(err)
	}
	if after, _ := DueWork(ctx, db.R, now, 100); len(after) != 7 {
		t.Fatalf("%d due after moving, clearing and deleting", len(after))
	}
	// After a catalog restore, every live workspace is looked at once.
	if err := SetDueForAll(ctx, db.W, DueRetention, now); err != nil {
		t.Fatal(err)
	}
	if after, _ := DueWork(ctx, db.R, now, 2000); len(after) != 999 {
		t.Fatalf("%d due after the rebuild", len(after))
	}
}

// BenchmarkDueWork finds the 100 due workspaces among 10,000 in the catalog
// alone. The reference is a point lookup of one workspace row in the same
// file: the ratio says what the index costs on any machine.
func BenchmarkDueWork(b *testing.B) {
	ctx := context.Background()
	db := mustOpenCatalogFile(b)
	now := time.Now()
	seedDueWork(b, db, 10_000, 100, now)
	b.Run("due-100-of-10000", func(b *testing.B) {
		for b.Loop() {
			due, err := DueWork(ctx, db.R, now, 1000)
			if err != nil || len(due) != 100 {
				b.Fatalf("%d, %v", len(due), err)
			}
		}
	})
	b.Run("reference-get-workspace", func(b *testing.B) {
		for b.Loop() {
			if _, err := GetWorkspace(ctx, db.R, "w05000"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Finished jobs go after 30 days; the system's own (the scheduler's many
// passes) after a day; running ones stay.
func TestPruneJobs(t *testing.T) {
	ctx := context.Background()
	db := mustOpenCatalogFile(t)
	now := time.Now().UTC()
	for _, j := range []struct {
		id, by string
		age    time.Duration
		finish bool
	}{
		{"old-user", "user:u1", 31 * 24 * time.Hour, true}, {"recent-user", "user:u1", 2 * 24 * time.Hour, true},
		{"old-system", "system:scheduler", 2 * 24 * time.Hour, true}, {"recent-system", "system:scheduler", time.Hour, true},
		{"running", "system:scheduler", 40 * 24 * time.Hour, false},
	} {
		if err := InsertJob(ctx, db.W, &Job{ID: j.id, Kind: "k", CreatedBy: j.by, CreatedAt: now.Add(-j.age)}); err != nil {
			t.Fatal(err)
		}
		if j.finish {
			if err := FinishJob(ctx, db.W, j.id, JobDone, "", "", now.Add(-j.age)); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := PruneJobs(ctx, db.W, now.Add(-30*24*time.Hour), now.Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	var left []string
	db.R.Select(&left, `SELECT id FROM jobs ORDER BY id`)
	if strings.Join(left, ",") != "recent-system,recent-user,running" {
		t.Fatalf("left %v", left)
	}
}
