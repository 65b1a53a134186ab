package store

import (
	"context"
	"strings"
	"time"
)

// StageTotal is the open deals of one stage in one currency.
type StageTotal struct {
	Pipeline string `db:"pipeline"`
	StageID  string `db:"stage_id"`
	Stage    string `db:"stage"`
	Currency string `db:"currency"` // '' for a stage with no open deal
	Deals    int64  `db:"n"`
	Minor    int64  `db:"value_minor"`
}

// MonthMoney is an amount won in one month and currency.
type MonthMoney struct {
	Month string
	Money
}

// MemberActivity is how many audited writes a member made.
type MemberActivity struct {
	Actor  string `db:"actor"` // user:<id>
	Writes int64  `db:"n"`
}

// Dashboard is a workspace's overview, read from its own file: the open
// pipeline by stage, deals won per month (from the rollup counters),
// tasks due, writes per member this week and this month's emails.
type Dashboard struct {
	Stages                      []StageTotal
	Won                         []MonthMoney
	Overdue, DueToday, DueWeek  int64
	Activity                    []MemberActivity
	Sent, Replied, Bounced      int64 // this month
	Opened, Clicked             int64 // this month: first opens and clicks by a person
	HasSequences                bool
	WeekStart, MonthFrom, Today string
}

// ReadDashboard reads the dashboard as of now (UTC days); won months go
// back to monthFrom (YYYY-MM).
func ReadDashboard(ctx context.Context, db *DB, now time.Time, monthFrom string) (*Dashboard, error) {
	now = now.UTC()
	today := now.Format(time.DateOnly)
	week := now.AddDate(0, 0, -6)
	d := &Dashboard{Today: today, WeekStart: week.Format(time.DateOnly), MonthFrom: monthFrom}
	if err := db.R.SelectContext(ctx, &d.Stages, `SELECT p.name AS pipeline, s.id AS stage_id, s.name AS stage,
			coalesce(d.currency, '') AS currency, count(d.seq) AS n, coalesce(sum(d.value_minor), 0) AS value_minor
		FROM stages s JOIN pipelines p ON p.id = s.pipeline_id
		LEFT JOIN deals d ON d.stage_id = s.id AND d.status = 'open'
		GROUP BY s.id, d.currency ORDER BY p.position, p.seq, s.position, s.seq, d.currency`); err != nil {
		return nil, err
	}
	var won []struct {
		Key   string `db:"key"`
		N     int64  `db:"n"`
		Value int64  `db:"value"`
	}
	if err := db.R.SelectContext(ctx, &won, `SELECT key, n, value FROM rollup WHERE key >= 'won:' || ? AND key < 'won;' ORDER BY key`, monthFrom); err != nil {
		return nil, err
	}
	for _, w := range won {
		parts := strings.Split(w.Key, ":") // won, day, currency
		if len(parts) != 3 || w.N == 0 {
			continue
		}
		month := parts[1][:7]
		if n := len(d.Won); n > 0 && d.Won[n-1].Month == month && d.Won[n-1].Currency == parts[2] {
			d.Won[n-1].Count += w.N
			d.Won[n-1].Minor += w.Value
			continue
		}
		d.Won = append(d.Won, MonthMoney{Month: month, Money: Money{Currency: parts[2], Count: w.N, Minor: w.Value}})
	}
	var due struct {
		Overdue  int64 `db:"overdue"`
		Today    int64 `db:"today"`
		NextWeek int64 `db:"week"`
	}
	if err := db.R.GetContext(ctx, &due, `SELECT coalesce(sum(due_date < ?1), 0) AS overdue, coalesce(sum(due_date = ?1), 0) AS today,
		coalesce(sum(due_date > ?1 AND due_date <= ?2), 0) AS week FROM tasks WHERE done = 0 AND due_date <> ''`,
		today, now.AddDate(0, 0, 7).Format(time.DateOnly)); err != nil {
		return nil, err
	}
	d.Overdue, d.DueToday, d.DueWeek = due.Overdue, due.Today, due.NextWeek
	// Times are stored in one format, UTC: they compare as text.
	if err := db.R.SelectContext(ctx, &d.Activity, `SELECT actor, count(*) AS n FROM audit_log
		WHERE at >= ? AND actor GLOB 'user:*' GROUP BY actor ORDER BY n DESC, actor`,
		time.Date(week.Year(), week.Month(), week.Day(), 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, err
	}
	r, err := ReadRollup(ctx, db.R, now)
	if err != nil {
		return nil, err
	}
	d.Sent, d.Replied, d.Bounced = r.SentMonth, r.RepliedMonth, r.BouncedMonth
	d.Opened, d.Clicked = r.OpenedMonth, r.ClickedMonth
	if err := db.R.GetContext(ctx, &d.HasSequences, `SELECT EXISTS (SELECT 1 FROM sequences)`); err != nil {
		return nil, err
	}
	return d, nil
}

// Email is this month's email funnel: sends, deliveries, and the messages
// people first opened, clicked and answered this month. The counts are
// events of the month, so a message sent last month and opened this one
// counts as opened here.
func (d *Dashboard) Email() Outcomes {
	return Outcomes{Sent: int(d.Sent), Delivered: int(d.Sent - d.Bounced), Opened: int(d.Opened), Clicked: int(d.Clicked),
		Replied: int(d.Replied), Bounced: int(d.Bounced)}
}
