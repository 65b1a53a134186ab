package tenant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"atrium/store"
)

// testSyncInterval keeps replication quick in tests; they still sync
// explicitly before they look at a replica.
const testSyncInterval = 50 * time.Millisecond

// mustConfig writes a litestream.yml into dir and loads it.
func mustConfig(tb testing.TB, dataDir, yml string) *Config {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "litestream.yml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := LoadConfig(path, dataDir)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// openWithConfig opens a Manager on dataDir; the caller closes it (tests
// reopen the same directory).
func openWithConfig(tb testing.TB, dataDir string, cfg *Config) *Manager {
	tb.Helper()
	m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, SyncInterval: testSyncInterval, JanitorInterval: time.Hour, Logger: testLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// twoRegionConfig gives a default region and "eu", each with its own file
// replica, eu's data and both replicas under other.
func twoRegionConfig(tb testing.TB, dataDir string) (*Config, string) {
	other := tb.TempDir()
	return mustConfig(tb, dataDir, `
regions:
  default:
    replica:
      url: file://`+other+`/default-replica
  eu:
    data: `+other+`/eu-data
    replica:
      url: file://`+other+`/eu-replica
`), other
}

// fileReplicaConfig keeps the replica outside the data directory, so a test
// can lose the one and keep the other.
func fileReplicaConfig(tb testing.TB, dataDir string) (*Config, string) {
	replicas := filepath.Join(tb.TempDir(), "replicas")
	return mustConfig(tb, dataDir, "regions:\n  default:\n    replica:\n      url: file://"+replicas+"\n"), replicas
}

// openFileReplicated opens a Manager on a fresh data directory whose
// replica is a directory outside it; it is closed when the test ends.
func openFileReplicated(tb testing.TB) *Manager {
	tb.Helper()
	dataDir := tb.TempDir()
	cfg, _ := fileReplicaConfig(tb, dataDir)
	m := openWithConfig(tb, dataDir, cfg)
	tb.Cleanup(func() { m.Close() })
	return m
}

// testLogger logs to stderr when ATRIUM_TEST_LOG is set, for debugging.
func testLogger() *slog.Logger {
	if os.Getenv("ATRIUM_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustExec(tb testing.TB, m *Manager, id, query string, args ...any) {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	if _, err := l.W.Exec(query, args...); err != nil {
		tb.Fatal(err)
	}
}

func addCompany(tb testing.TB, m *Manager, id, name string) {
	tb.Helper()
	mustExec(tb, m, id, `INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, name, name)
}

func companyNames(tb testing.TB, m *Manager, id string) string {
	tb.Helper()
	return joinedColumn(tb, m, id, `SELECT name FROM companies ORDER BY name`)
}

// joinedColumn runs query, which selects one text column, on workspace id
// and joins the values with commas.
func joinedColumn(tb testing.TB, m *Manager, id, query string) string {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	var values []string
	if err := l.R.Select(&values, query); err != nil {
		tb.Fatal(err)
	}
	return strings.Join(values, ",")
}

func mustSync(tb testing.TB, m *Manager, id string) {
	tb.Helper()
	if _, err := m.Sync(context.Background(), id); err != nil {
		tb.Fatal(err)
	}
}

// syncedMoment syncs id and returns a moment after its last write reached
// the replica and before any later write.
func syncedMoment(tb testing.TB, m *Manager, id string) time.Time {
	tb.Helper()
	mustSync(tb, m, id)
	time.Sleep(20 * time.Millisecond)
	at := time.Now()
	time.Sleep(20 * time.Millisecond)
	return at
}

func TestReplication_LoseFileThenRestore(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "a")
	addCompany(t, m, w.ID, "b")
	mustSync(t, m, w.ID)
	path, _ := m.FilePath(w)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("OnOpen", func(t *testing.T) {
		// The file and Litestream's local state are gone: opening the
		// workspace brings it back from the replica.
		removeWorkspaceFiles(path)
		m := openWithConfig(t, dataDir, cfg)
		defer m.Close()
		if got := companyNames(t, m, w.ID); got != "a,b" {
			t.Fatalf("rows = %q, want a,b", got)
		}
		// Checked in full afterwards, as any restored file.
		if j := waitCheckRestored(t, m, w.ID); j.State != store.JobDone || j.CreatedBy != "system:recovery" {
			t.Fatalf("check after the recovery: %+v", j)
		}
		addCompany(t, m, w.ID, "c")
		mustSync(t, m, w.ID)
	})
	t.Run("ExplicitRestore", func(t *testing.T) {
		removeWorkspaceFiles(path)
		m := openWithConfig(t, dataDir, cfg)
		defer m.Close()
		got, err := m.Restore(ctx, w.ID, RestoreOptions{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != w.ID || got.ReplicaGen != 2 {
			t.Fatalf("restored %+v", got)
		}
		if got := companyNames(t, m, w.ID); got != "a,b,c" {
			t.Fatalf("rows = %q, want a,b,c", got)
		}
		if err := l0(m, w.ID).IntegrityCheck(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// l0 returns an open handle for quick checks; the lease is released at once
// because the handle stays open in the cache.
func l0(m *Manager, id string) *store.DB {
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		panic(err)
	}
	defer l.Release()
	return l.DB
}

func TestRestore_PointInTime(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "first")
	afterFirst := syncedMoment(t, m, w.ID)
	addCompany(t, m, w.ID, "second")
	afterSecond := syncedMoment(t, m, w.ID)

	t.Run("AsNew", func(t *testing.T) {
		n, err := m.Restore(ctx, w.ID, RestoreOptions{At: afterFirst, AsNew: "Acme as it was"})
		if err != nil {
			t.Fatal(err)
		}
		if n.ID == w.ID || n.Name != "Acme as it was" || n.Region != w.Region {
			t.Fatalf("new workspace %+v", n)
		}
		if got := companyNames(t, m, n.ID); got != "first" {
			t.Fatalf("restored rows = %q, want exactly first", got)
		}
		if got := companyNames(t, m, w.ID); got != "first,second" {
			t.Fatalf("original changed: %q", got)
		}
	})
	t.Run("InPlaceAndBack", func(t *testing.T) {
		if _, err := m.Restore(ctx, w.ID, RestoreOptions{At: afterFirst}); err != nil {
			t.Fatal(err)
		}
		if got := companyNames(t, m, w.ID); got != "first" {
			t.Fatalf("rows = %q, want first", got)
		}
		addCompany(t, m, w.ID, "third")
		mustSync(t, m, w.ID)
		// The history before the in-place restore is still there.
		if _, err := m.Restore(ctx, w.ID, RestoreOptions{At: afterSecond}); err != nil {
			t.Fatal(err)
		}
		if got := companyNames(t, m, w.ID); got != "first,second" {
			t.Fatalf("rows = %q, want first,second", got)
		}
		win, err := m.RestoreWindow(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !win.From.Before(afterFirst) || !win.To.After(afterSecond) {
			t.Fatalf("window %v..%v does not cover %v..%v", win.From, win.To, afterFirst, afterSecond)
		}
	})
	t.Run("ErrBeforeFirstBackup", func(t *testing.T) {
		_, err := m.Restore(ctx, w.ID, RestoreOptions{At: time.Now().Add(-time.Hour), AsNew: "Too early"})
		if store.ErrorCode(err) != store.ENotFound || !strings.Contains(err.Error(), "goes back") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDelete_RemovesReplicaAndLocalState(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	for _, w := range []*store.Workspace{a, b} {
		addCompany(t, m, w.ID, w.Name)
		mustSync(t, m, w.ID)
	}
	bBefore := filesUnder(t, filepath.Join(replicas, b.ID))
	rm, err := m.Delete(ctx, a.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(replicas, a.ID)); !os.IsNotExist(err) {
		t.Fatalf("replica of the deleted workspace still there: %v", filesUnder(t, filepath.Join(replicas, a.ID)))
	}
	for _, f := range filesUnder(t, dataDir) {
		if strings.Contains(f, a.ID) {
			t.Errorf("local file of the deleted workspace left: %s", f)
		}
	}
	if !strings.HasSuffix(rm.Replica, a.ID+"/") || !containsSuffix(rm.Files, "."+a.ID+".db-litestream") {
		t.Errorf("removal = %+v", rm)
	}
	if after := filesUnder(t, filepath.Join(replicas, b.ID)); len(after) < len(bBefore) || len(after) == 0 {
		t.Fatalf("other replica changed: before %v, after %v", bBefore, after)
	}
	if _, err := m.Restore(ctx, b.ID, RestoreOptions{AsNew: "B again"}); err != nil {
		t.Fatalf("other workspace no longer restorable: %v", err)
	}
	if _, err := m.Restore(ctx, a.ID, RestoreOptions{AsNew: "A again"}); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("restore of a deleted workspace: %v", err)
	}
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

func TestRegions_KeepReplicasApart(t *testing.T) {
	ctx := context.Background()
	dataDir, other := t.TempDir(), t.TempDir()
	cfg := mustConfig(t, dataDir, `
regions:
  default:
    replica:
      url: file://`+other+`/default-replica
  eu:
    data: `+other+`/eu-data
    replica:
      type: file
      path: `+other+`/eu-replica
`)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	d := mustCreate(t, m, "Home")
	eu, err := m.Create(ctx, CreateOptions{Name: "Paris", Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	addCompany(t, m, d.ID, "home")
	addCompany(t, m, eu.ID, "paris")
	mustSync(t, m, d.ID)
	mustSync(t, m, eu.ID)
	if err := m.SyncCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	if path, _ := m.FilePath(eu); !strings.HasPrefix(path, other+"/eu-data/") {
		t.Fatalf("eu file at %s", path)
	}
	assertOnlyPrefixes(t, filepath.Join(other, "eu-replica"), eu.ID)
	assertOnlyPrefixes(t, filepath.Join(other, "default-replica"), d.ID, catalogPrefix)

	t.Run("Move", func(t *testing.T) {
		moved, err := m.Move(ctx, d.ID, "eu", "test")
		if err != nil {
			t.Fatal(err)
		}
		if moved.Region != "eu" {
			t.Fatalf("moved = %+v", moved)
		}
		if got := companyNames(t, m, d.ID); got != "home" {
			t.Fatalf("rows after move = %q", got)
		}
		assertOnlyPrefixes(t, filepath.Join(other, "default-replica"), catalogPrefix)
		assertOnlyPrefixes(t, filepath.Join(other, "eu-replica"), eu.ID, d.ID)
		if _, err := os.Stat(filepath.Join(dataDir, "workspaces", d.ID+".db")); !os.IsNotExist(err) {
			t.Fatalf("old file left: %v", err)
		}
		if _, err := m.Move(ctx, d.ID, "eu", "test"); store.ErrorCode(err) != store.EConflict {
			t.Fatalf("second move: %v", err)
		}
	})
}

// assertOnlyPrefixes checks that dir holds exactly the given top-level entries.
func assertOnlyPrefixes(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(sortedCopy(got), ",") != strings.Join(sortedCopy(want), ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, want)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestDisasterRecovery(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	addCompany(t, m, a.ID, "a1")
	addCompany(t, m, b.ID, "b1")
	mustSync(t, m, a.ID)
	mustSync(t, m, b.ID)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		if err := os.RemoveAll(dataDir); err != nil {
			t.Fatal(err)
		}
		m = openWithConfig(t, dataDir, cfg)
		// Every file is back before the first request.
		for _, w := range []*store.Workspace{a, b} {
			path, _ := m.FilePath(w)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("round %d: %s not restored: %v", round, w.Name, err)
			}
		}
		infos, err := m.List(ctx)
		if err != nil || len(infos) != 2 {
			t.Fatalf("round %d: list = %v, %v", round, infos, err)
		}
		// Replication carries on after a recovery, so a second loss loses
		// nothing either.
		addCompany(t, m, a.ID, "a"+string(rune('1'+round)))
		mustSync(t, m, a.ID)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := companyNames(t, m, a.ID); got != "a1,a2,a3" {
		t.Fatalf("rows = %q", got)
	}
	if got := companyNames(t, m, b.ID); got != "b1" {
		t.Fatalf("rows = %q", got)
	}
}

func TestTrash(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	cfg.DeletionGrace, cfg.grace = "1h", time.Hour
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Doomed")
	addCompany(t, m, w.ID, "kept")

	tw, err := m.Trash(ctx, w.ID, "user:owner")
	if err != nil {
		t.Fatal(err)
	}
	if tw.State != store.StateTrashed || tw.PurgeAt.Time.Sub(tw.DeletedAt.Time) != time.Hour {
		t.Fatalf("trashed = %+v", tw)
	}
	if _, err := m.Acquire(ctx, w.ID); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("acquire trashed: %v", err)
	}
	if trashed, _ := m.ListTrashed(ctx); len(trashed) != 1 {
		t.Fatalf("trashed list = %v", trashed)
	}
	if removed, err := m.PurgeDue(ctx); err != nil || len(removed) != 0 {
		t.Fatalf("purge before the grace ended removed %v, %v", removed, err)
	}

	t.Run("Untrash", func(t *testing.T) {
		if err := m.Untrash(ctx, w.ID, "user:owner"); err != nil {
			t.Fatal(err)
		}
		if got := companyNames(t, m, w.ID); got != "kept" {
			t.Fatalf("rows = %q", got)
		}
		if err := m.Untrash(ctx, w.ID, "x"); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("untrash active: %v", err)
		}
	})
	t.Run("PurgeAfterGrace", func(t *testing.T) {
		if _, err := m.Trash(ctx, w.ID, "user:owner"); err != nil {
			t.Fatal(err)
		}
		m.catalog.W.Exec(`UPDATE workspaces SET purge_at = ? WHERE id = ?`, time.Now().Add(-time.Second), w.ID)
		removed, err := m.PurgeDue(ctx)
		if err != nil || len(removed) != 1 || removed[0].WorkspaceID != w.ID {
			t.Fatalf("purge = %v, %v", removed, err)
		}
		if _, err := os.Stat(filepath.Join(replicas, w.ID)); !os.IsNotExist(err) {
			t.Fatalf("replica left: %v", err)
		}
		if err := m.Untrash(ctx, w.ID, "x"); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("untrash purged: %v", err)
		}
		events, _ := store.WorkspaceEvents(ctx, m.catalog.R, w.ID)
		if last := events[len(events)-1]; last.Action != "workspace.delete" || last.Actor != "system:purge" || !strings.Contains(last.Detail, `"replica"`) {
			t.Fatalf("tombstone = %+v", last)
		}
	})
}

// TestDelete_FailedHalfWayIsRetried makes the replica deletion fail, checks
// the workspace stays "deleting" and inaccessible, then lets the retry
// finish it.
func TestDelete_FailedHalfWayIsRetried(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Stubborn")
	addCompany(t, m, w.ID, "x")
	mustSync(t, m, w.ID)
	testHookDeleteReplica = func(string) error { return errors.New("object storage unreachable") }
	defer func() { testHookDeleteReplica = nil }()
	if _, err := m.Delete(ctx, w.ID, "user:x"); err == nil || !strings.Contains(err.Error(), "retried") {
		t.Fatalf("err = %v", err)
	}
	if got, _ := store.GetWorkspace(ctx, m.catalog.R, w.ID); got.State != store.StateDeleting {
		t.Fatalf("state = %s", got.State)
	}
	if _, err := m.Acquire(ctx, w.ID); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("acquire while deleting: %v", err)
	}
	if removed, err := m.PurgeDue(ctx); err == nil || len(removed) != 0 {
		t.Fatalf("retry while still failing = %v, %v", removed, err)
	}
	testHookDeleteReplica = nil
	removed, err := m.PurgeDue(ctx)
	if err != nil || len(removed) != 1 {
		t.Fatalf("retry = %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(replicas, w.ID)); !os.IsNotExist(err) {
		t.Fatalf("replica left: %v", err)
	}
	events, _ := store.WorkspaceEvents(ctx, m.catalog.R, w.ID)
	if last := events[len(events)-1]; last.Action != "workspace.delete" || last.Actor != "user:x" {
		t.Fatalf("tombstone = %+v", last)
	}
}

func TestBackupStatus(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "x")
	txid, err := m.Sync(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(m *Manager, registered bool) {
		t.Helper()
		sts, err := m.BackupStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) != 2 || sts[0].WorkspaceID != "catalog" || sts[1].WorkspaceID != w.ID {
			t.Fatalf("status = %+v", sts)
		}
		st := sts[1]
		if st.Registered != registered || st.ReplicatedTXID < txid || st.LagTXIDs != 0 || st.LastReplicatedAt == nil || st.LastError != "" {
			t.Fatalf("status = %+v (synced txid %d)", st, txid)
		}
	}
	check(m, true)
	m.Close()
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	check(m, false)
}

func TestOpen_OneProcessPerDataDir(t *testing.T) {
	dataDir := t.TempDir()
	m := openWithConfig(t, dataDir, nil)
	_, err := Open(context.Background(), Options{DataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "another atrium process is using the data directory") {
		t.Fatalf("second open: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, nil)
	m.Close()
}

// TestTemplate_IsWAL: new workspace files start in WAL mode, so opening one
// never needs the exclusive lock a journal-mode switch takes while
// Litestream is reading the file.
func TestTemplate_IsWAL(t *testing.T) {
	m := MustOpenManager(t, 0)
	if m.template[18] != 2 || m.template[19] != 2 {
		t.Fatalf("template header read/write versions = %d, %d; want 2, 2 (WAL)", m.template[18], m.template[19])
	}
}

// A purge lists the trashed workspaces, then deletes them one by one; one
// restored from the trash meanwhile must survive.
func TestPurge_SkipsWorkspaceRestoredMeanwhile(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Kept")
	addCompany(t, m, w.ID, "kept")
	if _, err := m.Trash(ctx, w.ID, "user:owner"); err != nil {
		t.Fatal(err)
	}
	if err := m.Untrash(ctx, w.ID, "user:owner"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.deleteFrom(ctx, w.ID, "system:purge", store.StateTrashed); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("delete of a restored workspace as trashed: %v", err)
	}
	if got := companyNames(t, m, w.ID); got != "kept" {
		t.Fatalf("rows = %q", got)
	}
}

// A workspace never opened is the empty template: it has no replica, and a
// lost file comes back empty. Its first open registers it before anything
// can write, so from then on it comes back from its replica, even when the
// catalog restored after a disaster still calls it pristine.
func TestPristineWorkspace(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	quiet, used := mustCreate(t, m, "Quiet"), mustCreate(t, m, "Used")
	pristine := func(m *Manager, w *store.Workspace) bool {
		t.Helper()
		got, err := store.GetWorkspace(ctx, m.Catalog().R, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Pristine
	}
	if !pristine(m, quiet) || !pristine(m, used) {
		t.Fatal("a new workspace is not pristine")
	}
	sts, err := m.BackupStatus(ctx)
	if err != nil || len(sts) != 3 || !sts[1].Pristine || sts[1].LastError != "" || sts[1].Registered {
		t.Fatalf("status = %+v, %v", sts, err)
	}
	// Checking and migrating every workspace does not open them for use.
	if n, err := m.CheckAll(ctx, 2, func(what string, err error) { t.Errorf("check %s: %v", what, err) }); err != nil || n != 3 {
		t.Fatalf("checked %d, %v", n, err)
	}
	if sum, err := m.MigrateAll(ctx, 2); err != nil || sum.Current != 2 {
		t.Fatalf("migrate: %+v, %v", sum, err)
	}
	if !pristine(m, quiet) || !pristine(m, used) || m.repl.registered(mustPath(t, m, quiet.ID)) != nil {
		t.Fatal("check or migrate opened a pristine workspace")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(mustPath(t, m, quiet.ID) + suffix); !os.IsNotExist(err) {
			t.Errorf("check or migrate left %s beside a pristine workspace: %v", suffix, err)
		}
	}
	addCompany(t, m, used.ID, "u1")
	if pristine(m, used) || !pristine(m, quiet) {
		t.Fatal("the first open did not clear pristine, or cleared another workspace's")
	}
	mustSync(t, m, used.ID)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(replicas, quiet.ID)); !os.IsNotExist(err) {
		t.Fatalf("a pristine workspace was replicated: %v", filesUnder(t, filepath.Join(replicas, quiet.ID)))
	}

	// Disaster: the data directory is lost; the catalog comes back from
	// its replica, the used workspace from its own, the quiet one from the
	// template.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, cfg)
	if got := companyNames(t, m, used.ID); got != "u1" {
		t.Fatalf("used workspace rows = %q", got)
	}
	if got := companyNames(t, m, quiet.ID); got != "" {
		t.Fatalf("quiet workspace rows = %q", got)
	}
	// The recovered catalog may be older than a retention policy: the
	// due-work index is rebuilt, so every workspace is looked at by the
	// next retention run.
	due, err := store.DueWork(ctx, m.Catalog().R, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range due {
		kinds[d.Kind]++
	}
	if kinds[store.DueRetention] != 2 || kinds[store.DueSend] != 2 {
		t.Fatalf("due work after recovery: %+v", due)
	}
	if pristine(m, quiet) {
		t.Fatal("opened after recovery, the quiet workspace is still pristine")
	}
	// The catalog's replica can lag behind the first open: a workspace the
	// catalog calls pristine but that has a replica restores from it.
	if _, err := m.Catalog().W.Exec(`UPDATE workspaces SET pristine = 1 WHERE id = ?`, used.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	path, _ := m.FilePath(used)
	if _, err := removeWorkspaceFiles(path); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := companyNames(t, m, used.ID); got != "u1" {
		t.Fatalf("after losing the file of a workspace marked pristine, rows = %q", got)
	}
}

// Opening a workspace that is no longer registered registers it again;
// that must continue its replica with what changed, not upload the whole
// file again. Litestream re-snapshots when the WAL was deleted while the
// file was not registered, which happened when its connection without
// PERSIST_WAL closed last. Opens back to back through a cache of one, with
// one registration lingering, so every open re-registers.
func TestReregistration_UploadsNoFullSnapshot(t *testing.T) {
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, MaxOpen: 1, MaxLingering: 1,
		JanitorInterval: time.Hour, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ids []string
	for range 6 {
		ids = append(ids, mustCreate(t, m, "W").ID)
	}
	for i := range 6 * len(ids) {
		l, err := m.Acquire(context.Background(), ids[i%len(ids)])
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := l.R.Get(&n, `SELECT count(*) FROM contacts`); err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	settleReplication(t, m)
	for _, id := range ids {
		full := 0
		for _, f := range filesUnder(t, filepath.Join(replicas, id)) {
			// Uploads are level 0; a higher level is Litestream compacting
			// what it has (a CI run saw level 1 copy the first snapshot).
			if !strings.Contains(f, "/ltx/0/") {
				continue
			}
			if pages := ltxPages(t, filepath.Join(replicas, id, f)); pages > 10 {
				full++
			}
		}
		if full != 1 {
			t.Errorf("workspace %s: %d full snapshots in its replica, want 1 (%v)", id, full, filesUnder(t, filepath.Join(replicas, id)))
		}
	}
}

// ltxPages counts the pages an LTX file holds.
func ltxPages(tb testing.TB, path string) int {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	dec := ltx.NewDecoder(f)
	if err := dec.DecodeHeader(); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, dec.Header().PageSize)
	n := 0
	for {
		var hdr ltx.PageHeader
		if err := dec.DecodePage(&hdr, buf); errors.Is(err, io.EOF) {
			return n
		} else if err != nil {
			tb.Fatal(err)
		}
		n++
	}
}

// A restore in place to the latest state keeps every write that succeeded
// before it: a writer keeps inserting while the restore runs, and each
// insert that returned without error is in the restored file. Requests
// during the restore are told to come back, not that the workspace is gone.
func TestRestoreLatest_KeepsWritesUpToTheSwap(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Busy")
	addCompany(t, m, w.ID, "c0000")
	mustSync(t, m, w.ID)

	stop := make(chan struct{})
	done := make(chan []string)
	go func() {
		var written []string
		for i := 1; ; i++ {
			select {
			case <-stop:
				done <- written
				return
			default:
			}
			l, err := m.Acquire(ctx, w.ID)
			if err != nil {
				if store.ErrorCode(err) != store.EUnavailable {
					t.Errorf("acquire during a restore: %v", err)
				}
				time.Sleep(time.Millisecond)
				continue
			}
			name := fmt.Sprintf("c%04d", i)
			_, err = l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, name, name)
			l.Release()
			if err == nil {
				written = append(written, name)
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	written := <-done
	got := "," + companyNames(t, m, w.ID) + ","
	for _, name := range written {
		if !strings.Contains(got, ","+name+",") {
			t.Fatalf("write %s succeeded before the restore but is not in the restored workspace (%d written)", name, len(written))
		}
	}
	if len(written) < 10 {
		t.Fatalf("only %d writes: the test did not exercise the race", len(written))
	}
}

// The backup status of a workspace that is no longer registered comes from
// memory: where its replica ended when it was unregistered, or when it was
// first listed after a start. The console does not LIST every replica on
// every view.
func TestBackupStatus_ListsEachReplicaOnce(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	var lists atomic.Int64
	testHookListReplica = func() { lists.Add(1) }
	t.Cleanup(func() { testHookListReplica = nil })
	var ws []*store.Workspace
	for _, name := range []string{"A", "B", "C"} {
		w := mustCreate(t, m, name)
		addCompany(t, m, w.ID, name)
		mustSync(t, m, w.ID)
		path, _ := m.FilePath(w)
		if err := m.cache.takeOut(ctx, w.ID, errNoWorkspace(w.ID)); err != nil {
			t.Fatal(err)
		}
		if err := m.repl.remove(ctx, path); err != nil {
			t.Fatal(err)
		}
		m.cache.putBack(w.ID)
		ws = append(ws, w)
	}
	inSync := func(m *Manager) {
		t.Helper()
		sts, err := m.BackupStatus(ctx)
		if err != nil || len(sts) != 4 {
			t.Fatalf("status = %+v, %v", sts, err)
		}
		for _, st := range sts[1:] {
			if st.Registered || st.ReplicatedTXID == 0 || st.LagTXIDs != 0 || st.LastReplicatedAt == nil {
				t.Fatalf("status = %+v", st)
			}
		}
	}
	inSync(m)
	inSync(m)
	if n := lists.Load(); n != 0 {
		t.Fatalf("%d replica listings for workspaces unregistered by this process", n)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	inSync(m)
	first := lists.Load()
	inSync(m)
	// One per workspace, and the catalog's when it has not synced yet
	// since the start.
	if n := lists.Load(); first < int64(len(ws)) || first > int64(len(ws))+1 || n != first {
		t.Fatalf("replica listings after a restart: %d on the first view, %d in all; want one per replica", first, n)
	}
}

// A move whose removal of the old copy fails records the copy, and the
// background job removes it later: no copy stays behind in the region the
// workspace left.
func TestMove_OldCopyRemovedLater(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, other := twoRegionConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Home")
	addCompany(t, m, w.ID, "home")
	mustSync(t, m, w.ID)
	oldPath := mustPath(t, m, w.ID)
	calls := 0
	testHookDeleteReplica = func(string) error {
		if calls++; calls > 1 { // the first is the new region's, before the switch
			return errors.New("object storage unreachable")
		}
		return nil
	}
	defer func() { testHookDeleteReplica = nil }()
	moved, err := m.Move(ctx, w.ID, "eu", "test")
	if moved == nil || moved.Region != "eu" || err == nil || !strings.Contains(err.Error(), "will be retried") {
		t.Fatalf("move = %+v, %v", moved, err)
	}
	if _, err := os.Stat(oldPath); err != nil {
		t.Fatalf("the old copy went although its replica could not: %v", err)
	}
	if err := m.RemoveLeftovers(ctx); err == nil {
		t.Fatal("retry while the replica is unreachable: no error")
	}
	testHookDeleteReplica = nil
	if err := m.RemoveLeftovers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Fatalf("old file left: %v", err)
	}
	assertOnlyPrefixes(t, filepath.Join(other, "default-replica"), catalogPrefix)
	if ls, _ := store.Leftovers(ctx, m.Catalog().R); len(ls) != 0 {
		t.Fatalf("leftovers = %+v", ls)
	}
	if got := companyNames(t, m, w.ID); got != "home" {
		t.Fatalf("rows after the cleanup = %q", got)
	}
	// Moved back: the copy there is the workspace, not a leftover.
	if _, err := m.Move(ctx, w.ID, "default", "test"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveLeftovers(ctx); err != nil {
		t.Fatal(err)
	}
	if got := companyNames(t, m, w.ID); got != "home" {
		t.Fatalf("rows after moving back = %q", got)
	}
}

// A restore in place refuses when the workspace's last changes cannot reach
// the replica first, instead of replacing them; the file stays as it was.
func TestRestore_RefusedWhenLastChangesCannotBeBackedUp(t *testing.T) {
	defer func(d time.Duration) { shutdownSyncTimeout = d }(shutdownSyncTimeout)
	shutdownSyncTimeout = 300 * time.Millisecond
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "a")
	mustSync(t, m, w.ID)
	addCompany(t, m, w.ID, "b")
	// The replica becomes unwritable (a file where its directory was: even
	// root cannot write below it).
	dir := filepath.Join(replicas, w.ID)
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := m.Restore(ctx, w.ID, RestoreOptions{Actor: "test"})
	if err == nil || !strings.Contains(err.Error(), "could not be backed up first") {
		t.Fatalf("restore with an unwritable replica: %v", err)
	}
	if got := companyNames(t, m, w.ID); got != "a,b" {
		t.Fatalf("rows after the refused restore = %q", got)
	}
}

// A key revoked after the moment a workspace is restored to stays revoked
// after the restore; a workspace restored as new starts with no key.
func TestRestore_KeepsKeysRevoked(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := mustCreate(t, m, "Acme")
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, k, err := store.CreateAPIKey(ctx, l.DB, store.Actor{Kind: "system"}, w.ID, "ci", "write")
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	before := syncedMoment(t, m, w.ID)
	l, _ = m.Acquire(ctx, w.ID)
	err = m.Service(l).RevokeAPIKey(ctx, store.Actor{Kind: "system"}, k.ID)
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, m, w.ID)

	works := func(id string) bool {
		t.Helper()
		_, keyID, secret, err := store.ParseAPIKey(key)
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		_, err = store.AuthenticateAPIKey(ctx, l.DB, keyID, secret)
		return err == nil
	}
	copied, err := m.Restore(ctx, w.ID, RestoreOptions{At: before, AsNew: "Copy"})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := m.Acquire(ctx, copied.ID)
	keys, err := store.ListAPIKeys(ctx, cl.DB)
	cl.Release()
	if err != nil || len(keys) != 0 {
		t.Fatalf("the workspace restored as new has keys: %+v, %v", keys, err)
	}
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{At: before}); err != nil {
		t.Fatal(err)
	}
	if works(w.ID) {
		t.Fatal("the revoked key works again after a restore to before its revocation")
	}
}

// A restore is written into the restored file's audit log (who, which
// moment, from which workspace), after the events it took back, as well as
// into the catalog's event log.
func TestRestore_RecordedInTheRestoredFile(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "Before")
	at := syncedMoment(t, m, w.ID)
	addCompany(t, m, w.ID, "After")
	mustSync(t, m, w.ID)
	lastEvent := func(id string) store.AuditEvent {
		t.Helper()
		l, err := m.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		events, _, err := store.ListAudit(ctx, l.DB, store.AuditFilter{Limit: 1})
		if err != nil || len(events) == 0 {
			t.Fatalf("audit: %v, %v", events, err)
		}
		return events[0]
	}
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{At: at, Actor: "user:u-1"}); err != nil {
		t.Fatal(err)
	}
	e := lastEvent(w.ID)
	if e.Action != "workspace.restore" || e.Actor != "user:u-1" || e.ChangesMap()["restored_to"].After != at.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("the restored file's last event: %+v", e)
	}
	copied, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy", Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if e := lastEvent(copied.ID); e.Action != "workspace.restore" || e.ChangesMap()["restored_from"].After != w.ID || e.ChangesMap()["restored_to"].After != "latest" {
		t.Fatalf("the copy's last event: %+v", e)
	}
	events, err := store.WorkspaceEvents(ctx, m.catalog.R, w.ID)
	if err != nil || events[len(events)-1].Action != "workspace.restore" {
		t.Fatalf("catalog events: %+v, %v", events, err)
	}
}

// A workspace restored as new has as members the person who restored it
// (its owner) or, restored from the command line, the source's owners:
// nobody else of the source comes along.
func TestRestoreAsNew_Members(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	users := map[string]*store.User{}
	for _, email := range []string{"owner@example.com", "admin@example.com", "viewer@example.com"} {
		u, err := store.CreateUser(ctx, m.catalog, store.NewUser{Email: email, Password: "correct horse battery", Verified: true})
		if err != nil {
			t.Fatal(err)
		}
		users[email] = u
	}
	w, err := m.Create(ctx, CreateOptions{Name: "Acme", OwnerEmail: "owner@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for email, role := range map[string]string{"admin@example.com": "admin", "viewer@example.com": "viewer"} {
		if err := store.AddMember(ctx, m.catalog.W, users[email].ID, w.ID, role); err != nil {
			t.Fatal(err)
		}
	}
	addCompany(t, m, w.ID, "Acme Inc")
	mustSync(t, m, w.ID)
	members := func(id string) string {
		t.Helper()
		ms, err := store.WorkspaceMembers(ctx, m.catalog.R, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, mb := range ms {
			got = append(got, mb.Email+":"+mb.Role)
		}
		return strings.Join(got, ",")
	}
	byAdmin, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "By the admin", Actor: "user:" + users["admin@example.com"].ID})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := members(byAdmin.ID), "admin@example.com:owner"; got != want {
		t.Errorf("restored by a person: members %s, want %s", got, want)
	}
	fromCLI, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "From the CLI", Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := members(fromCLI.ID), "owner@example.com:owner"; got != want {
		t.Errorf("restored from the command line: members %s, want %s", got, want)
	}
}

// An erasure survives restores and imports of the workspace's own archive:
// the person erased is erased again, found by id or, if recreated, by
// email; the ledger keeps no personal data.
func TestErasure_SurvivesRestoreAndImport(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := mustCreate(t, m, "Acme")
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	name, email := "Zsofia", "zsofia@example.com"
	c, err := store.CreateContact(ctx, l.DB, store.Actor{Kind: "system"}, store.ContactInput{FirstName: &name, Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	other := "Bo"
	if _, err := store.CreateContact(ctx, l.DB, store.Actor{Kind: "system"}, store.ContactInput{FirstName: &other}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "acme.zip")
	f, _ := os.Create(archive)
	if _, err := store.ExportWorkspace(ctx, l.DB, store.ExportMeta{ID: w.ID, Name: w.Name}, t.TempDir(), f, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l.Release()
	before := syncedMoment(t, m, w.ID)
	l, _ = m.Acquire(ctx, w.ID)
	err = m.Service(l).EraseContact(ctx, store.Actor{Kind: "system"}, c.ID)
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, m, w.ID)

	names := func(id string) string {
		t.Helper()
		return joinedColumn(t, m, id, `SELECT first_name FROM contacts ORDER BY first_name`)
	}
	copied, err := m.Restore(ctx, w.ID, RestoreOptions{At: before, AsNew: "Copy"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(copied.ID); got != "Bo" {
		t.Errorf("restored as new from before the erasure: %s", got)
	}
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{At: before}); err != nil {
		t.Fatal(err)
	}
	if got := names(w.ID); got != "Bo" {
		t.Errorf("restored in place to before the erasure: %s", got)
	}
	imported, err := m.Import(ctx, archive, CreateOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(imported.ID); got != "Bo" {
		t.Errorf("its archive from before the erasure imported: %s", got)
	}
	es, err := store.Erasures(ctx, m.catalog.R, w.ID)
	if err != nil || len(es) != 1 || es[0].ContactID != c.ID || strings.Contains(es[0].EmailHash, "zsofia") || es[0].EmailHash == "" {
		t.Fatalf("the ledger: %+v, %v", es, err)
	}
}

// settleL0Soon shortens, for t, the L1 compaction, the L0 retention and
// the driver's L0 check after a write to seconds, and the store-wide check
// to never.
func settleL0Soon(t *testing.T) {
	levels, retention, settle, check := compactionLevels, l0Retention, l0SettleDelay, l0RetentionCheckInterval
	t.Cleanup(func() {
		compactionLevels, l0Retention, l0SettleDelay, l0RetentionCheckInterval = levels, retention, settle, check
	})
	compactionLevels = litestream.CompactionLevels{{Level: 0}, {Level: 1, Interval: time.Second}}
	l0Retention, l0SettleDelay, l0RetentionCheckInterval = time.Second, 3*time.Second, time.Hour
}

// TestReplication_L0FilesLeaveSoonAfterAWrite: the L0 files of writes
// leave the local disk once Litestream's retention allows, checked by the
// driver for the written file (l0SettleDelay), not only by the store-wide
// check, which here never comes.
func TestReplication_L0FilesLeaveSoonAfterAWrite(t *testing.T) {
	settleL0Soon(t)

	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Busy")
	path, err := m.FilePath(w)
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for i := range 5 {
		if _, err := l.W.Exec(`INSERT INTO tags (name) VALUES (?)`, fmt.Sprint("tag ", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Sync(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
	}
	l0 := filepath.Join(metaPath(path), "ltx", "0")
	count := func() int {
		entries, err := os.ReadDir(l0)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	if n := count(); n < 5 {
		t.Fatalf("%d L0 files after five synced writes, want at least 5", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d L0 files 30 s after the last write; Litestream keeps only the newest once the rest are in L1", count())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitCheckRestored waits for the full check of workspace id's restored
// file (started by the restore or move) and returns it.
func waitCheckRestored(tb testing.TB, m *Manager, id string) *store.Job {
	tb.Helper()
	j, err := m.WaitCheckRestored(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}
