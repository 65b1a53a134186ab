package tenant

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"atrium/store"
)

// An idle handle is cooled once each time it falls out of the warmIdle
// most recently used, and a cooled workspace, its readers closed, reads
// and writes as before at its next lease.
func TestCache_CoolsIdleHandlesPastTheWarmOnes(t *testing.T) {
	defer func(n int) { warmIdle = n }(warmIdle)
	warmIdle = 1
	ctx := context.Background()
	m := MustOpenManager(t, 8)
	var mu sync.Mutex
	cooled := map[string]int{} // by file path
	m.cache.cool = func(id string, db *store.DB) {
		mu.Lock()
		cooled[db.Path]++
		mu.Unlock()
		m.coolWorkspace(id, db)
	}
	// settle waits for the cools under way.
	settle := func() {
		m.cache.mu.Lock()
		entries := make([]*entry, 0, len(m.cache.entries))
		for _, e := range m.cache.entries {
			entries = append(entries, e)
		}
		m.cache.mu.Unlock()
		for _, e := range entries {
			e.cooling.Wait()
		}
	}
	a, b, c, d := mustCreate(t, m, "A"), mustCreate(t, m, "B"), mustCreate(t, m, "C"), mustCreate(t, m, "D")
	paths := map[string]string{}
	uses := 0
	use := func(w *store.Workspace) {
		t.Helper()
		l, err := m.Acquire(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		paths[w.ID] = l.Path
		uses++
		if _, err := l.W.ExecContext(ctx, `INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, datetime(), datetime())`, fmt.Sprint(w.ID, uses), w.Name); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := l.R.GetContext(ctx, &n, `SELECT count(*) FROM companies`); err != nil {
			t.Fatal(err)
		}
		if l.R.Stats().Idle == 0 {
			t.Fatalf("%s: no reader kept after a read", w.Name)
		}
	}
	use(a)
	// Litestream opens its connection to a file at its first sync; A's
	// writer can then be closed too.
	if _, err := m.repl.syncPathLocally(ctx, paths[a.ID]); err != nil {
		t.Fatal(err)
	}
	use(b) // A passes the one warm handle: cooled
	use(c) // B cooled
	settle()
	m.cache.mu.Lock()
	aDB := m.cache.entries[a.ID].db
	m.cache.mu.Unlock()
	if r, w := aDB.R.Stats().OpenConnections, aDB.W.Stats().OpenConnections; r != 0 || w != 0 {
		t.Errorf("A cooled: %d reader and %d writer connections open, want none", r, w)
	}

	use(b) // a new idle spell: C cooled as B passes it, B again when D does
	use(d)
	settle()
	mu.Lock()
	got := map[string]int{"A": cooled[paths[a.ID]], "B": cooled[paths[b.ID]], "C": cooled[paths[c.ID]], "D": cooled[paths[d.ID]]}
	mu.Unlock()
	want := map[string]int{"A": 1, "B": 2, "C": 1, "D": 0}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s cooled %d times, want %d (all: %v)", name, got[name], n, got)
		}
	}

	// A, cooled long ago, still has what was written, and takes more.
	use(a)
	l, err := m.Acquire(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var n int
	if err := l.R.GetContext(ctx, &n, `SELECT count(*) FROM companies WHERE name = 'A'`); err != nil || n != 2 {
		t.Errorf("A after cooling: %d companies named A (err %v), want 2", n, err)
	}
	l.Release()
	// And its replica, written before and after its writer was closed,
	// restores to the live file.
	v, err := m.VerifyReplica(ctx, a.ID)
	if err != nil || v.Failure != "" {
		t.Errorf("A's replica: %+v, %v", v, err)
	}
}
