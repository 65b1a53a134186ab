package tenant

import (
	"context"

	"atrium/store"
)

// WorkspaceBackupStatus returns the replication status of one workspace, as
// the caller read its row (for a settings page, a lease's: registered while
// the request holds it, so the status comes from memory).
func (m *Manager) WorkspaceBackupStatus(ctx context.Context, w *store.Workspace) (BackupStatus, error) {
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
