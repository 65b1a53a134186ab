package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// ReplicaCheck is what the verifications of one workspace's replica found:
// the last that passed and the last that did not.
type ReplicaCheck struct {
	WorkspaceID  string       `db:"workspace_id"`
	CheckedAt    time.Time    `db:"checked_at"`
	VerifiedAt   sql.NullTime `db:"verified_at"`
	VerifiedTXID int64        `db:"verified_txid"`
	VerifiedGen  int          `db:"verified_gen"`
	FailedAt     sql.NullTime `db:"failed_at"`
	Failure      string       `db:"failure"`
}

// GetReplicaCheck returns the verifications of workspace id's replica; a
// workspace never verified has a zero ReplicaCheck.
func GetReplicaCheck(ctx context.Context, q sqlx.QueryerContext, id string) (ReplicaCheck, error) {
	var c ReplicaCheck
	err := sqlx.GetContext(ctx, q, &c, `SELECT * FROM replica_checks WHERE workspace_id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return ReplicaCheck{WorkspaceID: id}, nil
	}
	return c, err
}

// ReplicaChecks returns the verifications of the replicas of ids, by
// workspace id; those never verified are missing.
func ReplicaChecks(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string]ReplicaCheck, error) {
	out := map[string]ReplicaCheck{}
	if len(ids) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT * FROM replica_checks WHERE workspace_id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	var cs []ReplicaCheck
	if err := sqlx.SelectContext(ctx, q, &cs, query, args...); err != nil {
		return nil, err
	}
	for _, c := range cs {
		out[c.WorkspaceID] = c
	}
	return out, nil
}

// RecordReplicaVerified records a verification of generation gen that
// passed at transaction txid.
func RecordReplicaVerified(ctx context.Context, x sqlx.ExecerContext, id string, gen int, txid uint64, at time.Time) error {
	_, err := x.ExecContext(ctx, `INSERT INTO replica_checks (workspace_id, checked_at, verified_at, verified_txid, verified_gen)
		VALUES (?1, ?2, ?2, ?3, ?4)
		ON CONFLICT (workspace_id) DO UPDATE SET checked_at = ?2, verified_at = ?2, verified_txid = ?3, verified_gen = ?4`,
		id, at.UTC(), int64(txid), gen)
	return err
}

// RecordReplicaFailed records a verification that did not pass, and why.
func RecordReplicaFailed(ctx context.Context, x sqlx.ExecerContext, id, failure string, at time.Time) error {
	_, err := x.ExecContext(ctx, `INSERT INTO replica_checks (workspace_id, checked_at, failed_at, failure)
		VALUES (?1, ?2, ?2, ?3)
		ON CONFLICT (workspace_id) DO UPDATE SET checked_at = ?2, failed_at = ?2, failure = ?3`,
		id, at.UTC(), failure)
	return err
}

// RecordReplicaChecked moves a workspace to the back of the rolling sample
// without a result (its verification could not run).
func RecordReplicaChecked(ctx context.Context, x sqlx.ExecerContext, id string, at time.Time) error {
	_, err := x.ExecContext(ctx, `INSERT INTO replica_checks (workspace_id, checked_at) VALUES (?1, ?2)
		ON CONFLICT (workspace_id) DO UPDATE SET checked_at = ?2`, id, at.UTC())
	return err
}

// LeastRecentlyChecked returns the active, once-opened workspace whose
// replica was checked longest ago (never checked first), or "" when there
// is none.
func LeastRecentlyChecked(ctx context.Context, q sqlx.QueryerContext) (string, error) {
	var id string
	err := sqlx.GetContext(ctx, q, &id, `SELECT w.id FROM workspaces w LEFT JOIN replica_checks c ON c.workspace_id = w.id
		WHERE w.state = 'active' AND NOT w.pristine
		ORDER BY c.checked_at IS NOT NULL, c.checked_at, w.id LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}
