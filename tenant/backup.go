package tenant

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"atrium/store"
)

// cleanMarker is a file in the data directory that says the last process
// replicated everything before it stopped. Open removes it; a clean Close
// writes it back. When it is missing, Open syncs every workspace.
const cleanMarker = ".replicated"

// regionTarget returns where a region's files replicate.
func (m *Manager) regionTarget(region string) (*replicaTarget, error) {
	r, ok := m.cfg.Regions[region]
	if !ok {
		return nil, fmt.Errorf("region %q is not configured", region)
	}
	return r.Replica.target, nil // set by Config.resolve in Open
}

// catalogTarget is the default region's replica: the catalog replicates
// under <replica>/catalog/.
func (m *Manager) catalogTarget() (*replicaTarget, error) {
	return m.regionTarget(m.catalogRegion())
}

// catalogRegion is the default region, or the first one by name when none
// is the default.
func (m *Manager) catalogRegion() string {
	if r, err := m.cfg.Region(""); err == nil {
		return r.Name
	}
	return m.cfg.RegionNames()[0]
}

// replicaElems names a workspace's prefix under its region's replica:
// <id>/g<generation>. Everything of one workspace is under <id>/.
func replicaElems(w *store.Workspace) []string {
	return []string{w.ID, fmt.Sprintf("g%d", max(w.ReplicaGen, 1))}
}

// acquireReplication registers a workspace's file with Litestream.
func (m *Manager) acquireReplication(ctx context.Context, w *store.Workspace, path string) error {
	t, err := m.regionTarget(w.Region)
	if err != nil {
		return err
	}
	return m.repl.acquire(ctx, path, t, replicaElems(w)...)
}

// Sync replicates a workspace's pending changes now and waits until they
// are uploaded. It returns the replicated position (TXID).
func (m *Manager) Sync(ctx context.Context, id string) (uint64, error) {
	w, path, err := m.activeWorkspace(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := m.acquireReplication(ctx, w, path); err != nil {
		return 0, err
	}
	defer m.repl.release(path)
	res, err := m.repl.sync(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("cannot replicate workspace %s: %w", w.ID, err)
	}
	return res.ReplicatedTXID, nil
}

// SyncCatalog replicates the catalog's pending changes now.
func (m *Manager) SyncCatalog(ctx context.Context) error {
	_, err := m.repl.sync(ctx, m.catalogPath())
	return err
}

// activeWorkspace returns an active workspace's row and file path.
func (m *Manager) activeWorkspace(ctx context.Context, id string) (*store.Workspace, string, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, "", err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return nil, "", err
	}
	if w.State != store.StateActive {
		return nil, "", errNoWorkspace(id)
	}
	path, err := m.FilePath(w)
	return w, path, err
}

func (m *Manager) takeCleanMarker() bool {
	err := os.Remove(filepath.Join(m.dataDir, cleanMarker))
	return err == nil
}

func (m *Manager) putCleanMarker() {
	if err := os.WriteFile(filepath.Join(m.dataDir, cleanMarker), nil, 0o600); err != nil {
		m.log.Error("cannot record the clean shutdown", "err", err)
	}
}

// syncUnreplicated runs after a start that did not follow a clean stop: a
// crash may have left changes that never reached the replica, so every
// workspace is registered, synced once and left to linger.
func (m *Manager) syncUnreplicated(ctx context.Context) {
	ws, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive, store.StateTrashed)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("startup sync: list workspaces", "err", err)
		}
		return
	}
	failed := 0
	for i := range ws {
		if ctx.Err() != nil {
			return
		}
		if ws[i].Pristine {
			continue // never written, so nothing to replicate
		}
		if err := m.syncOne(ctx, &ws[i]); err != nil {
			if ctx.Err() != nil {
				return // Close came first; the next start tries again
			}
			failed++
			m.log.Error("startup sync", "workspace", ws[i].ID, "err", err)
		}
	}
	if failed > 0 {
		m.log.Warn("startup sync done with failures", "workspaces", len(ws), "failed", failed)
	}
}

func (m *Manager) syncOne(ctx context.Context, w *store.Workspace) error {
	path, err := m.FilePath(w)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing local to replicate; opening it restores it
	}
	if err := m.acquireReplication(ctx, w, path); err != nil {
		return err
	}
	defer m.repl.release(path)
	_, err = m.repl.sync(ctx, path)
	return err
}
