package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Meters counted per workspace and day in the catalog's usage_daily.
const (
	MeterAPICalls   = "api_calls"
	MeterEmailsSent = "emails_sent"
	MeterImports    = "imports"
)

// UsageDay is the usage_daily key of the UTC day of t.
func UsageDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// UsageCount is an amount to add to one workspace's meter of one day.
type UsageCount struct {
	WorkspaceID string
	Day         string
	Meter       string
	Quantity    int64
}

// AddUsage adds counts to usage_daily in one transaction.
func AddUsage(ctx context.Context, db *Catalog, counts []UsageCount) error {
	if len(counts) == 0 {
		return nil
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		for _, c := range counts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO usage_daily (workspace_id, day, meter, quantity) VALUES (?, ?, ?, ?)
				ON CONFLICT (workspace_id, day, meter) DO UPDATE SET quantity = quantity + excluded.quantity`,
				c.WorkspaceID, c.Day, c.Meter, c.Quantity); err != nil {
				return err
			}
		}
		return nil
	})
}

// UsageOn returns a workspace's recorded count of a meter on a day.
func UsageOn(ctx context.Context, q sqlx.QueryerContext, workspaceID, day, meter string) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, q, &n, `SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE workspace_id = ? AND day = ? AND meter = ?`,
		workspaceID, day, meter)
	return n, err
}

// UsageOfDay returns every workspace's counts of a day, by workspace id and
// meter: the console reads one query, not one per workspace.
func UsageOfDay(ctx context.Context, q sqlx.QueryerContext, day string) (map[string]map[string]int64, error) {
	var rows []UsageCount
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT workspace_id AS workspaceid, day, meter, quantity FROM usage_daily WHERE day = ?`, day)
	out := map[string]map[string]int64{}
	for _, r := range rows {
		if out[r.WorkspaceID] == nil {
			out[r.WorkspaceID] = map[string]int64{}
		}
		out[r.WorkspaceID][r.Meter] = r.Quantity
	}
	return out, err
}

// HumanBytes writes a size in bytes as people read it: "84.0 KiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
