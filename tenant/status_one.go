package tenant

import "context"

// WorkspaceBackupStatus returns the replication status of one active
// workspace, for its settings page: from memory while it is registered
// (it is, while a request holds it open), else from its replica.
func (m *Manager) WorkspaceBackupStatus(ctx context.Context, id string) (BackupStatus, error) {
	w, path, err := m.activeWorkspace(ctx, id)
	if err != nil {
		return BackupStatus{}, err
	}
	return m.workspaceStatus(ctx, w, path), nil
}
