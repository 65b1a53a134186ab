package tenant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// RestoreOptions say what Restore brings back and where to.
type RestoreOptions struct {
	// At is the moment to restore to; zero means the latest replicated state.
	At time.Time
	// AsNew, when set, restores into a new workspace with this name and
	// leaves the original alone; otherwise the original is replaced.
	AsNew string
	// Actor is who asked, for the event log.
	Actor string
}

// Window is the span of time a workspace can be restored to.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// errNoBackup is returned when no replica holds the state asked for.
func errNoBackup(id string, at time.Time) error {
	if at.IsZero() {
		return store.Errorf(store.ENotFound, "Workspace %s has no backup to restore from.", id)
	}
	return store.Errorf(store.ENotFound, "No backup of workspace %s goes back to %s; see its restorable window.", id, at.Format(time.RFC3339))
}

// Restore brings a workspace back from its replica, as it was at opts.At or
// at its latest replicated state. The file is restored to a new path and
// must pass the checks of restoreValidated before it is used; the full
// integrity_check follows as a job (see checkRestoredLater). In place,
// requests in flight finish on the old handle; the workspace is then taken
// out of the cache like a deletion does, the file is swapped, and it
// replicates from then on under a new generation, so the history before
// the restore stays restorable. With opts.AsNew it becomes a new workspace (same region; see
// giveRestoredCopy for its members) and the original is untouched. Restore
// works when the local file and Litestream's local state are gone. It
// runs in a job slot of the workspace (see RunHeavy).
func (m *Manager) Restore(ctx context.Context, id string, opts RestoreOptions) (w *store.Workspace, err error) {
	if id, err = ParseID(id); err != nil {
		return nil, err
	}
	err = m.RunHeavy(ctx, id, HeavyRestore, func() error {
		w, err = m.restore(ctx, id, opts)
		return err
	})
	return w, err
}

func (m *Manager) restore(ctx context.Context, id string, opts RestoreOptions) (*store.Workspace, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return nil, err
	}
	if opts.AsNew != "" {
		if w.State != store.StateActive && w.State != store.StateTrashed {
			return nil, errNoWorkspace(id)
		}
		return m.restoreAsNew(ctx, w, opts)
	}
	if w.State != store.StateActive {
		return nil, errNoWorkspace(id)
	}
	if w, err = m.restoreInPlace(ctx, id, opts); err != nil {
		return nil, err
	}
	// Now that the workspace is back in the cache: the job leases it.
	m.checkRestoredLater(ctx, w.ID, opts.Actor, "restore")
	return w, nil
}

// restoreInPlace takes the workspace out of use before it restores, so its
// last writes reach the replica first ("latest" holds them; a restore to an
// earlier moment leaves them restorable in the old generation) and none can
// come after that sync and be lost in the swap.
func (m *Manager) restoreInPlace(ctx context.Context, id string, opts RestoreOptions) (*store.Workspace, error) {
	busy := store.Errorf(store.EUnavailable, "Workspace %s is being restored; try again in a moment.", id)
	if err := m.cache.takeOut(ctx, id, busy); err != nil {
		return nil, err
	}
	defer m.cache.putBack(id)
	// Read now that nothing else uses it: a first open that was under way
	// has cleared pristine, a move has changed its region.
	w, path, err := m.activeWorkspace(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := m.repl.remove(ctx, path); err != nil {
		return nil, fmt.Errorf("cannot restore workspace %s: its last changes could not be backed up first, and restoring would lose them (%w); "+
			"if its file is damaged, remove the file and it is restored from its replica when next opened", w.ID, err)
	}
	tmp, cleanup, err := m.restoreValidated(ctx, w, opts.At, filepath.Dir(path), false)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := recordRestore(ctx, tmp, w.ID, w.ID, opts); err != nil {
		return nil, err
	}
	// The catalog moves to the new generation before the swap: a crash in
	// between leaves the old file, replicating under the new generation.
	w.ReplicaGen = max(w.ReplicaGen, 1) + 1
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.SetWorkspaceReplica(ctx, tx, w.ID, w.Region, w.ReplicaGen); err != nil {
			return err
		}
		// The restored file may hold another retention policy.
		if err := store.SetDue(ctx, tx, w.ID, store.DueRetention, time.Now()); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actorOr(opts.Actor), "workspace.restore", w.ID, restoreDetail(opts, w.ReplicaGen))
	})
	if err != nil {
		return nil, err
	}
	if err := swapIn(tmp, path); err != nil {
		return nil, fmt.Errorf("cannot put the restored file of workspace %s in place: %w", w.ID, err)
	}
	return w, nil
}

func restoreDetail(opts RestoreOptions, gen int) map[string]any {
	d := map[string]any{"generation": gen}
	if !opts.At.IsZero() {
		d["at"] = opts.At.UTC()
	}
	if opts.AsNew != "" {
		d["as_new"] = opts.AsNew
	}
	return d
}

// swapIn replaces the file at path, its WAL and Litestream's local state
// with the restored file at tmp. The file itself is replaced by the rename,
// so a failure or crash part-way never leaves path without a file.
func swapIn(tmp, path string) error {
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.RemoveAll(metaPath(path)); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func (m *Manager) restoreAsNew(ctx context.Context, src *store.Workspace, opts RestoreOptions) (*store.Workspace, error) {
	name, err := ValidateName(opts.AsNew)
	if err != nil {
		return nil, err
	}
	w := &store.Workspace{ID: NewID(), Name: name, Region: src.Region, State: store.StateCreating, CreatedAt: time.Now().UTC(),
		ReplicaGen: 1}
	path, err := m.FilePath(w)
	if err != nil {
		return nil, err
	}
	tmp, cleanup, err := m.restoreValidated(ctx, src, opts.At, filepath.Dir(path), true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := recordRestore(ctx, tmp, w.ID, src.ID, opts); err != nil {
		return nil, err
	}
	if err := m.insertWorkspace(ctx, w, true); err != nil {
		return nil, err
	}
	if err := m.finishRestoreAsNew(ctx, src, w, tmp, path, opts); err != nil {
		m.abandonCreate(w)
		return nil, err
	}
	w.State = store.StateActive
	m.checkRestoredLater(ctx, w.ID, opts.Actor, "restore")
	return w, nil
}

func (m *Manager) finishRestoreAsNew(ctx context.Context, src, w *store.Workspace, tmp, path string, opts RestoreOptions) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := m.acquireReplication(ctx, w, path); err != nil {
		return err
	}
	m.repl.release(path)
	return m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.SetWorkspaceState(ctx, tx, w.ID, store.StateCreating, store.StateActive); err != nil {
			return err
		}
		if err := giveRestoredCopy(ctx, tx, src.ID, w.ID, opts.Actor); err != nil {
			return err
		}
		detail := map[string]any{"name": w.Name, "region": w.Region, "restored_from": src.ID}
		if !opts.At.IsZero() {
			detail["at"] = opts.At.UTC()
		}
		return store.LogEvent(ctx, tx, actorOr(opts.Actor), "workspace.create", w.ID, detail)
	})
}

// restoredMessage is what restoreValidated logs, with how long each of its
// steps took (in seconds): the restore from the replica, the check (and
// the sync to disk beside it) and the take-back of removals.
const restoredMessage = "workspace file restored from its replica"

// restoreValidated restores w (as of at, or latest) into a new file in a
// temporary directory under dir, checks it and syncs it to disk, and takes
// back what was removed since (see takeBackRemovals). cleanup removes what
// is left.
//
// The checks on the way are those that cost little: the restore takes
// every transaction from the snapshot on, each LTX file passing its
// checksum (see restoreLTX), and quick_check then proves the file's
// b-trees and records well formed. The full integrity_check (every index
// against its table), ~4× quick_check's time on a big file, is the
// caller's to start once the file is in use (checkRestoredLater).
func (m *Manager) restoreValidated(ctx context.Context, w *store.Workspace, at time.Time, dir string, asNew bool) (string, func(), error) {
	tmpDir, err := os.MkdirTemp(dir, ".restore-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmpDir) }
	out := filepath.Join(tmpDir, w.ID+".db")
	began := time.Now()
	if err := m.restoreWorkspaceFile(ctx, w, at, out); err != nil {
		cleanup()
		return "", nil, err
	}
	restored := time.Now()
	// The file reaches the disk while it is checked: the check reads it
	// from memory, the sync waits for the disk.
	synced := make(chan error, 1)
	go func() { synced <- syncFile(out) }()
	err = quickCheckFile(ctx, out)
	if serr := <-synced; err == nil && serr != nil {
		err = fmt.Errorf("cannot write it to disk: %w", serr)
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("the restored file of workspace %s is not usable: %w", w.ID, err)
	}
	checked := time.Now()
	if err := m.takeBackRemovals(ctx, w.ID, out, asNew); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("cannot take back, in the restored file of workspace %s, what was removed since: %w", w.ID, err)
	}
	m.log.Info(restoredMessage, "workspace", w.ID, "bytes", fileSize(out),
		"restore_s", restored.Sub(began).Seconds(), "check_s", checked.Sub(restored).Seconds(),
		"take_back_s", time.Since(checked).Seconds())
	return out, cleanup, nil
}

// restoreWorkspaceFile writes w's state at time at (zero: latest) to out,
// from the newest replica generation that covers it.
func (m *Manager) restoreWorkspaceFile(ctx context.Context, w *store.Workspace, at time.Time, out string) error {
	t, err := m.regionTarget(w.Region)
	if err != nil {
		return err
	}
	for gen := max(w.ReplicaGen, 1); gen >= 1; gen-- {
		c, err := m.replicaClient(ctx, t, w.ID, fmt.Sprintf("g%d", gen))
		if err != nil {
			return err
		}
		from, to, err := litestream.NewReplicaWithClient(nil, c).TimeBounds(ctx)
		if err != nil {
			return fmt.Errorf("cannot read the replica of workspace %s at %s: %w", w.ID, t, err)
		}
		if to.IsZero() || (!at.IsZero() && at.Before(from)) {
			continue // nothing in this generation, or it starts after at
		}
		return restoreFile(ctx, c, at, out, w.ID, m.log)
	}
	if w.Pristine && at.IsZero() {
		// Never opened, so never replicated: its latest state is the template.
		return writeFileDurably(out, bytes.NewReader(m.template))
	}
	return errNoBackup(w.ID, at)
}

func restoreFile(ctx context.Context, c litestream.ReplicaClient, at time.Time, out, id string, log *slog.Logger) error {
	err := restoreLTX(ctx, c, 0, at, out, log)
	if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
		return errNoBackup(id, at)
	}
	if err != nil {
		return fmt.Errorf("cannot restore %s: %w", id, err)
	}
	return nil
}

// takeBackRemovals makes a restored file of workspace id give back nothing
// that was taken away since the moment it comes from: keys revoked since
// are revoked again and people erased since are erased again (the catalog
// remembers both), and a file restored as a new workspace keeps no key at
// all. Members and invitations live in the catalog, which a restore does
// not touch.
func (m *Manager) takeBackRemovals(ctx context.Context, id, path string, asNew bool) error {
	ids, err := store.RevokedKeyIDs(ctx, m.catalog.R, id)
	if err != nil {
		return err
	}
	db, err := store.Open(path, store.OpenOptions{Transient: true})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.RevokeKeysAgain(ctx, db, ids, asNew); err != nil {
		return err
	}
	return m.eraseAgain(ctx, id, db, true)
}

// eraseAgain erases in db, a file of workspace id (or a copy of it) that
// comes from before some erasures, the people erased since (see
// store.EraseAgain for byEmail).
func (m *Manager) eraseAgain(ctx context.Context, id string, db *store.DB, byEmail bool) error {
	es, err := store.Erasures(ctx, m.catalog.R, id)
	if err != nil {
		return err
	}
	n, err := store.EraseAgain(ctx, m.catalog, db, es, byEmail)
	if n > 0 {
		m.log.Info("erased again the people erased since the restored moment", "workspace", id, "contacts", n)
	}
	return err
}

// giveRestoredCopy decides who has a workspace restored as new: the
// person who restored it, as owner, or, restored from the command line,
// the source's owners. Other members are not carried over: the copy may
// hold what some of them were never meant to see again.
func giveRestoredCopy(ctx context.Context, tx *sqlx.Tx, srcID, id, actor string) error {
	if a := actorOf(actor); a.Kind == "user" {
		return store.AddMember(ctx, tx, a.ID, id, "owner")
	}
	return store.CopyOwners(ctx, tx, srcID, id)
}

// recordRestore writes into the restored file at path, which becomes
// workspace id, who restored it, when, and from which workspace and
// moment: its audit log then says why it holds what it holds, after the
// events the restore took back. (The catalog's event log records it too.)
func recordRestore(ctx context.Context, path, id, from string, opts RestoreOptions) error {
	db, err := store.Open(path, store.OpenOptions{Transient: true})
	if err != nil {
		return err
	}
	defer db.Close()
	moment := "latest"
	if !opts.At.IsZero() {
		moment = opts.At.UTC().Format(time.RFC3339Nano)
	}
	facts := map[string]store.Change{"restored_to": {After: moment}, "restored_from": {After: from}}
	if id != from {
		// A copy is another workspace, with another key: the secrets
		// sealed with the source's cannot open there.
		if err := store.ForgetSealedSecrets(ctx, db); err != nil {
			return err
		}
	}
	return store.AuditChanges(ctx, db, actorOf(opts.Actor), "workspace.restore", "workspace", id, facts)
}

// actorOf turns an event-log actor ("user:<id>", "cli") into a workspace
// audit actor.
func actorOf(s string) store.Actor {
	if kind, id, ok := strings.Cut(s, ":"); ok {
		return store.Actor{Kind: kind, ID: id}
	}
	return store.Actor{Kind: "system", ID: actorOr(s)}
}

// checkFile runs integrity_check on the file at path, opened on its own.
func checkFile(ctx context.Context, path string) error {
	return onFile(path, func(db *store.DB) error { return db.IntegrityCheck(ctx) })
}

// quickCheckFile runs quick_check on the file at path, opened on its own.
func quickCheckFile(ctx context.Context, path string) error {
	return onFile(path, func(db *store.DB) error { return db.QuickCheck(ctx) })
}

// syncFile makes the file at path reach the disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func onFile(path string, fn func(db *store.DB) error) error {
	db, err := store.Open(path, store.OpenOptions{Transient: true})
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// JobCheckRestored is the full integrity_check of a workspace's file after
// it was restored from its replica (see checkRestoredLater).
const JobCheckRestored = "check.restored"

// checkRestoredLater starts, as a job, the full integrity_check of
// workspace id's file, just restored from its replica (after, what did:
// "restore", "move", "recovery") and checked on the way only as far as
// restoreValidated does. See checkRestored for where its result goes.
func (m *Manager) checkRestoredLater(ctx context.Context, id, actor, after string) {
	_, err := m.StartJob(ctx, JobSpec{Kind: JobCheckRestored, WorkspaceID: id, CreatedBy: actorOr(actor), GivesWay: true,
		Run: func(ctx context.Context, run *JobRun) (any, error) {
			return m.checkRestored(ctx, run.Lease, after)
		}})
	if err != nil {
		m.log.Error("cannot start the full integrity check of a restored workspace; run atrium check", "workspace", id, "after", after, "err", err)
	}
}

// WaitCheckRestored waits for the latest full check of workspace id's
// restored file (JobCheckRestored) to end and returns it; for commands and
// tests.
func (m *Manager) WaitCheckRestored(ctx context.Context, id string) (*store.Job, error) {
	jobs, err := m.Jobs(ctx, id, 20)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs { // newest first
		if j.Kind == JobCheckRestored {
			return m.WaitJob(ctx, id, j.ID)
		}
	}
	return nil, store.Errorf(store.ENotFound, "Workspace %s has no check of a restored file under way.", id)
}

// RestoreCheck is the result of the full check of a restored file.
type RestoreCheck struct {
	IntegrityCheck string  `json:"integrity_check"`
	Seconds        float64 `json:"seconds"`
}

// checkRestored runs integrity_check on the workspace leased by l, restored
// from its replica by after. A pass is the job's result (and a log line). A
// failure fails the job, is logged as an error, and is recorded as the
// workspace's failed backup check, which its backup status shows (the
// admin page's badge, the status command, the settings page), in the
// catalog's event log and in the workspace's audit log.
func (m *Manager) checkRestored(ctx context.Context, l *Lease, after string) (*RestoreCheck, error) {
	start := time.Now()
	err := l.IntegrityCheck(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	took := time.Since(start).Seconds()
	if err == nil {
		m.log.Info("a restored workspace passed its full integrity check", "workspace", l.ID, "after", after, "seconds", took)
		if err := m.recordCheckPassed(ctx, l, after, took); err != nil {
			m.log.Warn("cannot record the passed integrity check of a restored workspace", "workspace", l.ID, "err", err)
		}
		return &RestoreCheck{IntegrityCheck: "ok", Seconds: took}, nil
	}
	failure := truncate(strings.ReplaceAll(err.Error(), l.Path, "the file"), 500)
	system := store.Actor{Kind: "system", ID: JobCheckRestored}
	m.log.Error("a restored workspace failed its full integrity check", "workspace", l.ID, "after", after, "failure", failure)
	failure = fmt.Sprintf("after the %s, the file failed its full integrity check: %s", after, failure)
	// Each is recorded even when another could not be: the file is damaged.
	errs := []error{
		store.RecordReplicaFailed(ctx, m.catalog.W, l.ID, failure, time.Now()),
		store.LogEvent(ctx, m.catalog.W, "system", "workspace.restore.check_failed", l.ID, map[string]any{"after": after, "failure": failure}),
		store.AuditChanges(ctx, l.DB, system, "workspace.integrity_check", "workspace", l.ID,
			map[string]store.Change{"result": {After: "failed"}, "after": {After: after}, "failure": {After: failure}}),
	}
	for _, err := range errs {
		if err != nil {
			m.log.Error("cannot record the failed integrity check of a restored workspace", "workspace", l.ID, "err", err)
		}
	}
	return nil, store.Errorf(store.EInternal, "Workspace %s is damaged: %s.", l.ID, failure)
}

// recordCheckPassed writes the passed check into the workspace's audit
// log (see auditAfterSnapshot).
func (m *Manager) recordCheckPassed(ctx context.Context, l *Lease, after string, took float64) error {
	return m.auditAfterSnapshot(ctx, l, store.Actor{Kind: "system", ID: JobCheckRestored}, "workspace.integrity_check",
		map[string]store.Change{"result": {After: "ok"}, "after": {After: after}, "seconds": {After: fmt.Sprintf("%.1f", took)}})
}

// auditAfterSnapshot writes an entry about the workspace itself into its
// audit log once the file's replication has made its first snapshot.
// Being the file's first write since that snapshot, it lets the snapshot's
// local LTX file go at the next L0 retention: Litestream never removes the
// newest L0 file, which would keep the disk at 1.4× the file's size until
// a user writes. Restores and take-ins begin with such a snapshot.
func (m *Manager) auditAfterSnapshot(ctx context.Context, l *Lease, a store.Actor, action string, changes map[string]store.Change) error {
	if _, err := m.repl.syncPathLocally(ctx, l.Path); err != nil {
		return err
	}
	return store.AuditChanges(ctx, l.DB, a, action, "workspace", l.ID, changes)
}

// RestoreWindow returns the span of time workspace id can be restored to,
// over every replica generation it has.
func (m *Manager) RestoreWindow(ctx context.Context, id string) (Window, error) {
	id, err := ParseID(id)
	if err != nil {
		return Window{}, err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return Window{}, err
	}
	if w.State != store.StateActive && w.State != store.StateTrashed {
		return Window{}, errNoWorkspace(id)
	}
	t, err := m.regionTarget(w.Region)
	if err != nil {
		return Window{}, err
	}
	var win Window
	for gen := 1; gen <= max(w.ReplicaGen, 1); gen++ {
		c, err := m.replicaClient(ctx, t, w.ID, fmt.Sprintf("g%d", gen))
		if err != nil {
			return Window{}, err
		}
		from, to, err := litestream.NewReplicaWithClient(nil, c).TimeBounds(ctx)
		if err != nil {
			return Window{}, err
		}
		if to.IsZero() {
			continue
		}
		if win.From.IsZero() || from.Before(win.From) {
			win.From = from
		}
		if to.After(win.To) {
			win.To = to
		}
	}
	if win.To.IsZero() {
		return Window{}, errNoBackup(id, time.Time{})
	}
	return win, nil
}

// restoreIfMissing restores a workspace's file from its replica when the
// file is gone (a lost disk, or disaster recovery), before it is opened.
func (m *Manager) restoreIfMissing(ctx context.Context, w *store.Workspace, path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m.log.Warn("workspace file is missing; restoring it from the replica", "workspace", w.ID, "path", path)
	tmp, cleanup, err := m.restoreValidated(ctx, w, time.Time{}, filepath.Dir(path), false)
	if err != nil {
		return err
	}
	defer cleanup()
	// Litestream's local state described the lost file, not this one.
	if err := swapIn(tmp, path); err != nil {
		return err
	}
	if !w.Pristine { // a template is not checked: the job's lease would open it
		m.checkRestoredLater(ctx, w.ID, "system:recovery", "recovery")
	}
	return nil
}

// restoreCatalogIfMissing restores catalog.db from its replica when the
// data directory lost it, and reports whether it did. With no replica
// either, this is a new instance.
func (m *Manager) restoreCatalogIfMissing(ctx context.Context) (bool, error) {
	path := m.catalogPath()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	t, err := m.catalogTarget()
	if err != nil {
		return false, err
	}
	c, err := m.replicaClient(ctx, t, catalogPrefix) // decrypts with the master key(s) when t encrypts
	if err != nil {
		return false, err
	}
	tmpDir, err := os.MkdirTemp(m.dataDir, ".restore-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmpDir)
	out := filepath.Join(tmpDir, "catalog.db")
	err = restoreFile(ctx, c, time.Time{}, out, "catalog", m.log)
	if store.ErrorCode(err) == store.ENotFound {
		return false, nil
	}
	if errors.Is(err, ErrWrongMasterKey) && m.master.created {
		// A key file made just now cannot be the one that wrote the
		// replica: leave none behind, so the right one can be put there.
		if rerr := os.Remove(m.master.path); rerr == nil {
			err = fmt.Errorf("%w; there was no master key file, so a new one was made and removed again: put the instance's master key at %s (or in %s) and start again", err, m.master.path, MasterKeyEnv)
		}
	}
	if err != nil {
		return false, fmt.Errorf("catalog.db is missing and cannot be restored from %s: %w", t, err)
	}
	if err := checkFile(ctx, out); err != nil {
		return false, fmt.Errorf("the restored catalog is not usable: %w", err)
	}
	if err := syncFile(out); err != nil {
		return false, err
	}
	m.log.Warn("catalog.db was missing; restored it from the replica", "replica", t.String())
	return true, swapIn(out, path)
}

// RestoreMissing restores, from their replicas, the files of every active
// or trashed workspace that has none locally, at most concurrency at a
// time. report, when set, is called for each one restored or failed. It
// returns the first error.
func (m *Manager) RestoreMissing(ctx context.Context, concurrency int, report func(w *store.Workspace, err error)) error {
	ws, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive, store.StateTrashed)
	if err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, max(concurrency, 1))
	)
	done := func(w *store.Workspace, err error) {
		mu.Lock()
		defer mu.Unlock()
		firstErr = cmpOr(firstErr, err)
		if report != nil {
			report(w, err)
		}
	}
	for i := range ws {
		w := &ws[i]
		path, err := m.FilePath(w)
		if err != nil {
			// Reported like the others, so the restores under way are
			// still waited for below.
			done(w, err)
			continue
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			done(w, m.restoreIfMissing(ctx, w, path))
		}()
	}
	wg.Wait()
	return firstErr
}
