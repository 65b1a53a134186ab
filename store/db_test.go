package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A replicated file's WAL is checkpointed by Litestream alone: commits
// past SQLite's 1,000-page threshold neither checkpoint it nor restart it
// (new salts in its header), which would overwrite frames Litestream may
// not have read yet (issue 25). A transient file keeps SQLite's default.
func TestOpen_CommitsNeverCheckpointAReplicatedFile(t *testing.T) {
	for _, transient := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "ws.db")
		db, err := Open(path, OpenOptions{Create: true, Transient: transient})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.W.Exec(`CREATE TABLE t (b BLOB)`); err != nil {
			t.Fatal(err)
		}
		header := walHeader(t, path)
		// 1,200 pages in 40 commits, well past the threshold.
		for range 40 {
			if _, err := db.W.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) INSERT INTO t SELECT randomblob(4000) FROM n`); err != nil {
				t.Fatal(err)
			}
		}
		restarted := !bytes.Equal(header, walHeader(t, path))
		db.Close()
		if restarted == !transient {
			t.Errorf("transient %v: WAL restarted = %v", transient, restarted)
		}
	}
}

func walHeader(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path + "-wal")
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) < 32 {
		tb.Fatalf("WAL of %s has no header", path)
	}
	return b[:32]
}
