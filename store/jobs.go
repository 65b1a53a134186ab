package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
)

// Job states in the catalog.
const (
	JobQueued      = "queued"
	JobRunning     = "running"
	JobDone        = "done"
	JobFailed      = "failed"
	JobInterrupted = "interrupted"
)

// Job is the catalog row of one piece of background work.
type Job struct {
	ID          string       `db:"id" json:"id"`
	Kind        string       `db:"kind" json:"kind"`
	WorkspaceID string       `db:"workspace_id" json:"workspace_id,omitempty"`
	State       string       `db:"state" json:"state"`
	Progress    int64        `db:"progress" json:"progress"`
	Total       int64        `db:"total" json:"total"`
	Result      string       `db:"result" json:"-"` // JSON, kind-specific
	Error       string       `db:"error" json:"error,omitempty"`
	CreatedBy   string       `db:"created_by" json:"created_by,omitempty"`
	CreatedAt   time.Time    `db:"created_at" json:"created_at"`
	StartedAt   sql.NullTime `db:"started_at" json:"-"`
	FinishedAt  sql.NullTime `db:"finished_at" json:"-"`
}

// Finished reports whether the job will not change any more.
func (j *Job) Finished() bool {
	return j.State == JobDone || j.State == JobFailed || j.State == JobInterrupted
}

// InsertJob adds a queued job; ID, Kind and CreatedAt must be set.
func InsertJob(ctx context.Context, x sqlx.ExtContext, j *Job) error {
	j.State = JobQueued
	_, err := sqlx.NamedExecContext(ctx, x, `INSERT INTO jobs (id, kind, workspace_id, state, total, created_by, created_at)
		VALUES (:id, :kind, :workspace_id, :state, :total, :created_by, :created_at)`, j)
	return err
}

// StartJob moves a queued job to running.
func StartJob(ctx context.Context, x sqlx.ExecerContext, id string, at time.Time) error {
	res, err := x.ExecContext(ctx, `UPDATE jobs SET state = 'running', started_at = ? WHERE id = ? AND state = 'queued'`, at, id)
	return expectOne(res, err, Errorf(EConflict, "Job %s is not queued.", id))
}

// SetJobProgress records how far a running job got.
func SetJobProgress(ctx context.Context, x sqlx.ExecerContext, id string, progress, total int64) error {
	_, err := x.ExecContext(ctx, `UPDATE jobs SET progress = ?, total = ? WHERE id = ? AND state = 'running'`, progress, total, id)
	return err
}

// FinishJob records a job's end: state is done, failed or interrupted;
// result is its JSON result, errMsg what went wrong (safe to show).
func FinishJob(ctx context.Context, x sqlx.ExecerContext, id, state, result, errMsg string, at time.Time) error {
	_, err := x.ExecContext(ctx, `UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ?,
		progress = CASE WHEN ? = 'done' THEN max(progress, total) ELSE progress END
		WHERE id = ? AND state IN ('queued', 'running')`, state, result, errMsg, at, state, id)
	return err
}

// InterruptJobs marks every job still queued or running as interrupted with
// a message: at start-up, they belong to a process that is gone.
func InterruptJobs(ctx context.Context, x sqlx.ExecerContext, msg string, at time.Time) (int64, error) {
	res, err := x.ExecContext(ctx, `UPDATE jobs SET state = 'interrupted', error = ?, finished_at = ?
		WHERE state IN ('queued', 'running')`, msg, at)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// GetJob returns a job of a workspace ("" for the instance's); a job of
// another workspace is not found.
func GetJob(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string) (*Job, error) {
	var j Job
	err := sqlx.GetContext(ctx, q, &j, `SELECT * FROM jobs WHERE id = ? AND workspace_id = ?`, id, workspaceID)
	if err == sql.ErrNoRows {
		return nil, Errorf(ENotFound, "There is no such job.")
	}
	return &j, err
}

// ListJobs returns a workspace's latest jobs ("" for the instance's), newest
// first.
func ListJobs(ctx context.Context, q sqlx.QueryerContext, workspaceID string, limit int) ([]Job, error) {
	var js []Job
	err := sqlx.SelectContext(ctx, q, &js, `SELECT * FROM jobs WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
		workspaceID, limit)
	return js, err
}

// PruneJobs removes the jobs that finished before a moment, and those the
// system started (the scheduler's passes, many a day) that finished before
// systemBefore.
func PruneJobs(ctx context.Context, x sqlx.ExecerContext, before, systemBefore time.Time) (int64, error) {
	res, err := x.ExecContext(ctx, `DELETE FROM jobs WHERE state IN ('done', 'failed', 'interrupted')
		AND (finished_at < ? OR (finished_at < ? AND created_by LIKE 'system:%'))`, before, systemBefore)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
