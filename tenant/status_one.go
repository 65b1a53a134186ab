package tenant

import (
	"context"

	"atrium/store"
)

// WorkspaceBackupStatus returns the replication status of one workspace
// (for a settings page, whose lease keeps it registered, so the status
// comes from memory).
func (m *Manager) WorkspaceBackupStatus(ctx context.Context, id string) (BackupStatus, error) {
	// Read now: a row read before the workspace was first opened still
	// calls it pristine.
	w, err := m.Workspace(ctx, id)
	if err != nil {
		return BackupStatus{}, err
	}
	path, err := m.FilePath(w)
	if err != nil {
		return BackupStatus{}, err
	}
	check, err := store.GetReplicaCheck(ctx, m.catalog.R, w.ID)
	if err != nil {
		return BackupStatus{}, err
	}
	return m.workspaceStatus(ctx, w, path, check), nil
}
