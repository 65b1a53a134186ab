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
	_, err := x.ExecContext(ctx, `INSERT INTO workspace_keys (workspace_id, wrapped, created_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET wrapped = excluded.wrapped, created_at = excluded.created_at`,
		workspaceID, wrapped, time.Now().UTC())
	return err
}
