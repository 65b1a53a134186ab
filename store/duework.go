package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// Kinds of due work, one per background job that the scheduler starts for
// a workspace when its time comes.
const (
	// DueRetention: the workspace's file holds a retention policy to apply.
	DueRetention = "retention"
	// DueSend: an active enrollment's next step is due.
	DueSend = "send"
	// DuePoll: a mailbox's IMAP folder is to be read for replies and
	// bounces.
	DuePoll = "poll"
)

// Due is one workspace's work of one kind, due at a moment.
type Due struct {
	WorkspaceID string    `db:"workspace_id"`
	Kind        string    `db:"kind"`
	DueAt       time.Time `db:"-"`
	DueAtMillis int64     `db:"due_at"`
}

// SetDue records that a workspace has work of a kind due at a moment,
// replacing an earlier moment of the same kind.
func SetDue(ctx context.Context, x sqlx.ExecerContext, workspaceID, kind string, at time.Time) error {
	_, err := x.ExecContext(ctx, `INSERT INTO due_work (workspace_id, kind, due_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id, kind) DO UPDATE SET due_at = excluded.due_at`, workspaceID, kind, at.UnixMilli())
	return err
}

// RaiseDue records that a workspace has work of a kind due at a moment,
// unless it has such work due earlier already.
func RaiseDue(ctx context.Context, x sqlx.ExecerContext, workspaceID, kind string, at time.Time) error {
	_, err := x.ExecContext(ctx, `INSERT INTO due_work (workspace_id, kind, due_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id, kind) DO UPDATE SET due_at = min(due_at, excluded.due_at)`, workspaceID, kind, at.UnixMilli())
	return err
}

// ClearDue records that a workspace has no work of a kind any more.
func ClearDue(ctx context.Context, x sqlx.ExecerContext, workspaceID, kind string) error {
	_, err := x.ExecContext(ctx, `DELETE FROM due_work WHERE workspace_id = ? AND kind = ?`, workspaceID, kind)
	return err
}

// SetDueForAll makes work of a kind due now for every workspace that is not
// deleted: after the catalog was restored, its index may lag the files, so
// each is looked at once.
func SetDueForAll(ctx context.Context, x sqlx.ExecerContext, kind string, at time.Time) error {
	_, err := x.ExecContext(ctx, `INSERT INTO due_work (workspace_id, kind, due_at)
		SELECT id, ?, ? FROM workspaces WHERE state IN ('active', 'trashed')
		ON CONFLICT (workspace_id, kind) DO UPDATE SET due_at = min(due_at, excluded.due_at)`, kind, at.UnixMilli())
	return err
}

// DueWork returns up to limit pieces of work due by now on active
// workspaces, the most overdue first. It reads the catalog only.
func DueWork(ctx context.Context, q sqlx.QueryerContext, now time.Time, limit int) ([]Due, error) {
	var due []Due
	// CROSS JOIN keeps due_work the outer loop, walked by due_at: without
	// statistics SQLite would rather scan every active workspace.
	err := sqlx.SelectContext(ctx, q, &due, `SELECT d.workspace_id, d.kind, d.due_at FROM due_work d
		CROSS JOIN workspaces w ON w.id = d.workspace_id AND w.state = 'active'
		WHERE d.due_at <= ? ORDER BY d.due_at LIMIT ?`, now.UnixMilli(), limit)
	for i := range due {
		due[i].DueAt = time.UnixMilli(due[i].DueAtMillis).UTC()
	}
	return due, err
}

// DueAt returns when a workspace's work of a kind is due; ok is false when
// it has none.
func DueAt(ctx context.Context, q sqlx.QueryerContext, workspaceID, kind string) (at time.Time, ok bool, err error) {
	var ms []int64
	err = sqlx.SelectContext(ctx, q, &ms, `SELECT due_at FROM due_work WHERE workspace_id = ? AND kind = ?`, workspaceID, kind)
	if err != nil || len(ms) == 0 {
		return time.Time{}, false, err
	}
	return time.UnixMilli(ms[0]).UTC(), true, nil
}
