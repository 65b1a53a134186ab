package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// DueRollup: the workspace's counters changed and are to be pushed to the
// catalog's workspace_rollups.
const DueRollup = "rollup"

// Levels metered per day by their high-water mark (the other meters are
// counted in usage_daily).
const (
	MeterSeats    = "seats"
	MeterContacts = "contacts"
	MeterStorage  = "storage_bytes"
)

// LedgerMeters are the usage ledger's meters, in the order statements
// show them.
var LedgerMeters = []string{MeterSeats, MeterContacts, MeterStorage, MeterEmailsSent, MeterAPICalls, MeterImports}

// RollupSignature reads what tells a workspace's counters changed: the
// version the triggers bump and the contacts and companies counts. It
// reads on the writer's connection, which every open file has: the sweep
// reads it for each open file, and on a reader it made each of them open
// a reader connection of its own (its parsed schema and page cache, about
// 400 KB each), which a file only written to never needed.
func RollupSignature(ctx context.Context, db *DB) ([3]int64, error) {
	var s struct {
		V  int64 `db:"v"`
		C  int64 `db:"c"`
		Co int64 `db:"co"`
	}
	err := db.W.GetContext(ctx, &s, `SELECT
		coalesce((SELECT n FROM rollup WHERE key = 'version'), 0) AS v,
		coalesce((SELECT n FROM counters WHERE name = 'contacts'), 0) AS c,
		coalesce((SELECT n FROM counters WHERE name = 'companies'), 0) AS co`)
	return [3]int64{s.V, s.C, s.Co}, err
}

// MemberCount returns how many members a workspace has.
func MemberCount(ctx context.Context, q sqlx.QueryerContext, workspaceID string) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM memberships WHERE workspace_id = ?`, workspaceID)
	return n, err
}

// RaiseHighWater raises a workspace's high-water marks of a day to the
// levels given, where they are higher.
func RaiseHighWater(ctx context.Context, x sqlx.ExecerContext, workspaceID, day string, levels map[string]int64) error {
	for meter, n := range levels {
		if _, err := x.ExecContext(ctx, `INSERT INTO usage_highwater (workspace_id, day, meter, quantity) VALUES (?, ?, ?, ?)
			ON CONFLICT (workspace_id, day, meter) DO UPDATE SET quantity = max(quantity, excluded.quantity)`,
			workspaceID, day, meter, n); err != nil {
			return err
		}
	}
	return nil
}

// LastLedgerDay returns the latest day the usage ledger has closed, ""
// when none.
func LastLedgerDay(ctx context.Context, q sqlx.QueryerContext) (string, error) {
	var day string
	err := sqlx.GetContext(ctx, q, &day, `SELECT coalesce(max(day), '') FROM usage_ledger_days`)
	return day, err
}

// CloseLedgerDay appends a finished UTC day to the usage ledger, once: the
// counted meters from usage_daily, and the levels (seats, contacts,
// storage) as the higher of the day's high-water mark and, for workspaces
// not deleted, their level now (a workspace that did not change that day
// kept the level it had). A day already closed is left as it is.
func CloseLedgerDay(ctx context.Context, db *Catalog, day string, now time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		now := now.UTC()
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO usage_ledger_days (day, closed_at) VALUES (?, ?)`, day, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // closed already
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO usage_ledger (workspace_id, day, meter, quantity, recorded_at)
			SELECT workspace_id, day, meter, quantity, ? FROM usage_daily WHERE day = ? AND quantity <> 0`, now, day); err != nil {
			return err
		}
		// The levels now of every workspace that existed on the day.
		_, err = tx.ExecContext(ctx, `WITH live (workspace_id, meter, quantity) AS (
				SELECT w.id, 'seats', (SELECT count(*) FROM memberships m WHERE m.workspace_id = w.id) FROM workspaces w
					WHERE w.state IN ('active', 'trashed') AND substr(w.created_at, 1, 10) <= ?1
				UNION ALL SELECT r.workspace_id, 'contacts', r.contacts FROM workspace_rollups r JOIN workspaces w ON w.id = r.workspace_id
					AND w.state IN ('active', 'trashed')
				UNION ALL SELECT r.workspace_id, 'storage_bytes', r.storage_bytes FROM workspace_rollups r JOIN workspaces w ON w.id = r.workspace_id
					AND w.state IN ('active', 'trashed')
				UNION ALL SELECT workspace_id, meter, quantity FROM usage_highwater WHERE day = ?1)
			INSERT OR IGNORE INTO usage_ledger (workspace_id, day, meter, quantity, recorded_at)
			SELECT workspace_id, ?1, meter, max(quantity), ?2 FROM live GROUP BY workspace_id, meter`, day, now)
		if err != nil {
			return err
		}
		// The month's sums follow the day.
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_monthly (month, workspace_id, meter, quantity)
			SELECT substr(day, 1, 7), workspace_id, meter, quantity FROM usage_ledger WHERE day = ? AND true
			ON CONFLICT (month, workspace_id, meter) DO UPDATE SET quantity = CASE WHEN meter IN ('seats', 'contacts', 'storage_bytes')
				THEN max(quantity, excluded.quantity) ELSE quantity + excluded.quantity END`, day); err != nil {
			return err
		}
		// The high-water marks are in the ledger now.
		_, err = tx.ExecContext(ctx, `DELETE FROM usage_highwater WHERE day <= ?`, day)
		return err
	})
}

// LedgerRow is one workspace's quantity of one meter over a month.
type LedgerRow struct {
	WorkspaceID string `db:"workspace_id"`
	Meter       string `db:"meter"`
	Quantity    int64  `db:"quantity"`
}

// MonthUsage returns a month (YYYY-MM) of the ledger per workspace and
// meter, as the closed days add up: levels by their highest day, counted
// meters by their total.
func MonthUsage(ctx context.Context, q sqlx.QueryerContext, month string) ([]LedgerRow, error) {
	var rows []LedgerRow
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT workspace_id, meter, quantity FROM usage_monthly WHERE month = ?`, month)
	return rows, err
}

// StatementLine is one line of a monthly statement.
type StatementLine struct {
	Month         string `db:"month" json:"-"`
	WorkspaceID   string `db:"workspace_id" json:"-"`
	WorkspaceName string `db:"workspace_name" json:"-"`
	Meter         string `db:"meter" json:"meter"`
	Quantity      int64  `db:"quantity" json:"quantity"`
	UnitMinor     int64  `db:"unit_minor" json:"unit_price_minor"`
	Per           int64  `db:"per" json:"per"`
	AmountMinor   int64  `db:"amount_minor" json:"amount_minor"`
	Currency      string `db:"currency" json:"currency"`
}

// FrozenStatement returns a frozen month's lines for the given workspaces
// (nil: all) and when it was frozen; ok is false when the month is not
// frozen.
func FrozenStatement(ctx context.Context, q sqlx.QueryerContext, month string, ids []string) (lines []StatementLine, frozenAt time.Time, ok bool, err error) {
	var at []time.Time
	if err := sqlx.SelectContext(ctx, q, &at, `SELECT frozen_at FROM usage_statement_months WHERE month = ?`, month); err != nil || len(at) == 0 {
		return nil, time.Time{}, false, err
	}
	where, args := "", []any{month}
	if ids != nil {
		where = ` AND workspace_id IN (SELECT value FROM json_each(?))`
		args = append(args, jsonIDs(ids))
	}
	rows, err := q.QueryContext(ctx, `SELECT workspace_id, workspace_name, meter, quantity, unit_minor, per, amount_minor, currency
		FROM usage_statements WHERE month = ?`+where, args...)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	defer rows.Close()
	// Scanned by hand: a unified statement has 60,000 lines.
	for rows.Next() {
		l := StatementLine{Month: month}
		if err := rows.Scan(&l.WorkspaceID, &l.WorkspaceName, &l.Meter, &l.Quantity, &l.UnitMinor, &l.Per, &l.AmountMinor, &l.Currency); err != nil {
			return nil, time.Time{}, false, err
		}
		lines = append(lines, l)
	}
	return lines, at[0], true, rows.Err()
}

// FreezeStatement stores a closed month's lines, once: a month frozen
// already keeps what it had.
func FreezeStatement(ctx context.Context, db *Catalog, month, currency string, lines []StatementLine, now time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO usage_statement_months (month, currency, frozen_at) VALUES (?, ?, ?)`, month, currency, now.UTC())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // frozen already
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage_statements (month, workspace_id, workspace_name, meter, quantity,
			unit_minor, per, amount_minor, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, l := range lines {
			if _, err := stmt.ExecContext(ctx, month, l.WorkspaceID, l.WorkspaceName, l.Meter, l.Quantity, l.UnitMinor, l.Per, l.AmountMinor, l.Currency); err != nil {
				return err
			}
		}
		return nil
	})
}
