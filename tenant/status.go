package tenant

import (
	"context"
	"path/filepath"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"atrium/store"
)

// BackupStatus is how far one database's replication has got.
type BackupStatus struct {
	// WorkspaceID is the workspace's id, or "catalog" for the catalog.
	WorkspaceID string `json:"workspace_id"`
	Name        string `json:"name,omitempty"`
	Region      string `json:"region"`
	// Pristine says the workspace has never been opened: its file is the
	// empty template, which is not replicated (a restore recreates it).
	Pristine bool `json:"pristine,omitempty"`
	// Registered says Litestream is replicating the file now; the others
	// are fully replicated unless LagTXIDs says otherwise.
	Registered bool `json:"registered"`
	// LocalTXID is the last transaction Litestream recorded locally;
	// ReplicatedTXID the last one the replica holds.
	LocalTXID      uint64 `json:"local_txid"`
	ReplicatedTXID uint64 `json:"replicated_txid"`
	// LastReplicatedAt is the last successful upload (or, for files not
	// registered now, the time of the newest replica object).
	LastReplicatedAt *time.Time `json:"last_replicated_at,omitempty"`
	// LagTXIDs is how many transactions the replica is behind; Lag how long
	// it has been behind (zero when in sync).
	LagTXIDs   uint64        `json:"lag_txids"`
	Lag        time.Duration `json:"-"`
	LagSeconds float64       `json:"lag_seconds"`
	// LastError is the latest replication error, if it came after the last
	// successful upload.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// VerifiedAt is when the replica last restored to the live file
	// (integrity and every page checked), at transaction VerifiedTXID.
	VerifiedAt   *time.Time `json:"verified_at,omitempty"`
	VerifiedTXID uint64     `json:"verified_txid,omitempty"`
	// VerifyFailedAt is when a verification last failed, and VerifyFailure
	// why; a new replica generation was started then.
	VerifyFailedAt *time.Time `json:"verify_failed_at,omitempty"`
	VerifyFailure  string     `json:"verify_failure,omitempty"`
}

// BackupStatus returns the replication status of the catalog and of every
// active workspace. Files registered with Litestream are read from memory;
// the others from their local Litestream state and a listing of their
// replica (a few LIST calls each).
func (m *Manager) BackupStatus(ctx context.Context) ([]BackupStatus, error) {
	ws, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive)
	if err != nil {
		return nil, err
	}
	sts, err := m.WorkspacesBackupStatus(ctx, ws)
	if err != nil {
		return nil, err
	}
	return append([]BackupStatus{m.CatalogBackupStatus(ctx)}, sts...), nil
}

// CatalogBackupStatus returns the replication status of the catalog.
func (m *Manager) CatalogBackupStatus(ctx context.Context) BackupStatus {
	st := m.fileStatus(ctx, BackupStatus{WorkspaceID: catalogPrefix, Region: m.catalogRegion()}, m.catalogPath(), catalogPrefix)
	c, err := store.GetReplicaCheck(ctx, m.catalog.R, catalogPrefix)
	if err != nil {
		st.LastError = "cannot read the replica's verifications: " + err.Error()
	}
	return st.withVerification(c)
}

// WorkspacesBackupStatus returns the replication status of each of ws.
// The verifications of all of them are read in one query.
func (m *Manager) WorkspacesBackupStatus(ctx context.Context, ws []store.Workspace) ([]BackupStatus, error) {
	ids := make([]string, len(ws))
	for i := range ws {
		ids[i] = ws[i].ID
	}
	checks, err := store.ReplicaChecks(ctx, m.catalog.R, ids)
	if err != nil {
		return nil, err
	}
	out := make([]BackupStatus, len(ws))
	for i := range ws {
		path, err := m.FilePath(&ws[i])
		if err != nil {
			return nil, err
		}
		out[i] = m.workspaceStatus(ctx, &ws[i], path, checks[ws[i].ID])
	}
	return out, nil
}

func (m *Manager) workspaceStatus(ctx context.Context, w *store.Workspace, path string, check store.ReplicaCheck) BackupStatus {
	st := BackupStatus{WorkspaceID: w.ID, Name: w.Name, Region: w.Region, Pristine: w.Pristine}
	if w.Pristine {
		return st // nothing replicated, and nothing to list
	}
	return m.fileStatus(ctx, st, path, replicaElems(w)...).withVerification(check)
}

// withVerification adds to st the last verifications of its replica, c.
func (st BackupStatus) withVerification(c store.ReplicaCheck) BackupStatus {
	if c.VerifiedAt.Valid {
		st.VerifiedAt, st.VerifiedTXID = &c.VerifiedAt.Time, uint64(c.VerifiedTXID)
	}
	if c.FailedAt.Valid {
		st.VerifyFailedAt, st.VerifyFailure = &c.FailedAt.Time, c.Failure
	}
	return st
}

func (m *Manager) fileStatus(ctx context.Context, st BackupStatus, path string, elems ...string) BackupStatus {
	if db := m.repl.registered(path); db != nil {
		st.Registered = true
		if pos, err := db.Pos(); err == nil {
			st.LocalTXID = uint64(pos.TXID)
		}
		st.ReplicatedTXID = uint64(db.Replica.Pos().TXID)
		if at := db.LastSuccessfulSyncAt(); !at.IsZero() {
			st.LastReplicatedAt = &at
		}
	}
	if !st.Registered || st.ReplicatedTXID == 0 {
		m.readStoredStatus(ctx, &st, path, elems)
	}
	st.finish(m.repl.errs, filepath.Base(path))
	return st
}

// testHookListReplica, when set by tests, runs before each listing of a
// replica for a backup status.
var testHookListReplica func()

// readStoredStatus fills st from Litestream's local state directory and,
// for a file that is not registered now, from where its replica ended: as
// remembered from its unregistration or an earlier listing, else listed
// (a few LIST calls). An unregistered file does not change, and only this
// process writes its replica, so what is remembered stays true.
func (m *Manager) readStoredStatus(ctx context.Context, st *BackupStatus, path string, elems []string) {
	if _, maxTXID, err := litestream.NewDB(path).MaxLTX(); err == nil && uint64(maxTXID) > st.LocalTXID {
		st.LocalTXID = uint64(maxTXID)
	}
	t, err := m.regionTarget(st.Region)
	if err != nil {
		st.LastError = err.Error()
		return
	}
	where := replicaWhere(t, elems)
	if mk, ok := m.repl.mark(where); ok {
		st.ReplicatedTXID = mk.txid
		if !mk.at.IsZero() && st.LastReplicatedAt == nil {
			st.LastReplicatedAt = &mk.at
		}
		return
	}
	c, err := m.replicaClient(ctx, t, elems...)
	if err != nil {
		st.LastError = err.Error()
		return
	}
	if testHookListReplica != nil {
		testHookListReplica()
	}
	newest, err := newestReplicaFile(ctx, c)
	if err != nil {
		st.LastError = "cannot list the replica: " + err.Error()
		return
	}
	st.ReplicatedTXID = uint64(newest.MaxTXID)
	if !newest.CreatedAt.IsZero() && st.LastReplicatedAt == nil {
		at := newest.CreatedAt
		st.LastReplicatedAt = &at
	}
	if newest.MaxTXID > 0 {
		m.repl.setMark(where, replicaMark{txid: st.ReplicatedTXID, at: newest.CreatedAt})
	}
}

// newestReplicaFile returns the replica file with the highest TXID over
// every compaction level and the snapshot level.
func newestReplicaFile(ctx context.Context, c litestream.ReplicaClient) (ltx.FileInfo, error) {
	var newest ltx.FileInfo
	for _, level := range []int{0, 1, 2, 3, litestream.SnapshotLevel} {
		itr, err := c.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return newest, err
		}
		for itr.Next() {
			if info := itr.Item(); info.MaxTXID > newest.MaxTXID {
				newest = *info
			}
		}
		if err := itr.Close(); err != nil {
			return newest, err
		}
	}
	return newest, nil
}

// VerifyFailedLast says the last verification of the replica failed, with
// none passing since.
func (st BackupStatus) VerifyFailedLast() bool {
	return st.VerifyFailedAt != nil && (st.VerifiedAt == nil || st.VerifyFailedAt.After(*st.VerifiedAt))
}

// finish computes the lag and attaches the latest error, if it is newer
// than the last successful upload.
func (st *BackupStatus) finish(errs *lastErrors, name string) {
	if st.LocalTXID > st.ReplicatedTXID {
		st.LagTXIDs = st.LocalTXID - st.ReplicatedTXID
		if st.LastReplicatedAt != nil {
			st.Lag = time.Since(*st.LastReplicatedAt)
		}
	}
	st.LagSeconds = st.Lag.Seconds()
	if e, ok := errs.get(name); ok && (st.LastReplicatedAt == nil || e.At.After(*st.LastReplicatedAt)) {
		st.LastError, st.LastErrorAt = e.Message, &e.At
	}
}
