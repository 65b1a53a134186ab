package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

// openCacheTestDB is a file with a table of 3 rows.
func openCacheTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "c.db"), OpenOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.W.Exec(`CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// cachedCount is how many statements the connection keeps.
func cachedCount(t *testing.T, c *sql.Conn) int {
	t.Helper()
	n := -1
	if err := c.Raw(func(dc any) error {
		n = len(dc.(*cachingConn).stmts)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// A query run again on the same connection while the rows of its first
// run are still open gets its own rows: the first run's are not reset
// under it.
func TestStmtCache_QueryRunAgainWhileItsRowsAreOpen(t *testing.T) {
	db := openCacheTestDB(t)
	ctx := context.Background()
	c, err := db.W.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kept := cachedCount(t, c) // the table's creation
	const q = `SELECT n FROM t WHERE n >= ? ORDER BY n`
	outer, err := c.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var n int
		if err := outer.Scan(&n); err != nil {
			t.Fatal(err)
		}
		var inner []int
		rows, err := c.QueryContext(ctx, q, n)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var m int
			rows.Scan(&m)
			inner = append(inner, m)
		}
		rows.Close()
		got = append(got, fmt.Sprint(n, inner))
		if len(got) > 3 {
			t.Fatalf("the first run's rows restarted: %v", got)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if want := "[1 [1 2 3] 2 [2 3] 3 [3]]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	// The statement is free again and kept.
	var sum int
	if err := c.QueryRowContext(ctx, `SELECT sum(n) FROM t WHERE n >= ?`, 2).Scan(&sum); err != nil || sum != 5 {
		t.Errorf("sum = %d, %v; want 5", sum, err)
	}
	if n := cachedCount(t, c); n != kept+2 {
		t.Errorf("%d statements kept, want %d", n, kept+2)
	}
}

// A kept statement sees a schema changed since it was prepared.
func TestStmtCache_SchemaChange(t *testing.T) {
	db := openCacheTestDB(t)
	ctx := context.Background()
	c, err := db.W.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cols := func() []string {
		rows, err := c.QueryContext(ctx, `SELECT * FROM t LIMIT 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		names, _ := rows.Columns()
		return names
	}
	if got := cols(); len(got) != 1 {
		t.Fatalf("columns %v", got)
	}
	if _, err := c.ExecContext(ctx, `ALTER TABLE t ADD COLUMN m TEXT`); err != nil {
		t.Fatal(err)
	}
	if got := cols(); fmt.Sprint(got) != "[n m]" {
		t.Errorf("after ALTER TABLE the kept SELECT * gives %v, want [n m]", got)
	}
}

// A connection keeps at most stmtCacheSize statements; queries past that
// still run, and give the right answers.
func TestStmtCache_Bounded(t *testing.T) {
	db := openCacheTestDB(t)
	ctx := context.Background()
	c, err := db.R.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 * stmtCacheSize {
		var got int
		if err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d + sum(n) FROM t`, i)).Scan(&got); err != nil || got != i+6 {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	if n := cachedCount(t, c); n != stmtCacheSize {
		t.Errorf("%d statements kept, want %d", n, stmtCacheSize)
	}
}

// A kept statement whose run was cancelled runs again afterwards; so does
// one whose run failed (a constraint).
func TestStmtCache_AfterCancelAndError(t *testing.T) {
	db := openCacheTestDB(t)
	if _, err := db.W.Exec(`CREATE UNIQUE INDEX t_n ON t (n)`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT count(*) FROM t WHERE n > ?`
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var n int
	if err := db.R.QueryRowContext(cancelled, q, 0).Scan(&n); err == nil {
		t.Fatal("a cancelled query ran")
	}
	if err := db.R.QueryRowContext(context.Background(), q, 0).Scan(&n); err != nil || n != 3 {
		t.Fatalf("count = %d, %v; want 3", n, err)
	}
	const ins = `INSERT INTO t (n) VALUES (?)`
	if _, err := db.W.Exec(ins, 1); err == nil {
		t.Fatal("a duplicate was inserted")
	}
	if _, err := db.W.Exec(ins, 4); err != nil {
		t.Fatal(err)
	}
	if err := db.W.QueryRow(q, 0).Scan(&n); err != nil || n != 4 {
		t.Fatalf("count = %d, %v; want 4", n, err)
	}
}

// Past the budget of all connections, a connection keeps no more
// statements and its queries still run; closing a connection gives its
// share back.
func TestStmtCache_Budget(t *testing.T) {
	db := openCacheTestDB(t)
	ctx := context.Background()
	c, err := db.R.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	old := stmtCacheBudget
	defer func() { stmtCacheBudget = old }()
	stmtCacheBudget = stmtsKept.Load() + 2
	for i := range 5 {
		var got int
		if err := c.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d + sum(n) FROM t`, i)).Scan(&got); err != nil || got != i+6 {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	if n := cachedCount(t, c); n != 2 {
		t.Errorf("%d statements kept, want 2 (the budget)", n)
	}
	before := stmtsKept.Load()
	c.Raw(func(dc any) error { return driver.ErrBadConn }) // the pool closes it
	if after := stmtsKept.Load(); after != before-2 {
		t.Errorf("closing the connection left %d kept statements counted, want %d", after, before-2)
	}
}

// ReleaseMemory closes the idle readers, drops the writer's kept statements
// and cached pages, and leaves the file as usable as before.
func TestDB_ReleaseMemory(t *testing.T) {
	db := openCacheTestDB(t)
	ctx := context.Background()
	sum := func() int {
		t.Helper()
		var n int
		if err := db.R.GetContext(ctx, &n, `SELECT sum(n) FROM t`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := sum(); got != 6 {
		t.Fatalf("sum %d, want 6", got)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO t VALUES (?)`, 4); err != nil {
		t.Fatal(err)
	}
	// writer reports the writer connection's kept statements and cached pages.
	writer := func() (kept, cacheBytes int) {
		t.Helper()
		c, err := db.W.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Raw(func(dc any) error {
			cc := dc.(*cachingConn)
			kept = len(cc.stmts)
			cacheBytes, _, err = cc.sqliteConn.(sqlite.DBStatus).Status(sqlite.DBStatusCacheUsed, false)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return kept, cacheBytes
	}
	keptBefore, cacheBefore := writer()
	if db.R.Stats().Idle == 0 || keptBefore == 0 || cacheBefore == 0 {
		t.Fatalf("before: %d idle readers, %d kept statements, %d bytes cached; want some of each", db.R.Stats().Idle, keptBefore, cacheBefore)
	}
	stmtsBefore := stmtsKept.Load()

	if err := db.ReleaseMemory(ctx); err != nil {
		t.Fatal(err)
	}
	if open := db.R.Stats().OpenConnections; open != 0 {
		t.Errorf("%d readers open after ReleaseMemory, want 0", open)
	}
	kept, cached := writer()
	if kept != 0 || cached >= cacheBefore {
		t.Errorf("writer after ReleaseMemory: %d kept statements, %d bytes cached; want 0 and fewer than %d", kept, cached, cacheBefore)
	}
	// The closed readers' statements come back too.
	if dropped := stmtsBefore - stmtsKept.Load(); dropped < int64(keptBefore) {
		t.Errorf("the statement budget got back %d statements, want at least the writer's %d", dropped, keptBefore)
	}

	// The file reads and writes as before, and readers are kept again.
	if _, err := db.W.ExecContext(ctx, `INSERT INTO t VALUES (?)`, 5); err != nil {
		t.Fatal(err)
	}
	if got := sum(); got != 15 {
		t.Errorf("sum after ReleaseMemory %d, want 15", got)
	}
	if db.R.Stats().Idle == 0 {
		t.Error("no reader kept idle after ReleaseMemory's readers were closed")
	}
}
