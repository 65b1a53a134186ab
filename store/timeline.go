package store

import (
	"context"
	"encoding/json"
	"time"
)

// TimelineItem is one entry of a contact's or company's activity timeline.
type TimelineItem struct {
	Kind   string    `db:"kind" json:"kind"` // created, changed, note, task, task_done, deal_open, deal_won, deal_lost
	At     time.Time `db:"at" json:"at"`
	Actor  string    `db:"actor" json:"actor"`
	RefID  string    `db:"ref_id" json:"ref_id"` // the note or task
	Text   string    `db:"text" json:"text"`     // the note's body or the task's title
	Detail string    `db:"detail" json:"-"`      // JSON of changed fields
}

// Changes decodes the fields a "changed" item changed.
func (t TimelineItem) Changes() map[string]Change {
	m := map[string]Change{}
	json.Unmarshal([]byte(t.Detail), &m)
	return m
}

// Timeline returns the newest entries of a contact's or a company's
// timeline: activities, notes and tasks, newest first.
func Timeline(ctx context.Context, db *DB, k Kind, id string, limit int) ([]TimelineItem, error) {
	return timeline(ctx, db, k, id, clampLimit(limit))
}

// timeline is Timeline without the page bound: a limit of -1 returns all.
func timeline(ctx context.Context, db *DB, k Kind, id string, limit int) ([]TimelineItem, error) {
	col, err := k.recordColumn()
	if err != nil {
		return nil, err
	}
	var items []TimelineItem
	err = db.R.SelectContext(ctx, &items, `SELECT * FROM (
			SELECT kind, created_at AS at, actor, '' AS ref_id, '' AS text, detail FROM activities WHERE `+col+` = ?1
			UNION ALL
			SELECT 'note', created_at, 'user:' || author_id, id, body, '{}' FROM notes WHERE `+col+` = ?1
			UNION ALL
			SELECT CASE done WHEN 1 THEN 'task_done' ELSE 'task' END, created_at, created_by, id, title,
				json_object('due_date', due_date) FROM tasks WHERE `+col+` = ?1
			UNION ALL
			SELECT 'deal_' || status, created_at, '', id, title, '{}' FROM deals WHERE `+col+` = ?1
		) ORDER BY at DESC LIMIT ?2`, id, limit)
	return items, err
}
