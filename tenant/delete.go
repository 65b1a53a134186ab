package tenant

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// DefaultJanitorInterval is how often the background job hard-deletes
// trashed workspaces whose grace period ended, and retries deletions that
// failed part-way.
const DefaultJanitorInterval = time.Minute

// testHookDeleteReplica, when set by tests, runs before a replica is deleted
// and can make the deletion fail.
var testHookDeleteReplica func(id string) error

// Removal says what a hard deletion removed: the tombstone kept in the
// catalog's event log.
type Removal struct {
	WorkspaceID string `json:"workspace_id"`
	Region      string `json:"region"`
	// Files are the local paths removed: the database, its WAL and
	// shared-memory files, and Litestream's local state directory.
	Files []string `json:"files"`
	// Replica is the prefix under which every replica object was deleted.
	Replica string    `json:"replica"`
	At      time.Time `json:"at"`
}

// Trash soft-deletes a workspace: new leases are refused, existing ones
// drain (until ctx ends), its pending changes are replicated, and it becomes
// inaccessible. It stays restorable with Untrash until the grace period
// ends; then the background job hard-deletes it.
func (m *Manager) Trash(ctx context.Context, id, actor string) (*store.Workspace, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	if err := m.cache.takeOut(ctx, id, errNoWorkspace(id)); err != nil {
		return nil, err
	}
	defer m.cache.putBack(id)
	w, path, err := m.activeWorkspace(ctx, id) // read once nothing else uses it
	if err != nil {
		return nil, err
	}
	if err := m.repl.remove(ctx, path); err != nil {
		m.log.Warn("trash: the last sync failed; the startup sync of the next run retries it", "workspace", w.ID, "err", err)
	}
	now := time.Now().UTC()
	purgeAt := now.Add(m.cfg.Grace())
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.TrashWorkspace(ctx, tx, w.ID, actorOr(actor), now, purgeAt); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actorOr(actor), "workspace.trash", w.ID, map[string]time.Time{"purge_at": purgeAt})
	})
	if err != nil {
		return nil, err
	}
	w.State, w.DeletedAt.Time, w.DeletedAt.Valid, w.PurgeAt.Time, w.PurgeAt.Valid = store.StateTrashed, now, true, purgeAt, true
	return w, nil
}

// Untrash makes a trashed workspace active again, before its grace period
// ends.
func (m *Manager) Untrash(ctx context.Context, id, actor string) error {
	id, err := ParseID(id)
	if err != nil {
		return err
	}
	return m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.UntrashWorkspace(ctx, tx, id); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actorOr(actor), "workspace.untrash", id, struct{}{})
	})
}

// ListTrashed returns the trashed workspaces, oldest first; PurgeAt says
// when each will be hard-deleted.
func (m *Manager) ListTrashed(ctx context.Context) ([]store.Workspace, error) {
	return store.ListWorkspaces(ctx, m.catalog.R, store.StateTrashed)
}

// Delete removes a workspace for good, at once: new leases are refused,
// existing ones drain (until ctx ends), the handle closes, Litestream stops
// replicating it, every replica object under its prefix goes, then its
// local files, and the catalog keeps a tombstone saying who removed what
// and when. The row is marked "deleting" before anything goes, so a failure
// or crash part-way is finished later by the background job or the next
// Open.
func (m *Manager) Delete(ctx context.Context, id, actor string) (*Removal, error) {
	return m.deleteFrom(ctx, id, actor, store.StateActive, store.StateTrashed, store.StateDeleting)
}

// deleteFrom hard-deletes workspace id if its row is in one of the states
// from when the deletion starts (after the leases drained).
func (m *Manager) deleteFrom(ctx context.Context, id, actor string, from ...string) (*Removal, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(from, w.State) {
		return nil, errNoWorkspace(id)
	}
	if err := m.cache.takeOut(ctx, id, errNoWorkspace(id)); err != nil {
		return nil, err
	}
	defer m.cache.putBack(id)
	if err := store.MarkWorkspaceDeleting(ctx, m.catalog.W, id, actorOr(actor), from...); err != nil {
		return nil, err
	}
	// Read again now that nothing else uses it: a move that ended while
	// this waited put its files in another region.
	if w, err = store.GetWorkspace(ctx, m.catalog.R, id); err != nil {
		return nil, err
	}
	return m.removeAndTombstone(ctx, w, actorOr(actor))
}

func (m *Manager) removeAndTombstone(ctx context.Context, w *store.Workspace, actor string) (*Removal, error) {
	rm, err := m.removeEverywhere(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("deleting workspace %s failed part-way and will be retried: %w", w.ID, err)
	}
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.MarkWorkspaceDeleted(ctx, tx, w.ID, actor, rm.At); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actor, "workspace.delete", w.ID, rm)
	})
	// Its data keys left the catalog with it (crypto-shredding): every
	// copy of its replica objects anywhere is unreadable from now on, so
	// they must not stay in memory either.
	m.forgetWorkspaceKeys(w.ID)
	if err != nil {
		return nil, err
	}
	return rm, nil
}

// removeEverywhere removes a workspace's replica objects and local files in
// its current region. The replica goes first: a local file left behind is
// harmless, while a replica left behind would be data thought deleted.
func (m *Manager) removeEverywhere(ctx context.Context, w *store.Workspace) (*Removal, error) {
	path, err := m.FilePath(w)
	if err != nil {
		return nil, err
	}
	if err := m.repl.remove(ctx, path); err != nil && ctx.Err() != nil {
		return nil, err // a failed last sync does not matter: it is all going
	}
	prefix, err := m.deleteReplica(ctx, w)
	if err != nil {
		return nil, err
	}
	files, err := removeWorkspaceFiles(path)
	if err != nil {
		return nil, err
	}
	return &Removal{WorkspaceID: w.ID, Region: w.Region, Files: files, Replica: prefix, At: time.Now().UTC()}, nil
}

// deleteReplica deletes every object under <region replica>/<id>/, all
// generations included, and returns that prefix.
func (m *Manager) deleteReplica(ctx context.Context, w *store.Workspace) (string, error) {
	if testHookDeleteReplica != nil {
		if err := testHookDeleteReplica(w.ID); err != nil {
			return "", err
		}
	}
	t, err := m.regionTarget(w.Region)
	if err != nil {
		return "", err
	}
	c := t.client(w.ID)
	if err := initClient(ctx, c, t); err != nil {
		return "", err
	}
	// Forgotten before and after: a status read while the objects go must
	// not keep what it listed.
	m.repl.forgetMarks(replicaWhere(t, []string{w.ID}))
	defer m.repl.forgetMarks(replicaWhere(t, []string{w.ID}))
	if err := c.DeleteAll(ctx); err != nil {
		return "", fmt.Errorf("cannot delete the replica of workspace %s: %w", w.ID, err)
	}
	return t.String() + "/" + w.ID + "/", nil
}

// metaPath is Litestream's local state directory of the database at path.
func metaPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"-litestream")
}

// removeWorkspaceFiles removes a workspace file with its WAL, shared-memory
// and temporary siblings and Litestream's local state directory, and
// returns the paths it removed.
func removeWorkspaceFiles(path string) ([]string, error) {
	var removed []string
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".tmp"} {
		err := os.Remove(p)
		switch {
		case err == nil:
			removed = append(removed, p)
		case !errors.Is(err, fs.ErrNotExist):
			return removed, err
		}
	}
	meta := metaPath(path)
	if _, err := os.Stat(meta); err == nil {
		if err := os.RemoveAll(meta); err != nil {
			return removed, err
		}
		removed = append(removed, meta)
	}
	if len(removed) > 0 {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// janitor hard-deletes, every interval, the trashed workspaces whose grace
// period ended and the deletions that failed part-way.
func (m *Manager) janitor(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.startPurge(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("hard deletion job", "err", err)
			}
			if _, err := store.PruneJobs(ctx, m.catalog.W, time.Now().Add(-jobKeep), time.Now().Add(-systemJobKeep)); err != nil && ctx.Err() == nil {
				m.log.Error("pruning finished jobs", "err", err)
			}
			if err := m.RemoveLeftovers(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("removing copies left by moves", "err", err)
			}
		}
	}
}

// startPurge runs PurgeDue as a job when a workspace is due for it.
func (m *Manager) startPurge(ctx context.Context) error {
	due, err := store.WorkspacesDueForPurge(ctx, m.catalog.R, time.Now().UTC())
	if err != nil {
		return err
	}
	stuck, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateDeleting)
	if err != nil || len(due)+len(stuck) == 0 {
		return err
	}
	_, err = m.StartJob(ctx, JobSpec{Kind: "purge", CreatedBy: "system:purge", Unique: true,
		Run: func(ctx context.Context, _ *JobRun) (any, error) {
			removed, err := m.PurgeDue(ctx)
			ids := make([]string, len(removed))
			for i, rm := range removed {
				ids[i] = rm.WorkspaceID
			}
			return map[string][]string{"removed": ids}, err
		}})
	return err
}

// PurgeDue hard-deletes the trashed workspaces whose grace period ended and
// finishes deletions left in state deleting. It returns what it removed and
// the first error; a workspace that fails stays for the next run.
func (m *Manager) PurgeDue(ctx context.Context) ([]*Removal, error) {
	due, err := store.WorkspacesDueForPurge(ctx, m.catalog.R, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	stuck, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateDeleting)
	if err != nil {
		return nil, err
	}
	var (
		removed  []*Removal
		firstErr error
	)
	for _, w := range append(due, stuck...) {
		actor := "system:purge"
		if w.State == store.StateDeleting {
			actor = actorOr(w.DeletedBy)
		}
		// Only from the state listed: a workspace restored from the trash
		// since is not deleted.
		rm, err := m.deleteFrom(ctx, w.ID, actor, w.State)
		if store.ErrorCode(err) == store.ENotFound {
			continue
		}
		if err != nil {
			m.log.Error("hard deletion failed; it will be retried", "workspace", w.ID, "err", err)
			firstErr = cmpOr(firstErr, err)
			continue
		}
		m.log.Info("workspace hard-deleted", "workspace", w.ID, "replica", rm.Replica, "files", len(rm.Files))
		removed = append(removed, rm)
	}
	return removed, firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
