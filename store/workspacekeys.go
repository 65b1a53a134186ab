package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// WrappedWorkspaceKey returns a workspace's wrapped data key; ok is false
// when it has none yet.
func WrappedWorkspaceKey(ctx context.Context, q sqlx.QueryerContext, workspaceID string) (wrapped []byte, ok bool, err error) {
	err = sqlx.GetContext(ctx, q, &wrapped, `SELECT wrapped FROM workspace_keys WHERE workspace_id = ?`, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return wrapped, err == nil, err
}

// AddWorkspaceKey stores a workspace's wrapped data key unless it has one:
// of two concurrent first uses, the first one's key is kept.
func AddWorkspaceKey(ctx context.Context, x sqlx.ExecerContext, workspaceID string, wrapped []byte) error {
	_, err := x.ExecContext(ctx, `INSERT INTO workspace_keys (workspace_id, wrapped, created_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id) DO NOTHING`, workspaceID, wrapped, time.Now().UTC())
	return err
}

// ReplaceWorkspaceKey replaces a workspace's wrapped data key, for a key
// that can no longer be unwrapped (the master key was lost).
func ReplaceWorkspaceKey(ctx context.Context, x sqlx.ExecerContext, workspaceID string, wrapped []byte) error {
	// Its later versions were wrapped by the same lost master key.
	if _, err := x.ExecContext(ctx, `DELETE FROM workspace_key_versions WHERE workspace_id = ?`, workspaceID); err != nil {
		return err
	}
	_, err := x.ExecContext(ctx, `INSERT INTO workspace_keys (workspace_id, wrapped, created_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET wrapped = excluded.wrapped, created_at = excluded.created_at`,
		workspaceID, wrapped, time.Now().UTC())
	return err
}

// WrappedKey is one wrapped data key of a workspace: key 1 is the first
// (workspace_keys), later ones are rotations (workspace_key_versions).
type WrappedKey struct {
	WorkspaceID string `db:"workspace_id"`
	ID          uint32 `db:"key_id"`
	Wrapped     []byte `db:"wrapped"`
}

// WorkspaceKeys returns every wrapped data key of a workspace, oldest
// first; none when it has no key yet.
func WorkspaceKeys(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]WrappedKey, error) {
	keys := []WrappedKey{}
	err := sqlx.SelectContext(ctx, q, &keys, `SELECT workspace_id, 1 AS key_id, wrapped FROM workspace_keys WHERE workspace_id = ?
		UNION ALL SELECT workspace_id, key_id, wrapped FROM workspace_key_versions WHERE workspace_id = ?
		ORDER BY key_id`, workspaceID, workspaceID)
	return keys, err
}

// AllWorkspaceKeys returns every wrapped data key of every workspace.
func AllWorkspaceKeys(ctx context.Context, q sqlx.QueryerContext) ([]WrappedKey, error) {
	keys := []WrappedKey{}
	err := sqlx.SelectContext(ctx, q, &keys, `SELECT workspace_id, 1 AS key_id, wrapped FROM workspace_keys
		UNION ALL SELECT workspace_id, key_id, wrapped FROM workspace_key_versions
		ORDER BY workspace_id, key_id`)
	return keys, err
}

// AddWorkspaceKeyVersion stores a new data key of a workspace that has a
// first one, and returns its id (one more than the newest).
func AddWorkspaceKeyVersion(ctx context.Context, tx *sqlx.Tx, workspaceID string, wrapped func(id uint32) []byte) (uint32, error) {
	var newest uint32
	err := tx.GetContext(ctx, &newest, `SELECT COALESCE((SELECT MAX(key_id) FROM workspace_key_versions WHERE workspace_id = ?),
		(SELECT 1 FROM workspace_keys WHERE workspace_id = ?), 0)`, workspaceID, workspaceID)
	if err != nil {
		return 0, err
	}
	if newest == 0 {
		return 0, Errorf(ENotFound, "Workspace %s has no data key yet.", workspaceID)
	}
	id := newest + 1
	_, err = tx.ExecContext(ctx, `INSERT INTO workspace_key_versions (workspace_id, key_id, wrapped, created_at) VALUES (?, ?, ?, ?)`,
		workspaceID, id, wrapped(id), time.Now().UTC())
	return id, err
}

// RewrapWorkspaceKey replaces the wrapped form of one data key (a master
// key rotation: the key itself is unchanged).
func RewrapWorkspaceKey(ctx context.Context, x sqlx.ExecerContext, k WrappedKey) error {
	var err error
	if k.ID == 1 {
		_, err = x.ExecContext(ctx, `UPDATE workspace_keys SET wrapped = ? WHERE workspace_id = ?`, k.Wrapped, k.WorkspaceID)
	} else {
		_, err = x.ExecContext(ctx, `UPDATE workspace_key_versions SET wrapped = ? WHERE workspace_id = ? AND key_id = ?`, k.Wrapped, k.WorkspaceID, k.ID)
	}
	return err
}
