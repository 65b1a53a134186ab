package tenant

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"atrium/store"
)

// damagedWorkspaceFile writes a workspace file holding a table with an
// index on an expression (upper(v)), so that its entries are the only
// upper-case copies of the values in the file, and damages the index in
// it: "page" zeroes the type of the b-tree page holding the entry
// V01000-X (quick_check finds it), "entry" changes that entry to V01000-Y
// (order kept: only integrity_check, matching index to table, finds it).
func damagedWorkspaceFile(t *testing.T, m *Manager, damage string) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(path, m.template, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path, store.OpenOptions{Transient: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.W.ExecContext(ctx, `CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
		CREATE INDEX probe_upper ON probe (upper(v));
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
		INSERT INTO probe (v) SELECT printf('v%05d-x', i) FROM n`)
	if err == nil {
		err = db.IntegrityCheck(ctx)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path) // the last close checkpointed the WAL
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte("V01000-X"))
	if at < 0 || bytes.Count(b, []byte("V01000-X")) != 1 {
		t.Fatalf("the index entry is in the file %d times", bytes.Count(b, []byte("V01000-X")))
	}
	pageSize := int(binary.BigEndian.Uint16(b[16:18]))
	switch damage {
	case "page":
		b[at/pageSize*pageSize] = 0 // no b-tree page type is 0
	case "entry":
		b[at+len("V01000-")] = 'Y'
	default:
		t.Fatalf("damage %q", damage)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// takeInReplicated makes the file at path a new workspace and replicates
// it: its replica holds the file as it is, damage included, under good
// LTX checksums.
func takeInReplicated(t *testing.T, m *Manager, path string) *store.Workspace {
	t.Helper()
	w, err := m.Create(context.Background(), CreateOptions{Name: "Damaged", From: path})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, m, w.ID)
	return w
}

// A restored file that quick_check finds damaged is refused on the way,
// restored as new or in place: no workspace is made, the original stays.
func TestRestore_RefusesFileQuickCheckFinds(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := takeInReplicated(t, m, damagedWorkspaceFile(t, m, "page"))
	before, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive, store.StateCreating)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []RestoreOptions{{AsNew: "Copy"}, {}} {
		_, err := m.Restore(ctx, w.ID, opts)
		if err == nil || !strings.Contains(err.Error(), "is not usable") || !strings.Contains(err.Error(), "quick check") {
			t.Fatalf("restore %+v: err = %v", opts, err)
		}
	}
	after, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive, store.StateCreating)
	if err != nil || len(after) != len(before) {
		t.Fatalf("workspaces before %d, after %d (%v)", len(before), len(after), err)
	}
	got, err := m.Workspace(ctx, w.ID)
	if err != nil || got.ReplicaGen > 1 {
		t.Fatalf("the original after the refused restore in place: %+v, %v", got, err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(mustPath(t, m, w.ID)), ".restore-*")); len(dirs) > 0 {
		t.Fatalf("left behind: %v", dirs)
	}
}

// After a restore (as new, in place) and a move, the file's full
// integrity_check runs as a job, which records that it passed.
func TestRestore_FullCheckRunsAfterwards(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := twoRegionConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "Before")
	mustSync(t, m, w.ID)
	passed := func(id string) {
		t.Helper()
		j := waitCheckRestored(t, m, id)
		var res RestoreCheck
		if j.State != store.JobDone || json.Unmarshal([]byte(j.Result), &res) != nil || res.IntegrityCheck != "ok" {
			t.Fatalf("check of %s: %+v", id, j)
		}
	}
	copied, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy"})
	if err != nil {
		t.Fatal(err)
	}
	passed(copied.ID)
	l, err := m.Acquire(ctx, copied.ID)
	if err != nil {
		t.Fatal(err)
	}
	audit, _, err := store.ListAudit(ctx, l.DB, store.AuditFilter{Action: "workspace.integrity_check", Limit: 1})
	l.Release()
	if err != nil || len(audit) != 1 || audit[0].ChangesMap()["result"].After != "ok" || audit[0].ChangesMap()["after"].After != "restore" {
		t.Fatalf("the copy's audit: %+v, %v", audit, err)
	}
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	passed(w.ID)
	if _, err := m.Move(ctx, w.ID, "eu", "cli"); err != nil {
		t.Fatal(err)
	}
	j := waitCheckRestored(t, m, w.ID)
	if j.State != store.JobDone || j.CreatedBy != "cli" {
		t.Fatalf("check after the move: %+v", j)
	}
	if st := mustBackupStatus(t, m, w.ID); st.VerifyFailedLast() {
		t.Fatalf("backup status: %+v", st)
	}
}

// A restored copy's or a taken-in file's replication begins with a
// snapshot of the whole file, a local L0 file Litestream keeps while it is
// the newest. The full check's record in the audit log, or the take-in's,
// writes after it, so the snapshot leaves the disk at the next L0
// retention, with no user's write.
func TestReplication_SnapshotLeavesTheDiskWithNoUserWrite(t *testing.T) {
	settleL0Soon(t)

	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "Before")
	mustSync(t, m, w.ID)
	t.Run("RestoredCopy", func(t *testing.T) {
		copied, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy"})
		if err != nil {
			t.Fatal(err)
		}
		waitCheckRestored(t, m, copied.ID)
		waitSnapshotGone(t, m, copied)
	})
	t.Run("TakenIn", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "plain.zip")
		out, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.Acquire(ctx, mustCreate(t, m, "Plain").ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.ExportTo(ctx, l, out, "")
		l.Release()
		if err != nil || out.Close() != nil {
			t.Fatal(err)
		}
		taken, err := m.Import(ctx, file, CreateOptions{Name: "Taken"})
		if err != nil {
			t.Fatal(err)
		}
		waitSnapshotGone(t, m, taken)
		l, err = m.Acquire(ctx, taken.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		audit, _, err := store.ListAudit(ctx, l.DB, store.AuditFilter{Action: "workspace.take_in", Limit: 1})
		if err != nil || len(audit) != 1 {
			t.Fatalf("the take-in's audit: %+v, %v", audit, err)
		}
	})
}

// waitSnapshotGone syncs w, sees its snapshot among its local L0 files,
// and waits for it to leave.
func waitSnapshotGone(t *testing.T, m *Manager, w *store.Workspace) {
	t.Helper()
	mustSync(t, m, w.ID)
	path, err := m.FilePath(w)
	if err != nil {
		t.Fatal(err)
	}
	l0 := filepath.Join(metaPath(path), "ltx", "0")
	snapshot := func() bool {
		entries, err := os.ReadDir(l0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if min, _, err := ltx.ParseFilename(e.Name()); err == nil && min == 1 {
				return true
			}
		}
		return false
	}
	if !snapshot() {
		t.Fatal("no snapshot among the L0 files")
	}
	for deadline := time.Now().Add(30 * time.Second); snapshot(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the snapshot L0 file is still there after 30 s")
		}
	}
}

// A restored file damaged where only integrity_check looks (an index
// entry that matches no row) passes quick_check, so the restore goes
// through; the full check afterwards fails, and says so: the job fails,
// the workspace's backup status shows a failed check, and the catalog's
// event log and the workspace's audit log record it.
func TestRestore_FullCheckFailureIsShown(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := takeInReplicated(t, m, damagedWorkspaceFile(t, m, "entry"))
	copied, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy", Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	j := waitCheckRestored(t, m, copied.ID)
	if j.State != store.JobFailed || !strings.Contains(j.Error, "is damaged") || !strings.Contains(j.Error, "probe_upper") {
		t.Fatalf("check job: %+v", j)
	}
	st := mustBackupStatus(t, m, copied.ID)
	if !st.VerifyFailedLast() || !strings.Contains(st.VerifyFailure, "after the restore, the file failed its full integrity check") {
		t.Fatalf("backup status: %+v", st)
	}
	events, err := store.WorkspaceEvents(ctx, m.catalog.R, copied.ID)
	if err != nil || events[len(events)-1].Action != "workspace.restore.check_failed" {
		t.Fatalf("catalog events: %+v, %v", events, err)
	}
	l, err := m.Acquire(ctx, copied.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	audit, _, err := store.ListAudit(ctx, l.DB, store.AuditFilter{Action: "workspace.integrity_check", Limit: 1})
	if err != nil || len(audit) != 1 || audit[0].ChangesMap()["result"].After != "failed" {
		t.Fatalf("audit: %+v, %v", audit, err)
	}
}

// restoreLTX's own application of a restore plan (a snapshot, then later
// files, some of which shrink the file) gives the file Litestream's
// restore gives, at every transaction.
func TestApplyRestorePlan_AsLitestream(t *testing.T) {
	ctx := context.Background()
	m := openFileReplicated(t)
	w := mustCreate(t, m, "Acme")
	var txids []ltx.TXID
	for i := range 6 {
		mustExec(t, m, w.ID, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
			INSERT INTO companies (id, name, created_at, updated_at) SELECT ? || '-' || i, hex(randomblob(800)), 0, 0 FROM n`, i)
		if i%2 == 1 {
			mustExec(t, m, w.ID, `DELETE FROM companies WHERE id LIKE ? || '-%'`, i-1)
			mustExec(t, m, w.ID, `VACUUM`)
		}
		txid, err := m.Sync(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		txids = append(txids, ltx.TXID(txid))
	}
	tgt, err := m.regionTarget(w.Region)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.replicaClient(ctx, tgt, w.ID, "g1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, txid := range txids {
		infos, err := litestream.CalcRestorePlan(ctx, c, txid, time.Time{}, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		ours := filepath.Join(dir, fmt.Sprintf("ours-%d.db", txid))
		if err := applyRestorePlan(ctx, c, infos, ours); err != nil {
			t.Fatalf("txid %d (%d files): %v", txid, len(infos), err)
		}
		theirs := filepath.Join(dir, fmt.Sprintf("theirs-%d.db", txid))
		opt := litestream.NewRestoreOptions()
		opt.OutputPath, opt.TXID = theirs, txid
		if err := litestream.NewReplicaWithClient(nil, c).Restore(ctx, opt); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(ours)
		b, _ := os.ReadFile(theirs)
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("txid %d (%d files): ours %d bytes, Litestream's %d, equal %v", txid, len(infos), len(a), len(b), bytes.Equal(a, b))
		}
	}
}

// A replica file damaged in storage fails its LTX checksum: the restore
// is refused.
func TestRestore_RefusesDamagedReplicaFile(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := fileReplicaConfig(t, dataDir)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Acme")
	addCompany(t, m, w.ID, "Before")
	mustSync(t, m, w.ID)
	var biggest string
	var size int64
	filepath.WalkDir(replicas, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ltx") && strings.Contains(p, w.ID) {
			if fi, err := d.Info(); err == nil && fi.Size() > size {
				biggest, size = p, fi.Size()
			}
		}
		return nil
	})
	if biggest == "" {
		t.Fatal("no LTX file in the replica")
	}
	b, err := os.ReadFile(biggest)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(biggest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy"}); err == nil {
		t.Fatal("a damaged replica file restored")
	}
}
