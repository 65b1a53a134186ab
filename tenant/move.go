package tenant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// Move moves a workspace to another region: it is taken out of the cache
// (leases drain), its latest state is restored from its replica into the
// new region's data directory and replicated to the new region's replica,
// the catalog switches over, and only then is it hard-deleted in the old
// region (replica objects and local files). The workspace keeps its id;
// its restorable history starts again in the new region.
func (m *Manager) Move(ctx context.Context, id, region, actor string) (*store.Workspace, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	to, err := m.cfg.Region(region)
	if err != nil {
		return nil, store.Errorf(store.EValidation, "%s.", capitalize(err.Error()))
	}
	if err := m.checkReserve(to.Name); err != nil {
		return nil, err
	}
	busy := store.Errorf(store.EUnavailable, "Workspace %s is being moved to region %s; try again in a moment.", id, to.Name)
	if err := m.cache.takeOut(ctx, id, busy); err != nil {
		return nil, err
	}
	// Deferred first, so it runs after putBack: the check's job leases the
	// workspace, in its new region once the catalog says so.
	switched := false
	defer func() {
		if switched {
			m.checkRestoredLater(ctx, id, actor, "move")
		}
	}()
	defer m.cache.putBack(id)
	// Read now that nothing else uses it: another move or a first open may
	// have changed it while this one waited.
	w, oldPath, err := m.activeWorkspace(ctx, id)
	if err != nil {
		return nil, err
	}
	if to.Name == w.Region {
		return nil, store.Errorf(store.EConflict, "Workspace %s is already in region %s.", w.ID, w.Region)
	}
	// The last sync makes the old replica hold every committed write.
	if err := m.repl.remove(ctx, oldPath); err != nil {
		return nil, fmt.Errorf("cannot move workspace %s: its last changes did not reach the replica: %w", w.ID, err)
	}
	moved := *w
	moved.Region, moved.ReplicaGen = to.Name, 1
	if err := m.placeInRegion(ctx, w, &moved); err != nil {
		return nil, err
	}
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.SetWorkspaceReplica(ctx, tx, w.ID, moved.Region, moved.ReplicaGen); err != nil {
			return err
		}
		// The old copy is recorded until it is gone, so a failure below is
		// retried by the background job; a copy once left in the new
		// region was replaced by placeInRegion.
		if err := store.AddLeftover(ctx, tx, w.ID, w.Region); err != nil {
			return err
		}
		if err := store.RemoveLeftover(ctx, tx, w.ID, moved.Region); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actorOr(actor), "workspace.move", w.ID, map[string]string{"from": w.Region, "to": moved.Region})
	})
	if err != nil {
		return nil, err
	}
	switched = true
	// The catalog's replica must know the new region before the old copy
	// goes: a disaster recovery from an older catalog would look for the
	// workspace where it no longer is.
	if err := m.SyncCatalog(ctx); err != nil {
		return &moved, fmt.Errorf("workspace %s moved to %s, but its copy in %s is kept: the catalog did not reach its replica: %w", w.ID, moved.Region, w.Region, err)
	}
	if err := m.removeLeftover(ctx, w, actorOr(actor)); err != nil {
		return &moved, fmt.Errorf("workspace %s moved to %s, but removing its copy in %s failed (it will be retried): %w", w.ID, moved.Region, w.Region, err)
	}
	return &moved, nil
}

// removeLeftover removes the copy of a workspace in the region w names (one
// it moved away from) and forgets it.
func (m *Manager) removeLeftover(ctx context.Context, w *store.Workspace, actor string) error {
	rm, err := m.removeEverywhere(ctx, w)
	if err != nil {
		return err
	}
	return m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.RemoveLeftover(ctx, tx, w.ID, w.Region); err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, actor, "workspace.move.removed", w.ID, rm)
	})
}

// RemoveLeftovers retries the removal of copies that moves left in their
// old regions. It returns the first error; the others are logged.
func (m *Manager) RemoveLeftovers(ctx context.Context) error {
	ls, err := store.Leftovers(ctx, m.catalog.R)
	if err != nil {
		return err
	}
	var firstErr error
	for _, l := range ls {
		if err := m.retryLeftover(ctx, l); err != nil {
			m.log.Error("removing a copy left by a move failed; it will be retried", "workspace", l.WorkspaceID, "region", l.Region, "err", err)
			firstErr = cmpOr(firstErr, err)
		}
	}
	return firstErr
}

// retryLeftover removes one leftover copy, with the workspace taken out of
// use meanwhile, so a move back into that region cannot run at the same
// time and have its new file removed.
func (m *Manager) retryLeftover(ctx context.Context, l store.Leftover) error {
	busy := store.Errorf(store.EUnavailable, "Workspace %s is being moved; try again in a moment.", l.WorkspaceID)
	drain, cancel := context.WithTimeout(ctx, 30*time.Second) // a long import can hold it: next run
	err := m.cache.takeOut(drain, l.WorkspaceID, busy)
	cancel()
	if err != nil {
		return err
	}
	defer m.cache.putBack(l.WorkspaceID)
	w, err := store.GetWorkspace(ctx, m.catalog.R, l.WorkspaceID)
	switch {
	case err == nil && w.Region == l.Region && w.State != store.StateDeleted:
		// It lives there again: that copy is the workspace.
		return store.RemoveLeftover(ctx, m.catalog.W, l.WorkspaceID, l.Region)
	case err == nil || store.ErrorCode(err) == store.ENotFound:
		return m.removeLeftover(ctx, &store.Workspace{ID: l.WorkspaceID, Region: l.Region}, "system:leftovers")
	}
	return err
}

// placeInRegion restores w's latest state as the file of moved in its new
// region and replicates it there, so the new region holds a backup before
// the old one is removed.
func (m *Manager) placeInRegion(ctx context.Context, w, moved *store.Workspace) error {
	newPath, err := m.FilePath(moved)
	if err != nil {
		return err
	}
	tmp, cleanup, err := m.restoreValidated(ctx, w, time.Time{}, filepath.Dir(newPath), false)
	if err != nil {
		return err
	}
	defer cleanup()
	// A replica left by an earlier stay in this region would mix histories.
	if _, err := m.deleteReplica(ctx, moved); err != nil {
		return err
	}
	if err := swapIn(tmp, newPath); err != nil {
		return err
	}
	if err := m.acquireReplication(ctx, moved, newPath); err != nil {
		os.Remove(newPath)
		return err
	}
	defer m.repl.release(newPath)
	if _, err := m.repl.sync(ctx, newPath); err != nil {
		return fmt.Errorf("cannot replicate workspace %s in region %s: %w", w.ID, moved.Region, err)
	}
	return nil
}
