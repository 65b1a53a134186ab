package tenant

import (
	"context"
	"os"
	"testing"
	"time"

	"atrium/store"
)

// TestWAL_ShrinksAfterBulkWrite: a transaction that grows the WAL past
// store.WALSizeLimit leaves it no bigger than that once Litestream has
// copied it and checkpointed, and the replica still restores every row.
// The limit is lowered to 4 MB here: 64 MB of writes took minutes under
// the race detector.
func TestWAL_ShrinksAfterBulkWrite(t *testing.T) {
	ctx := context.Background()
	defer func(n int64) { store.WALSizeLimit.Store(n) }(store.WALSizeLimit.Load())
	store.WALSizeLimit.Store(4 << 20)
	limit := store.WALSizeLimit.Load()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	open := true
	t.Cleanup(func() {
		if open {
			m.Close()
		}
	})
	w := mustCreate(t, m, "Bulk")
	const rows = 2_000 // of 4 KB: 8 MB in one transaction
	mustExec(t, m, w.ID, `CREATE TABLE bulk (b BLOB)`)
	mustExec(t, m, w.ID, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO bulk SELECT randomblob(4000) FROM n`, rows)
	path, _ := m.FilePath(w)
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if n := walSize(); n <= limit {
		t.Fatalf("the bulk write left a WAL of %d bytes: the test needs one above %d", n, limit)
	}
	deadline := time.Now().Add(time.Minute)
	for walSize() > limit {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL is still %d bytes a minute after the bulk write", walSize())
		}
		mustSync(t, m, w.ID) // copies, checkpoints, starts the WAL over
		addCompany(t, m, w.ID, time.Now().String())
	}
	mustSync(t, m, w.ID)
	open = false
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	removeWorkspaceFiles(path)
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := joinedColumn(t, m, w.ID, `SELECT count(*) FROM bulk`); got != "2000" {
		t.Fatalf("the restored file has %s bulk rows, want %d", got, rows)
	}
	if err := l0(m, w.ID).IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}
