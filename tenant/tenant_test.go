package tenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"atrium/store"
)

// MustOpenManager opens a Manager on a fresh data directory.
func MustOpenManager(tb testing.TB, maxOpen int) *Manager {
	tb.Helper()
	return mustOpenManagerAt(tb, tb.TempDir(), maxOpen)
}

func mustOpenManagerAt(tb testing.TB, dir string, maxOpen int) *Manager {
	tb.Helper()
	m, err := Open(context.Background(), Options{DataDir: dir, MaxOpen: maxOpen})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func mustCreate(tb testing.TB, m *Manager, name string) *store.Workspace {
	tb.Helper()
	w, err := m.Create(context.Background(), CreateOptions{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// filesUnder lists every file below dir, relative to it.
func filesUnder(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func TestCreate(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		w := mustCreate(t, m, "  Acme  ")
		if w.Name != "Acme" || w.Region != DefaultRegion || w.State != store.StateActive {
			t.Fatalf("got %+v", w)
		}
		path, _ := m.FilePath(w)
		if want := filepath.Join(m.DataDir(), "workspaces", w.ID+".db"); path != want {
			t.Fatalf("path = %s, want %s", path, want)
		}
		l, err := m.Acquire(context.Background(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		var version int
		if err := l.R.Get(&version, "PRAGMA user_version"); err != nil {
			t.Fatal(err)
		}
		if want := store.LatestVersion(store.WorkspaceSchema); version != want {
			t.Fatalf("user_version = %d, want %d", version, want)
		}
		if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES ('c1', 'Globex', 0, 0)`); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrNameInvalid", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		for _, name := range []string{"", "   ", strings.Repeat("x", MaxNameLength+1), "a\x00b", "\xff"} {
			_, err := m.Create(context.Background(), CreateOptions{Name: name})
			if store.ErrorCode(err) != store.EValidation {
				t.Errorf("name %q: err = %v, want validation", name, err)
			}
		}
	})
	t.Run("ErrRegionUnknown", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		_, err := m.Create(context.Background(), CreateOptions{Name: "x", Region: "mars"})
		if store.ErrorCode(err) != store.EValidation || !strings.Contains(err.Error(), "mars") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrOwnerUnknown", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		_, err := m.Create(context.Background(), CreateOptions{Name: "x", OwnerEmail: "nobody@example.com"})
		if store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("err = %v", err)
		}
		assertNoWorkspaces(t, m)
	})
}

func assertNoWorkspaces(t *testing.T, m *Manager) {
	t.Helper()
	var n int
	if err := m.catalog.R.Get(&n, `SELECT count(*) FROM workspaces WHERE state <> 'deleted'`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d workspace rows left", n)
	}
	if files := filesUnder(t, filepath.Join(m.DataDir(), "workspaces")); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

func TestCreate_FailureAfterFileLeavesNothing(t *testing.T) {
	m := MustOpenManager(t, 0)
	var sawFile bool
	testHookFileWritten = func(path string) error {
		_, err := os.Stat(path)
		sawFile = err == nil
		return errors.New("injected failure")
	}
	defer func() { testHookFileWritten = nil }()
	if _, err := m.Create(context.Background(), CreateOptions{Name: "Doomed"}); err == nil {
		t.Fatal("create succeeded despite the injected failure")
	}
	if !sawFile {
		t.Fatal("the hook ran before the file existed")
	}
	assertNoWorkspaces(t, m)
}

// TestCreate_KillMidCreate runs a child process that kills itself with
// SIGKILL after the new workspace's file exists, then checks that the next
// Open finds no half-made workspace.
func TestCreate_KillMidCreate(t *testing.T) {
	if dir := os.Getenv("ATRIUM_TEST_KILL_CHILD"); dir != "" {
		m, err := Open(context.Background(), Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		testHookFileWritten = func(string) error {
			return syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		m.Create(context.Background(), CreateOptions{Name: "Killed"})
		time.Sleep(10 * time.Second) // the kill lands before this ends
		t.Fatal("still alive")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCreate_KillMidCreate$")
	cmd.Env = append(os.Environ(), "ATRIUM_TEST_KILL_CHILD="+dir)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
	if files := filesUnder(t, filepath.Join(dir, "workspaces")); len(files) != 1 {
		t.Fatalf("the child should have left one file behind, found %v", files)
	}
	m := mustOpenManagerAt(t, dir, 0)
	assertNoWorkspaces(t, m)
}

func TestAcquire_PathSafety(t *testing.T) {
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Real")
	before := filesUnder(t, filepath.Dir(m.DataDir()))
	upper := strings.ToUpper(w.ID)
	for _, tc := range []struct{ id, code string }{
		{"../x", store.EInvalid},
		{"", store.EInvalid},
		{"../../etc/passwd", store.EInvalid},
		{upper, store.EInvalid},
		{"{" + w.ID + "}", store.EInvalid},
		{"urn:uuid:" + w.ID, store.EInvalid},
		{strings.ReplaceAll(w.ID, "-", ""), store.EInvalid},
		{w.ID + "/../x", store.EInvalid},
		{"0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", store.ENotFound},
	} {
		l, err := m.Acquire(context.Background(), tc.id)
		if err == nil {
			l.Release()
		}
		if got := store.ErrorCode(err); got != tc.code {
			t.Errorf("Acquire(%q): code %q (%v), want %q", tc.id, got, err, tc.code)
		}
		if err != nil && store.ErrorMessage(err) == "" {
			t.Errorf("Acquire(%q): empty message", tc.id)
		}
		_, err = m.Delete(context.Background(), tc.id, "test")
		if got := store.ErrorCode(err); got != tc.code {
			t.Errorf("Delete(%q): code %q (%v), want %q", tc.id, got, err, tc.code)
		}
	}
	if after := filesUnder(t, filepath.Dir(m.DataDir())); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("files changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestDelete(t *testing.T) {
	t.Run("RemovesOnlyItsFiles", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
		for _, w := range []*store.Workspace{a, b} {
			l, err := m.Acquire(context.Background(), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, "c-"+w.ID, w.Name); err != nil {
				t.Fatal(err)
			}
			l.Release()
		}
		rm, err := m.Delete(context.Background(), a.ID, "user:tester")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range filesUnder(t, m.DataDir()) {
			if strings.Contains(f, a.ID) {
				t.Errorf("file of the deleted workspace left: %s", f)
			}
		}
		if len(rm.Files) == 0 || !strings.HasSuffix(rm.Files[0], a.ID+".db") {
			t.Errorf("removal lists %v", rm.Files)
		}
		l, err := m.Acquire(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := l.R.Get(&name, `SELECT name FROM companies`); err != nil || name != "B" {
			t.Fatalf("other workspace: name %q, err %v", name, err)
		}
		l.Release()
		if _, err := m.Acquire(context.Background(), a.ID); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("acquire deleted: %v", err)
		}
		events, err := store.WorkspaceEvents(context.Background(), m.catalog.R, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := events[len(events)-1]
		if last.Action != "workspace.delete" || last.Actor != "user:tester" || !strings.Contains(last.Detail, a.ID+".db") {
			t.Fatalf("tombstone = %+v", last)
		}
		if _, err := m.Delete(context.Background(), a.ID, "x"); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("WaitsForLeases", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		w := mustCreate(t, m, "Busy")
		l, err := m.Acquire(context.Background(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := m.Delete(context.Background(), w.ID, "test")
			done <- err
		}()
		// New leases are refused as soon as the deletion starts.
		for {
			l2, err := m.Acquire(context.Background(), w.ID)
			if err != nil {
				break
			}
			l2.Release()
			time.Sleep(time.Millisecond)
		}
		select {
		case err := <-done:
			t.Fatalf("delete returned while a lease was held: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES ('c', 'still open', 0, 0)`); err != nil {
			t.Fatalf("leased handle unusable during delete: %v", err)
		}
		l.Release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		path, _ := m.FilePath(w)
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("file still there: %v", err)
		}
	})
	t.Run("CancelledWhileLeasedKeepsWorkspace", func(t *testing.T) {
		m := MustOpenManager(t, 0)
		w := mustCreate(t, m, "Kept")
		l, err := m.Acquire(context.Background(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := m.Delete(ctx, w.ID, "test"); store.ErrorCode(err) != store.EUnavailable {
			t.Fatalf("err = %v", err)
		}
		l.Release()
		l, err = m.Acquire(context.Background(), w.ID)
		if err != nil {
			t.Fatalf("workspace gone after a cancelled delete: %v", err)
		}
		l.Release()
	})
}

// TestCache_Concurrency hammers a small cache from many goroutines and checks
// the cache's promises through hooks on open and close.
func TestCache_Concurrency(t *testing.T) {
	var (
		workspaces = 2000
		goroutines = 500
		perG       = 40
		maxOpen    = 64
	)
	if testing.Short() {
		t.Skip("creates 2,000 workspaces")
	}
	if raceEnabled {
		// Same shape, fewer rounds: nearly every acquire is a cold open
		// (a registration with Litestream, a first sync, and later an
		// unregistration), and SQLite is several times slower under -race.
		perG = 4
	}
	m := MustOpenManager(t, maxOpen)
	start := time.Now()
	defer func() { t.Logf("whole test %v", time.Since(start)) }()
	ids := make([]string, workspaces)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < workspaces; i += 4 {
				ids[i] = mustCreate(t, m, fmt.Sprintf("W%d", i)).ID
			}
		}(g)
	}
	wg.Wait()
	t.Logf("created %d in %v", workspaces, time.Since(start))

	var (
		mu      sync.Mutex
		openNow = map[string]int{}
		leased  = map[string]int{}
		errs    []string
		opens   atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	open, close := m.cache.open, m.cache.close
	m.cache.open = func(ctx context.Context, id string) (*store.DB, *store.Workspace, error) {
		mu.Lock()
		openNow[id]++
		n := openNow[id]
		mu.Unlock()
		if n > 1 {
			fail("%s opened while already open", id)
		}
		opens.Add(1)
		return open(ctx, id)
	}
	// A cool runs on a handle still open (closing waits for it).
	m.cache.cool = func(_ string, db *store.DB) {
		if err := db.ReleaseMemory(context.Background()); err != nil {
			fail("cooling %s: %v", db.Path, err)
		}
	}
	m.cache.close = func(db *store.DB, w *store.Workspace, cooled bool) {
		mu.Lock()
		if leased[w.ID] > 0 {
			errs = append(errs, w.ID+" closed while leased")
		}
		openNow[w.ID]--
		mu.Unlock()
		close(db, w, cooled)
	}

	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				id := ids[(g*7919+i*104729)%workspaces]
				l, err := m.Acquire(context.Background(), id)
				if err != nil {
					fail("acquire %s: %v", id, err)
					return
				}
				mu.Lock()
				leased[id]++
				mu.Unlock()
				var n int
				if err := l.R.Get(&n, `SELECT count(*) FROM contacts`); err != nil {
					fail("query %s: %v", id, err)
				}
				mu.Lock()
				leased[id]--
				mu.Unlock()
				l.Release()
			}
		}(g)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %s", len(errs), errs[0])
	}
	if n := m.OpenHandles(); n > maxOpen {
		t.Fatalf("%d handles open once idle, want at most %d", n, maxOpen)
	}
	t.Logf("%d opens for %d acquires", opens.Load(), goroutines*perG)
}
