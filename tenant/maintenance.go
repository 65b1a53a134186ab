package tenant

import (
	"context"
	"fmt"
	"sync"

	"atrium/store"
)

// MigrateSummary counts what MigrateAll did.
type MigrateSummary struct {
	Migrated int // workspaces brought up to the current schema
	Current  int // workspaces already at it
}

// MigrateAll migrates every active workspace file, at most concurrency at a
// time. The catalog was migrated by Open. It stops at the first failure.
func (m *Manager) MigrateAll(ctx context.Context, concurrency int) (MigrateSummary, error) {
	var (
		mu  sync.Mutex
		sum MigrateSummary
	)
	err := m.eachWorkspace(ctx, concurrency, func(w *store.Workspace) error {
		// Opened directly rather than through the cache, which would migrate
		// on open and hide the version the file had.
		path, err := m.FilePath(w)
		if err != nil {
			return err
		}
		if err := m.restoreIfMissing(ctx, w, path); err != nil {
			return err
		}
		// A migration writes: Litestream tracks the file first, unless it
		// was never opened and so has no replica yet (its first open
		// registers it; registering every one of them here would replicate
		// thousands of empty workspaces).
		if !w.Pristine {
			if err := m.acquireReplication(ctx, w, path); err != nil {
				return err
			}
			defer m.repl.release(path)
		}
		db, err := store.Open(path, store.OpenOptions{Transient: w.Pristine})
		if err != nil {
			return fmt.Errorf("workspace %s: %w", w.ID, err)
		}
		defer db.Close()
		from, to, err := store.Migrate(ctx, db, store.WorkspaceSchema)
		if err != nil {
			return fmt.Errorf("workspace %s: %w", w.ID, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if from < to {
			sum.Migrated++
		} else {
			sum.Current++
		}
		return nil
	})
	return sum, err
}

// CheckAll runs PRAGMA integrity_check over the catalog and every active
// workspace file, at most concurrency at a time. It calls fail for each file
// that does not pass and returns how many files it checked.
func (m *Manager) CheckAll(ctx context.Context, concurrency int, fail func(what string, err error)) (int, error) {
	checked := 1
	if err := m.catalog.IntegrityCheck(ctx); err != nil {
		fail("catalog "+m.catalog.Path, err)
	}
	var mu sync.Mutex
	err := m.eachWorkspace(ctx, concurrency, func(w *store.Workspace) error {
		mu.Lock()
		checked++
		mu.Unlock()
		var err error
		if w.Pristine {
			// Read where it lies: a lease would open it for the first time
			// (registering it, so it would start replicating).
			var path string
			if path, err = m.FilePath(w); err == nil {
				if err = m.restoreIfMissing(ctx, w, path); err == nil {
					err = checkFile(ctx, path)
				}
			}
		} else {
			var l *Lease
			if l, err = m.Acquire(ctx, w.ID); err == nil {
				err = l.IntegrityCheck(ctx)
				l.Release()
			}
		}
		if err != nil {
			fail("workspace "+w.ID, err)
		}
		return nil
	})
	return checked, err
}

// eachWorkspace calls fn for every active workspace, concurrency at a time,
// and returns the first error.
func (m *Manager) eachWorkspace(ctx context.Context, concurrency int, fn func(w *store.Workspace) error) error {
	ws, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, max(concurrency, 1))
	)
	for i := range ws {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(w *store.Workspace) {
			defer func() { <-sem; wg.Done() }()
			if err := fn(w); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}(&ws[i])
	}
	wg.Wait()
	return firstErr
}
