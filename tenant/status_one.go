package tenant

import (
	"context"

	"atrium/store"
)

// WorkspaceBackupStatus returns the replication status of one active
// workspace, for its settings page: from memory while it is registered
// (it is, while a request holds it open), else from its replica.
func (m *Manager) WorkspaceBackupStatus(ctx context.Context, id string) (BackupStatus, error) {
	id, err := ParseID(id)
	if err != nil {
		return BackupStatus{}, err
	}
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return BackupStatus{}, err
	}
	if w.State != store.StateActive {
		return BackupStatus{}, errNoWorkspace(id)
	}
	path, err := m.FilePath(w)
	if err != nil {
		return BackupStatus{}, err
	}
	st := BackupStatus{WorkspaceID: w.ID, Name: w.Name, Region: w.Region}
	return m.fileStatus(ctx, st, path, replicaElems(w)...), nil
}
