package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/jmoiron/sqlx"
)

// jobReportKeep is how long a job's report stays in the workspace.
const jobReportKeep = 30 * 24 * time.Hour

// SaveJobReport keeps a job's report (any JSON value) in the workspace, and
// removes the reports older than 30 days.
func SaveJobReport(ctx context.Context, db *DB, jobID, kind string, report any) error {
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	now := time.Now()
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM job_reports WHERE created_at < ?`, now.Add(-jobReportKeep).UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO job_reports (job_id, kind, report, created_at) VALUES (?, ?, ?, ?)`,
			jobID, kind, string(b), now.UnixMilli())
		return err
	})
}

// JobReport reads a job's report into v; ENotFound when there is none.
func JobReport(ctx context.Context, db *DB, jobID string, v any) error {
	var b string
	err := db.R.GetContext(ctx, &b, `SELECT report FROM job_reports WHERE job_id = ?`, jobID)
	if err == sql.ErrNoRows {
		return Errorf(ENotFound, "This job left no report.")
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(b), v)
}
