package store

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Money is an amount in a currency's minor unit (cents), with how many
// deals (or items) it adds up.
type Money struct {
	Currency string `db:"currency" json:"currency"`
	Count    int64  `db:"n" json:"count"`
	Minor    int64  `db:"value_minor" json:"value_minor"`
}

// Rollup is a workspace's counters as its file keeps them (migration 0013):
// read in one query, never by counting rows.
type Rollup struct {
	// Version changes whenever a counter kept by a trigger does; with the
	// contacts and companies counts it tells whether a push is needed.
	Version              int64
	Contacts, Companies  int64
	Open                 []Money // open deals per currency
	WonMonth             []Money // deals won this UTC month per currency
	SentToday, SentMonth int64
	RepliedToday         int64
	RepliedMonth         int64
	BouncedToday         int64
	BouncedMonth         int64
	// Messages first opened and clicked by a person this month (the
	// workspace's dashboard shows them; the catalog does not keep them).
	OpenedMonth, ClickedMonth int64
	LastActivity              time.Time // zero when nothing happened yet
	// Day and Month are the UTC day and month the counts are of.
	Day, Month string
}

// Signature tells two readings apart: equal signatures mean nothing a
// console shows has changed (the day aside).
func (r *Rollup) Signature() [3]int64 { return [3]int64{r.Version, r.Contacts, r.Companies} }

// ReadRollup reads a workspace's counters as of now (for the day and month
// windows), through q: a page reads them on the file's readers, the push
// to the catalog on its writer (see RollupSignature).
func ReadRollup(ctx context.Context, q sqlx.QueryerContext, now time.Time) (*Rollup, error) {
	var rows []struct {
		Key   string `db:"key"`
		N     int64  `db:"n"`
		Value int64  `db:"value"`
	}
	day := now.UTC().Format(time.DateOnly)
	month := day[:7]
	// The day keys of this month and the rest; counters come along.
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT key, n, value FROM rollup
		WHERE key IN ('version', 'last_activity') OR key GLOB 'open:*'
			OR key GLOB 'won:'||?||'-*' OR key GLOB 'sent:'||?||'-*' OR key GLOB 'replied:'||?||'-*' OR key GLOB 'bounced:'||?||'-*'
			OR key GLOB 'opened:'||?||'-*' OR key GLOB 'clicked:'||?||'-*'
		UNION ALL SELECT 'count:' || name, n, 0 FROM counters`, month, month, month, month, month, month)
	if err != nil {
		return nil, err
	}
	r := &Rollup{Day: day, Month: month}
	won := map[string]*Money{}
	for _, row := range rows {
		kind, rest, _ := strings.Cut(row.Key, ":")
		switch kind {
		case "version":
			r.Version = row.N
		case "last_activity":
			if row.N > 0 {
				r.LastActivity = time.Unix(row.N, 0).UTC()
			}
		case "count":
			switch rest {
			case "contacts":
				r.Contacts = row.N
			case "companies":
				r.Companies = row.N
			}
		case "open":
			if row.N != 0 || row.Value != 0 {
				r.Open = append(r.Open, Money{Currency: rest, Count: row.N, Minor: row.Value})
			}
		case "won":
			_, cur, _ := strings.Cut(rest, ":") // rest is day:currency
			m := won[cur]
			if m == nil {
				m = &Money{Currency: cur}
				won[cur] = m
			}
			m.Count += row.N
			m.Minor += row.Value
		case "sent", "replied", "bounced":
			month, today := r.counts(kind)
			*month += row.N
			if rest == day {
				*today += row.N
			}
		case "opened":
			r.OpenedMonth += row.N
		case "clicked":
			r.ClickedMonth += row.N
		}
	}
	for _, m := range won {
		if m.Count != 0 || m.Minor != 0 {
			r.WonMonth = append(r.WonMonth, *m)
		}
	}
	sortMoney(r.Open)
	sortMoney(r.WonMonth)
	return r, nil
}

func (r *Rollup) counts(kind string) (month, today *int64) {
	switch kind {
	case "sent":
		return &r.SentMonth, &r.SentToday
	case "replied":
		return &r.RepliedMonth, &r.RepliedToday
	}
	return &r.BouncedMonth, &r.BouncedToday
}

func sortMoney(ms []Money) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Currency < ms[j].Currency })
}

// WorkspaceRollup is a workspace's counters as the catalog holds them for
// the console: pushed from the file, read without opening it.
type WorkspaceRollup struct {
	WorkspaceID  string     `db:"workspace_id" json:"workspace_id"`
	Version      int64      `db:"version" json:"-"`
	Contacts     int64      `db:"contacts" json:"contacts"`
	Companies    int64      `db:"companies" json:"companies"`
	OpenDeals    int64      `db:"open_deals" json:"open_deals"`
	WonDeals     int64      `db:"won_deals" json:"won_deals_month"`
	SentToday    int64      `db:"sent_today" json:"sent_today"`
	RepliedToday int64      `db:"replied_today" json:"replied_today"`
	BouncedToday int64      `db:"bounced_today" json:"bounced_today"`
	SentMonth    int64      `db:"sent_month" json:"sent_month"`
	RepliedMonth int64      `db:"replied_month" json:"replied_month"`
	BouncedMonth int64      `db:"bounced_month" json:"bounced_month"`
	Day          string     `db:"day" json:"day"`
	Month        string     `db:"month" json:"month"`
	StorageBytes int64      `db:"storage_bytes" json:"storage_bytes"`
	LastActivity *time.Time `db:"last_activity" json:"last_activity,omitempty"`
	PushedAt     time.Time  `db:"pushed_at" json:"pushed_at"`
	Open         []Money    `db:"-" json:"open"`
	Won          []Money    `db:"-" json:"won_month"`
}

// PushRollup stores a workspace's counters in the catalog, replacing what
// was there, in one transaction.
func PushRollup(ctx context.Context, db *Catalog, workspaceID string, r *Rollup, storageBytes int64, now time.Time) error {
	var last *time.Time
	if !r.LastActivity.IsZero() {
		last = &r.LastActivity
	}
	var open, won int64
	for _, m := range r.Open {
		open += m.Count
	}
	for _, m := range r.WonMonth {
		won += m.Count
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO workspace_rollups (workspace_id, version, contacts, companies, open_deals, won_deals,
			sent_today, replied_today, bounced_today, sent_month, replied_month, bounced_month, day, month, storage_bytes, last_activity, pushed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id) DO UPDATE SET version = excluded.version, contacts = excluded.contacts, companies = excluded.companies,
				open_deals = excluded.open_deals, won_deals = excluded.won_deals, sent_today = excluded.sent_today,
				replied_today = excluded.replied_today, bounced_today = excluded.bounced_today, sent_month = excluded.sent_month,
				replied_month = excluded.replied_month, bounced_month = excluded.bounced_month, day = excluded.day, month = excluded.month,
				storage_bytes = excluded.storage_bytes, last_activity = excluded.last_activity, pushed_at = excluded.pushed_at`,
			workspaceID, r.Version, r.Contacts, r.Companies, open, won, r.SentToday, r.RepliedToday, r.BouncedToday,
			r.SentMonth, r.RepliedMonth, r.BouncedMonth, r.Day, r.Month, storageBytes, last, now.UTC()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM workspace_rollup_money WHERE workspace_id = ?`, workspaceID); err != nil {
			return err
		}
		for kind, ms := range map[string][]Money{"open": r.Open, "won": r.WonMonth} {
			for _, m := range ms {
				if _, err := tx.ExecContext(ctx, `INSERT INTO workspace_rollup_money (workspace_id, kind, currency, n, value_minor) VALUES (?, ?, ?, ?, ?)`,
					workspaceID, kind, m.Currency, m.Count, m.Minor); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// WorkspaceRollups returns the catalog's counters of the given workspaces
// (all when ids is nil), by workspace id, in two queries.
func WorkspaceRollups(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string]*WorkspaceRollup, error) {
	where, args := "", []any{}
	if ids != nil {
		if len(ids) == 0 {
			return map[string]*WorkspaceRollup{}, nil
		}
		where = ` WHERE workspace_id IN (SELECT value FROM json_each(?))`
		args = append(args, jsonIDs(ids))
	}
	var rows []*WorkspaceRollup
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT * FROM workspace_rollups`+where, args...); err != nil {
		return nil, err
	}
	out := make(map[string]*WorkspaceRollup, len(rows))
	for _, r := range rows {
		out[r.WorkspaceID] = r
	}
	var money []struct {
		WorkspaceID string `db:"workspace_id"`
		Kind        string `db:"kind"`
		Money
	}
	if err := sqlx.SelectContext(ctx, q, &money, `SELECT workspace_id, kind, currency, n, value_minor FROM workspace_rollup_money`+where+
		` ORDER BY workspace_id, kind, currency`, args...); err != nil {
		return nil, err
	}
	for _, m := range money {
		r := out[m.WorkspaceID]
		if r == nil {
			continue
		}
		if m.Kind == "open" {
			r.Open = append(r.Open, m.Money)
		} else {
			r.Won = append(r.Won, m.Money)
		}
	}
	return out, nil
}

// jsonIDs writes ids as a JSON array of strings for json_each.
func jsonIDs(ids []string) string {
	b, _ := json.Marshal(ids) // strings only: cannot fail
	return string(b)
}

// WorkspaceNames returns every workspace's name by id, deleted ones
// included (statements name them).
func WorkspaceNames(ctx context.Context, q sqlx.QueryerContext) (map[string]string, error) {
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, name FROM workspaces`); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
