package tenant

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"atrium/store"
)

// Requests keep writing to three workspaces while one is restored again and
// again, one moves back and forth between regions, and one goes to the
// trash and back. A request is only ever told to come back later (restore,
// move) or that the workspace is gone (trash); no write that succeeded is
// lost, and every file ends where its row says.
func TestLifecycle_ConcurrentWithRequests(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := twoRegionConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	restored, moved, trashed := mustCreate(t, m, "Restored"), mustCreate(t, m, "Moved"), mustCreate(t, m, "Trashed")
	ws := []*store.Workspace{restored, moved, trashed}

	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		written = map[string][]string{}
		errs    []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				w := ws[(g+i)%len(ws)]
				l, err := m.Acquire(ctx, w.ID)
				switch code := store.ErrorCode(err); {
				case err == nil:
				case code == store.EUnavailable, code == store.ENotFound && w == trashed:
					time.Sleep(time.Millisecond)
					continue
				default:
					fail("acquire %s: %v", w.Name, err)
					continue
				}
				name := fmt.Sprintf("g%d-%d", g, i)
				_, err = l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, name, name)
				l.Release()
				if err != nil {
					fail("write to %s: %v", w.Name, err)
					continue
				}
				mu.Lock()
				written[w.ID] = append(written[w.ID], name)
				mu.Unlock()
			}
		}()
	}
	var restores, moves, trashes atomic.Int64
	// repeat runs op until the end, counting its successes; another
	// operation on the same workspace in the way is no error. It pauses a
	// little between two: back to back on a loaded machine (-race), the
	// operations left the writers no moment to get in, and the test then
	// proved nothing about them.
	repeat := func(what string, done *atomic.Int64, op func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				switch err := op(i); store.ErrorCode(err) {
				case "":
					done.Add(1)
				case store.EConflict, store.EUnavailable:
				default:
					fail("%s: %v", what, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	repeat("restore", &restores, func(int) error {
		_, err := m.Restore(ctx, restored.ID, RestoreOptions{Actor: "test"})
		return err
	})
	repeat("move", &moves, func(i int) error {
		_, err := m.Move(ctx, moved.ID, []string{"eu", "default"}[i%2], "test")
		return err
	})
	repeat("trash", &trashes, func(int) error {
		_, err := m.Trash(ctx, trashed.ID, "test")
		time.Sleep(20 * time.Millisecond)
		if uerr := m.Untrash(ctx, trashed.ID, "test"); uerr != nil {
			fail("untrash: %v", uerr)
		}
		return err
	})
	// At least 3 s, and until each operation ran (a loaded machine under
	// -race is slow to move a workspace), at most 60 s.
	for start := time.Now(); time.Since(start) < 3*time.Second ||
		(time.Since(start) < time.Minute && (restores.Load() == 0 || moves.Load() < 2 || trashes.Load() == 0)); {
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %s", len(errs), errs[0])
	}
	if restores.Load() == 0 || moves.Load() < 2 || trashes.Load() == 0 {
		t.Fatalf("%d restores, %d moves, %d trashes: the operations did not run", restores.Load(), moves.Load(), trashes.Load())
	}
	t.Logf("%d restores, %d moves, %d trashes", restores.Load(), moves.Load(), trashes.Load())
	for _, w := range ws {
		got := "," + companyNames(t, m, w.ID) + ","
		for _, name := range written[w.ID] {
			if !strings.Contains(got, ","+name+",") {
				t.Fatalf("%s: write %s succeeded but is gone (%d written)", w.Name, name, len(written[w.ID]))
			}
		}
		if len(written[w.ID]) == 0 {
			t.Errorf("%s: no write got through", w.Name)
		}
	}
	if _, err := m.CheckAll(ctx, 2, func(what string, err error) { t.Errorf("%s: %v", what, err) }); err != nil {
		t.Fatal(err)
	}
}
