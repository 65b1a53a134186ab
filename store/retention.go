package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
)

// Retention is how long a workspace keeps its history; 0 keeps it forever.
type Retention struct {
	AuditDays    int `json:"audit_days"`    // audit events, the facts of erasures among them
	ActivityDays int `json:"activity_days"` // timeline entries: creations and field changes
}

// MaxRetentionDays bounds a retention setting (100 years).
const MaxRetentionDays = 36500

const (
	settingAuditDays    = "retention.audit_days"
	settingActivityDays = "retention.activity_days"
)

// GetRetention returns the workspace's retention policy.
func GetRetention(ctx context.Context, db *DB) (Retention, error) {
	return getRetention(ctx, db.R)
}

func getRetention(ctx context.Context, q sqlx.QueryerContext) (Retention, error) {
	var r Retention
	var err error
	if r.AuditDays, err = intSetting(ctx, q, settingAuditDays); err != nil {
		return r, err
	}
	r.ActivityDays, err = intSetting(ctx, q, settingActivityDays)
	return r, err
}

func intSetting(ctx context.Context, q sqlx.QueryerContext, key string) (int, error) {
	var v string
	err := sqlx.GetContext(ctx, q, &v, `SELECT value FROM workspace_settings WHERE key = ?`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// PolicyHook, when given to SetRetention or ApplyRetention, runs inside
// their transaction, told whether the workspace has a retention policy
// (after the change, or as read). Holding the workspace's write lock, it
// cannot interleave with another such call on the same workspace.
type PolicyHook func(hasPolicy bool) error

func (h PolicyHook) run(hasPolicy bool) error {
	if h == nil {
		return nil
	}
	return h(hasPolicy)
}

// SetRetention changes the retention policy; the change is audited.
func SetRetention(ctx context.Context, db *DB, a Actor, r Retention, hook PolicyHook) error {
	for field, days := range map[string]int{"audit_days": r.AuditDays, "activity_days": r.ActivityDays} {
		if days < 0 || days > MaxRetentionDays {
			return FieldError(field, "Keep history from 1 to %d days, or 0 for forever.", MaxRetentionDays)
		}
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getRetention(ctx, tx)
		if err != nil {
			return err
		}
		for key, days := range map[string]int{settingAuditDays: r.AuditDays, settingActivityDays: r.ActivityDays} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO workspace_settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, strconv.Itoa(days)); err != nil {
				return err
			}
		}
		ch := map[string]Change{}
		diff(ch, "audit_days", before.AuditDays, r.AuditDays)
		diff(ch, "activity_days", before.ActivityDays, r.ActivityDays)
		if err := hook.run(r != Retention{}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "retention.update", KindWorkspace, "", ch)
	})
}

// RetentionRun says what one application of the policy removed, and by
// which policy.
type RetentionRun struct {
	Policy      Retention `json:"policy"`
	AuditEvents int64     `json:"audit_events"`
	Activities  int64     `json:"activities"`
}

// ApplyRetention deletes the history older than the policy allows, as of
// now, and records in the audit log a run that deleted anything (the run's
// own event is new, so it survives it).
func ApplyRetention(ctx context.Context, db *DB, a Actor, now time.Time, hook PolicyHook) (RetentionRun, error) {
	var run RetentionRun
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		r, err := getRetention(ctx, tx)
		if err != nil {
			return err
		}
		run.Policy = r
		if err := hook.run(r != Retention{}); err != nil {
			return err
		}
		if r.AuditDays > 0 {
			if run.AuditEvents, err = deleteOlder(ctx, tx, `DELETE FROM audit_log WHERE at < ?`, now, r.AuditDays); err != nil {
				return err
			}
		}
		if r.ActivityDays > 0 {
			if run.Activities, err = deleteOlder(ctx, tx, `DELETE FROM activities WHERE created_at < ?`, now, r.ActivityDays); err != nil {
				return err
			}
		}
		if run.AuditEvents == 0 && run.Activities == 0 {
			return nil
		}
		return audit(ctx, tx, a, "retention.apply", KindWorkspace, "", map[string]Change{
			"audit_events_deleted": {After: run.AuditEvents}, "activities_deleted": {After: run.Activities},
		})
	})
	return run, err
}

func deleteOlder(ctx context.Context, tx *sqlx.Tx, stmt string, now time.Time, days int) (int64, error) {
	res, err := tx.ExecContext(ctx, stmt, now.Add(-time.Duration(days)*24*time.Hour))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
