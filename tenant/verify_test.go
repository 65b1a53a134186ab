package tenant

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"atrium/store"
)

func TestVerifyReplica_Passes(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := mustCreate(t, m, "Acme")
	for i := range 20 {
		if err := createContact(m, w.ID, fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	v, err := m.VerifyReplica(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Failure != "" || v.TXID == 0 || v.Pages < 10 || v.Generation != 1 || v.NewGeneration != 0 {
		t.Fatalf("got %+v", v)
	}
	st := mustBackupStatus(t, m, w.ID)
	if st.VerifiedAt == nil || st.VerifiedTXID != v.TXID || st.VerifyFailedAt != nil {
		t.Fatalf("status after a verification that passed: %+v", st)
	}

	t.Run("Catalog", func(t *testing.T) {
		v, err := m.VerifyReplica(ctx, "catalog")
		if err != nil || v.Failure != "" || v.TXID == 0 {
			t.Fatalf("got %+v, %v", v, err)
		}
		if st := m.CatalogBackupStatus(ctx); st.VerifiedAt == nil || st.VerifiedTXID != v.TXID {
			t.Fatalf("catalog status: %+v", st)
		}
	})
	t.Run("NeverOpened", func(t *testing.T) {
		p := mustCreate(t, m, "Pristine")
		if _, err := m.VerifyReplica(ctx, p.ID); store.ErrorCode(err) != store.EInvalid {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		if _, err := m.VerifyReplica(ctx, NewID()); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("err = %v", err)
		}
	})
}

// A replica that lost changes (written here behind Litestream's back, the
// way the bug of issue 25 lost them) fails its verification, which starts
// a new generation; the latest state then restores from it.
func TestVerifyReplica_FailureStartsNewGeneration(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Acme")
	// A long WAL, all of it replicated: the frames written behind
	// Litestream's back come after its end.
	mustExec(t, m, w.ID, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
		INSERT INTO companies (id, name, created_at, updated_at) SELECT 'before-' || i, hex(randomblob(1500)), 0, 0 FROM n`)
	path := mustPath(t, m, w.ID)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	restartWALBehindLitestream(t, path, `INSERT INTO companies (id, name, created_at, updated_at) VALUES ('behind-' || ?, hex(randomblob(1500)), 0, 0)`)

	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	v, err := m.VerifyReplica(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Failure == "" || v.Generation != 1 || v.NewGeneration != 2 {
		t.Fatalf("got %+v", v)
	}
	t.Logf("failure: %s", v.Failure)
	st := mustBackupStatus(t, m, w.ID)
	if st.VerifyFailedAt == nil || st.VerifyFailure != v.Failure || st.VerifiedAt != nil {
		t.Fatalf("status after a failed verification: %+v", st)
	}
	events, err := store.WorkspaceEvents(ctx, m.catalog.R, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Action != "workspace.backup_failed" {
		t.Fatalf("last event = %+v", last)
	}
	if _, failed := m.VerifyCounts(); failed != 1 {
		t.Fatalf("failed verifications counted: %d", failed)
	}

	// The new generation holds a full snapshot: it verifies, and a restore
	// of the latest state brings back every company.
	v, err = m.VerifyReplica(ctx, w.ID)
	if err != nil || v.Failure != "" || v.Generation != 2 {
		t.Fatalf("second verification: %+v, %v", v, err)
	}
	st = mustBackupStatus(t, m, w.ID)
	if st.VerifiedAt == nil || st.VerifyFailedAt == nil {
		t.Fatalf("status keeps the failure beside the later success: %+v", st)
	}
	want := companyCount(t, m, w.ID)
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := companyCount(t, m, w.ID); got != want || want < 100 {
		t.Fatalf("restored %d companies, had %d", got, want)
	}
}

// restartWALBehindLitestream runs insert (given a counter) on the file at
// path, which nothing replicates now, from a connection that checkpoints
// as SQLite does by default, until the WAL restarts, and keeps the WAL
// when it closes. The WAL's frames from before the restart are lost to
// Litestream.
func restartWALBehindLitestream(tb testing.TB, path, insert string) {
	tb.Helper()
	// SQLite's own WAL size limit (none), not the one the process gives
	// connections that choose none (store.WALSizeLimit): with it, this
	// connection, the last to close, would cut the WAL to nothing.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_size_limit(-1)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(c any) error {
		_, err := c.(sqlite.FileControl).FileControlPersistWAL("main", 1)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	header := walHeaderOf(tb, path)
	for i := 0; ; i++ {
		if _, err := conn.ExecContext(context.Background(), insert, i); err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(header, walHeaderOf(tb, path)) {
			return
		}
	}
}

func walHeaderOf(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := os.Open(path + "-wal")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 32)
	if _, err := f.ReadAt(b, 0); err != nil {
		tb.Fatal(err)
	}
	return b
}

func companyCount(tb testing.TB, m *Manager, id string) int {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	var n int
	if err := l.R.Get(&n, `SELECT count(*) FROM companies`); err != nil {
		tb.Fatal(err)
	}
	return n
}

func mustBackupStatus(tb testing.TB, m *Manager, id string) BackupStatus {
	tb.Helper()
	w, err := store.GetWorkspace(context.Background(), m.catalog.R, id)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := m.WorkspaceBackupStatus(context.Background(), w.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// The background verifier takes a rolling sample: every workspace that was
// ever opened gets verified in turn, the one checked longest ago first.
func TestVerifier_RollingSample(t *testing.T) {
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, SyncInterval: testSyncInterval,
		JanitorInterval: time.Hour, VerifyInterval: 20 * time.Millisecond, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ids []string
	for i := range 3 {
		w := mustCreate(t, m, "W")
		addCompany(t, m, w.ID, fmt.Sprint(i))
		ids = append(ids, w.ID)
	}
	pristine := mustCreate(t, m, "Never opened")
	waitVerified(t, m, ids...)
	if st := mustBackupStatus(t, m, pristine.ID); st.VerifiedAt != nil || st.VerifyFailedAt != nil {
		t.Fatalf("a never-opened workspace was verified: %+v", st)
	}
	if passed, failed := m.VerifyCounts(); passed < 3 || failed != 0 {
		t.Fatalf("passed %d, failed %d", passed, failed)
	}
}

// A workspace registered again (its handle and registration ended, then it
// was opened again) is verified once its writes have landed.
func TestVerifier_AfterReregistration(t *testing.T) {
	defer func(d time.Duration) { reregistrationDelay = d }(reregistrationDelay)
	reregistrationDelay = 0
	dataDir := t.TempDir()
	cfg, _ := fileReplicaConfig(t, dataDir)
	m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, MaxOpen: 1, MaxLingering: 1,
		SyncInterval: testSyncInterval, JanitorInterval: time.Hour, VerifyInterval: time.Hour, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a, b, c := mustCreate(t, m, "A"), mustCreate(t, m, "B"), mustCreate(t, m, "C")
	addCompany(t, m, a.ID, "first")
	addCompany(t, m, b.ID, "b")
	addCompany(t, m, c.ID, "c")
	settleReplication(t, m)
	// A's registration ends once it is the longest unused of two lingering
	// ones: the reaper's order and time vary, so B and C take turns until
	// it has.
	for i := 0; registeredID(m, a.ID); i++ {
		if i == 500 {
			t.Fatal("A's registration did not end")
		}
		addCompany(t, m, []string{b.ID, c.ID}[i%2], fmt.Sprint(i))
		time.Sleep(20 * time.Millisecond)
	}
	addCompany(t, m, a.ID, "again")
	waitVerified(t, m, a.ID)
}

// registeredID says whether the workspace's file is registered with
// Litestream.
func registeredID(m *Manager, id string) bool {
	for path := range m.repl.registeredDBs() {
		if strings.Contains(filepath.Base(path), id) {
			return true
		}
	}
	return false
}

// waitVerified waits until each of ids has a verification that passed.
func waitVerified(tb testing.TB, m *Manager, ids ...string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			st := mustBackupStatus(tb, m, id)
			if st.VerifyFailedAt != nil {
				tb.Fatalf("workspace %s failed its verification: %s", id, st.VerifyFailure)
			}
			if st.VerifiedAt != nil {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("workspace %s was not verified within 30 s", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// A verification's working directory (as large as the workspace) and the
// others a dead process left behind are removed at the next start.
func TestOpen_RemovesLeftoverWorkingDirs(t *testing.T) {
	dataDir := t.TempDir()
	cfg, other := twoRegionConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	eu := filepath.Join(other, "eu-data")
	left := []string{filepath.Join(dataDir, "workspaces", ".verify-123"), filepath.Join(eu, ".verify-9"),
		filepath.Join(dataDir, ".restore-1"), filepath.Join(dataDir, ".import-2"), filepath.Join(dataDir, ".template-3"),
		filepath.Join(dataDir, ".export-4"), filepath.Join(dataDir, ".upload-5")}
	for _, dir := range left {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x.db"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(dataDir, "workspaces", "verify-not-a-leftover")
	if err := os.WriteFile(keep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	for _, dir := range left {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", dir, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file that is no working directory was removed: %v", err)
	}
}

// The catalog's replica is verified too; a damaged one is shown as failed
// (the catalog has no generations to replace it with).
func TestVerifyCatalogReplica_Failure(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if err := m.SyncCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	files := filesUnder(t, filepath.Join(replicas, catalogPrefix))
	last := filepath.Join(replicas, catalogPrefix, files[len(files)-1])
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+64 && i < len(b); i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(last, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := m.VerifyReplica(ctx, "catalog")
	if err != nil || v.Failure == "" {
		t.Fatalf("got %+v, %v", v, err)
	}
	if st := m.CatalogBackupStatus(ctx); !st.VerifyFailedLast() || st.VerifyFailure != v.Failure {
		t.Fatalf("catalog status: %+v", st)
	}
}
