package tenant

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// Removal says what a hard deletion removed.
type Removal struct {
	WorkspaceID string    `json:"workspace_id"`
	Region      string    `json:"region"`
	Files       []string  `json:"files"`
	At          time.Time `json:"at"`
}

// Delete removes a workspace for good: new leases are refused, existing ones
// drain (until ctx ends), the handle closes, the files go, and the catalog
// keeps a tombstone saying who removed what and when. The row is marked
// "deleting" before any file goes, so a crash part-way is finished by the
// next Open.
func (m *Manager) Delete(ctx context.Context, id, actor string) (*Removal, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return nil, err
	}
	if w.State != store.StateActive && w.State != store.StateDeleting {
		return nil, errNoWorkspace(id)
	}
	if err := m.cache.takeForDelete(ctx, id); err != nil {
		return nil, err
	}
	defer m.cache.endDelete(id)
	if w.State == store.StateActive {
		_, err := m.catalog.W.ExecContext(ctx, `UPDATE workspaces SET state = 'deleting', deleted_by = ? WHERE id = ? AND state = 'active'`, actorOr(actor), id)
		if err != nil {
			return nil, err
		}
	}
	return m.removeAndTombstone(ctx, w, actorOr(actor))
}

func (m *Manager) removeAndTombstone(ctx context.Context, w *store.Workspace, actor string) (*Removal, error) {
	path, err := m.FilePath(w)
	if err != nil {
		return nil, err
	}
	files, err := removeWorkspaceFiles(path)
	if err != nil {
		return nil, err
	}
	rm := &Removal{WorkspaceID: w.ID, Region: w.Region, Files: files, At: time.Now().UTC()}
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.MarkWorkspaceDeleted(ctx, tx, w.ID, actor, rm.At); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actor, "workspace.delete", w.ID, rm)
	})
	if err != nil {
		return nil, err
	}
	return rm, nil
}

// removeWorkspaceFiles removes a workspace file with its WAL, shared-memory
// and temporary siblings, and returns the paths it removed.
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
	if len(removed) > 0 {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return removed, err
		}
	}
	return removed, nil
}
