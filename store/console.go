package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// consoleSort is how the console sorts by one column: the SQL of the key
// and the join it needs (the first phase of ConsoleWorkspaces joins only
// that, so sorting 10,000 workspaces by name reads the workspaces alone).
type consoleSort struct{ key, join string }

const joinRollup = ` LEFT JOIN workspace_rollups r ON r.workspace_id = w.id`

// joinPeople joins each workspace's owner and member count, which catalog
// triggers keep (see migration 0018).
const joinPeople = ` LEFT JOIN workspace_people p ON p.workspace_id = w.id`

// consoleSorts are the console table's sortable columns: a whitelist, so
// a parameter never reaches the SQL text. ?1 in a key or join is the
// month (for this month's counts), ?2 the currency (for money).
var consoleSorts = map[string]consoleSort{
	"name":     {key: "w.name COLLATE NOCASE"},
	"region":   {key: "w.region"},
	"state":    {key: "w.state"},
	"created":  {key: "w.created_at"},
	"owner":    {key: "p.owner_email", join: joinPeople},
	"members":  {key: "p.members", join: joinPeople},
	"contacts": {key: "r.contacts", join: joinRollup},
	"activity": {key: "r.last_activity", join: joinRollup},
	"storage":  {key: "r.storage_bytes", join: joinRollup},
	"sent":     {key: "CASE WHEN r.month = ?1 THEN r.sent_month END", join: joinRollup},
	"replied":  {key: "CASE WHEN r.month = ?1 THEN r.replied_month END", join: joinRollup},
	"pipeline": {key: "pm.value_minor", join: ` LEFT JOIN workspace_rollup_money pm ON pm.workspace_id = w.id AND pm.kind = 'open' AND pm.currency = ?2`},
	"won": {key: "CASE WHEN r.month = ?1 THEN pm.value_minor END", join: joinRollup +
		` LEFT JOIN workspace_rollup_money pm ON pm.workspace_id = w.id AND pm.kind = 'won' AND pm.currency = ?2`},
}

// ConsoleSorted says whether the console sorts by column.
func ConsoleSorted(column string) bool { _, ok := consoleSorts[column]; return ok }

// ConsoleFilter chooses and orders the console's workspaces.
type ConsoleFilter struct {
	// OwnerID, when set, keeps the workspaces that user owns (an agency
	// owner's console); empty: every workspace (a superadmin's).
	OwnerID string
	Query   string // part of the name or id, any case
	Region  string
	State   string // active or trashed; empty: both
	Sort    string // a key of ConsoleSorts; name when empty
	Desc    bool
	// Currency is the one the pipeline and won columns sort by.
	Currency string
	// Day and Month (UTC) date the counters: older ones count as zero.
	Day, Month    string
	Offset, Limit int // Limit 0: every row
}

// ConsoleRow is one workspace of the console table, read from the
// catalog alone.
type ConsoleRow struct {
	Workspace
	OwnerEmail   string     `db:"owner_email" json:"owner"`
	Members      int64      `db:"members" json:"members"`
	Contacts     int64      `db:"contacts" json:"contacts"`
	OpenDeals    int64      `db:"open_deals" json:"open_deals"`
	Pipeline     int64      `db:"pipeline_minor" json:"-"`
	Won          int64      `db:"won_minor" json:"-"`
	WonDeals     int64      `db:"won_deals" json:"won_deals_month"`
	SentMonth    int64      `db:"sent_month" json:"sent_month"`
	RepliedMonth int64      `db:"replied_month" json:"replied_month"`
	StorageBytes int64      `db:"storage_bytes" json:"storage_bytes"`
	LastActivity *time.Time `db:"last_activity" json:"last_activity,omitempty"`
	PushedAt     *time.Time `db:"pushed_at" json:"counted_at,omitempty"`
	Open         []Money    `db:"-" json:"open"`
	WonMonth     []Money    `db:"-" json:"won_month"`
}

// ConsoleWorkspaces returns a page of the console table and how many
// workspaces match, in three queries of the catalog (no workspace file is
// opened or looked at).
func ConsoleWorkspaces(ctx context.Context, q sqlx.QueryerContext, f ConsoleFilter) ([]ConsoleRow, int, error) {
	total, err := ConsoleWorkspaceCount(ctx, q, f)
	if err != nil {
		return nil, 0, err
	}
	where, args := f.where()
	// First the page's ids, joining only what the sort needs.
	s, ok := consoleSorts[f.Sort]
	if !ok {
		s = consoleSorts["name"]
	}
	// Ties go by name and id, the same way (so the name order walks
	// workspaces_name); SQLite puts nulls (no counters yet) first going
	// up, last going down.
	dir := ""
	if f.Desc {
		dir = " DESC"
	}
	order := s.key + dir + ", w.name COLLATE NOCASE" + dir + ", w.id" + dir
	if f.Sort == "name" || !ok {
		order = "w.name COLLATE NOCASE" + dir + ", w.id" + dir
	}
	query := `SELECT w.id FROM workspaces w` + s.join + ` WHERE ` + where + ` ORDER BY ` + order
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT ?%d OFFSET ?%d", len(args)+1, len(args)+2)
		args = append(args, f.Limit, f.Offset)
	}
	var ids []string
	if err := sqlx.SelectContext(ctx, q, &ids, query, args...); err != nil {
		return nil, 0, err
	}
	rows, err := consoleRows(ctx, q, ids, f.Month, f.Currency)
	return rows, total, err
}

// consoleRows reads the rows of the given workspaces, in that order.
func consoleRows(ctx context.Context, q sqlx.QueryerContext, ids []string, month, currency string) ([]ConsoleRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []ConsoleRow
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT w.*, coalesce(p.owner_email, '') AS owner_email, coalesce(p.members, 0) AS members,
			coalesce(r.contacts, 0) AS contacts, coalesce(r.open_deals, 0) AS open_deals,
			coalesce((SELECT value_minor FROM workspace_rollup_money x WHERE x.workspace_id = w.id AND x.kind = 'open' AND x.currency = ?2), 0) AS pipeline_minor,
			CASE WHEN r.month = ?1 THEN coalesce((SELECT value_minor FROM workspace_rollup_money x
				WHERE x.workspace_id = w.id AND x.kind = 'won' AND x.currency = ?2), 0) ELSE 0 END AS won_minor,
			CASE WHEN r.month = ?1 THEN r.won_deals ELSE 0 END AS won_deals,
			CASE WHEN r.month = ?1 THEN r.sent_month ELSE 0 END AS sent_month,
			CASE WHEN r.month = ?1 THEN r.replied_month ELSE 0 END AS replied_month,
			coalesce(r.storage_bytes, 0) AS storage_bytes, r.last_activity, r.pushed_at
		FROM workspaces w LEFT JOIN workspace_rollups r ON r.workspace_id = w.id`+joinPeople+`
		WHERE w.id IN (SELECT value FROM json_each(?3))`, month, currency, jsonIDs(ids))
	if err != nil {
		return nil, err
	}
	money, err := WorkspaceRollups(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	out := make([]ConsoleRow, len(ids))
	for _, r := range rows {
		if m := money[r.ID]; m != nil {
			r.Open = m.Open
			if m.Month == month {
				r.WonMonth = m.Won
			}
		}
		out[pos[r.ID]] = r
	}
	return out, nil
}

// ConsoleWorkspaceCount returns how many workspaces the filter keeps.
func ConsoleWorkspaceCount(ctx context.Context, q sqlx.QueryerContext, f ConsoleFilter) (int, error) {
	where, args := f.where()
	var total int
	err := sqlx.GetContext(ctx, q, &total, `SELECT count(*) FROM workspaces w WHERE `+where, args...)
	return total, err
}

// where is the filter's condition on workspaces w. Its parameters are
// numbered from ?3 (?1 and ?2 are the month and the currency, which the
// sort keys and joins use), so args starts with those two.
func (f ConsoleFilter) where() (string, []any) {
	// +: almost every row is live; the state index would only cost a
	// lookup per row, and keep the name order off workspaces_name.
	conds := []string{`+w.state IN ('active', 'trashed')`}
	args := []any{f.Month, f.Currency}
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("?%d", len(args))
	}
	if f.OwnerID != "" {
		conds = append(conds, `w.id IN (SELECT workspace_id FROM memberships WHERE user_id = `+param(f.OwnerID)+` AND role = 'owner')`)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		p := param(q)
		conds = append(conds, `(instr(lower(w.name), lower(`+p+`)) > 0 OR instr(w.id, lower(`+p+`)) > 0)`)
	}
	if f.Region != "" {
		conds = append(conds, `w.region = `+param(f.Region))
	}
	if f.State != "" {
		conds = append(conds, `w.state = `+param(f.State))
	}
	return strings.Join(conds, " AND "), args
}

// OwnsAnyWorkspace says whether a user owns a live workspace: one makes
// them an agency owner with a console over the ones they own.
func OwnsAnyWorkspace(ctx context.Context, q sqlx.QueryerContext, userID string) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, `SELECT EXISTS (SELECT 1 FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND m.role = 'owner' AND w.state IN ('active', 'trashed'))`, userID)
	return ok, err
}

// OwnsWorkspace says whether the user owns the live workspace id.
func OwnsWorkspace(ctx context.Context, q sqlx.QueryerContext, userID, id string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND m.workspace_id = ? AND m.role = 'owner' AND w.state IN ('active', 'trashed')`, userID, id)
	return n > 0, err
}

// ConsoleTotals returns how many workspaces are active and their storage
// as last pushed, from the catalog alone.
func ConsoleTotals(ctx context.Context, q sqlx.QueryerContext) (n int, bytes int64, err error) {
	var t struct {
		N     int   `db:"n"`
		Bytes int64 `db:"bytes"`
	}
	err = sqlx.GetContext(ctx, q, &t, `SELECT count(*) AS n, coalesce(sum(r.storage_bytes), 0) AS bytes
		FROM workspaces w LEFT JOIN workspace_rollups r ON r.workspace_id = w.id WHERE w.state = 'active'`)
	return t.N, t.Bytes, err
}

// OwnedWorkspaceIDs returns the live workspaces a user owns.
func OwnedWorkspaceIDs(ctx context.Context, q sqlx.QueryerContext, userID string) ([]string, error) {
	ids := []string{}
	err := sqlx.SelectContext(ctx, q, &ids, `SELECT m.workspace_id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND m.role = 'owner' AND w.state IN ('active', 'trashed') ORDER BY m.workspace_id`, userID)
	return ids, err
}
