package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Task is a to-do on a contact, a company or a deal, optionally due on a day and
// assigned to a member.
type Task struct {
	Seq        int64      `db:"seq" json:"-"`
	ID         string     `db:"id" json:"id"`
	ContactID  string     `db:"contact_id" json:"contact_id"`
	CompanyID  string     `db:"company_id" json:"company_id"`
	DealID     string     `db:"deal_id" json:"deal_id"`
	Title      string     `db:"title" json:"title"`
	DueDate    string     `db:"due_date" json:"due_date"` // YYYY-MM-DD or ""
	AssigneeID string     `db:"assignee_id" json:"assignee_id"`
	Done       bool       `db:"done" json:"done"`
	DoneAt     *time.Time `db:"done_at" json:"done_at"`
	CreatedBy  string     `db:"created_by" json:"created_by"`
	Version    int64      `db:"version" json:"version"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time  `db:"updated_at" json:"updated_at"`
}

// TaskInput is a create or a partial update: nil fields are left alone.
// Giving any parent id in an update moves the task to that parent. An
// update with an expected version is refused if the task is at another.
type TaskInput struct {
	Expect
	ContactID  *string `json:"contact_id"`
	CompanyID  *string `json:"company_id"`
	DealID     *string `json:"deal_id"`
	Title      *string `json:"title"`
	DueDate    *string `json:"due_date"`
	AssigneeID *string `json:"assignee_id"`
	Done       *bool   `json:"done"`
}

const taskSelect = `SELECT seq, id, coalesce(contact_id, '') AS contact_id, coalesce(company_id, '') AS company_id,
	coalesce(deal_id, '') AS deal_id, title, due_date, assignee_id, done, done_at, created_by, version, created_at, updated_at FROM tasks`

// GetTask returns one task.
func GetTask(ctx context.Context, db *DB, id string) (*Task, error) {
	return getTask(ctx, db.R, id)
}

// GetTaskW reads a task through the writer, so it sees the write just made.
func GetTaskW(ctx context.Context, db *DB, id string) (*Task, error) {
	return getTask(ctx, db.W, id)
}

func getTask(ctx context.Context, q sqlx.QueryerContext, id string) (*Task, error) {
	var t Task
	err := sqlx.GetContext(ctx, q, &t, taskSelect+` WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That task does not exist.")
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateTask adds a task to a contact, company or deal of this workspace.
func CreateTask(ctx context.Context, db *DB, a Actor, in TaskInput) (*Task, error) {
	var t *Task
	err := db.InTx(ctx, func(tx *sqlx.Tx) (err error) {
		t, err = createTask(ctx, tx, a, in, time.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return GetTaskW(ctx, db, t.ID)
}

// createTask is CreateTask in the caller's transaction.
func createTask(ctx context.Context, tx *sqlx.Tx, a Actor, in TaskInput, now time.Time) (*Task, error) {
	now = now.UTC()
	t := &Task{ID: newID(), CreatedBy: a.String(), CreatedAt: now, UpdatedAt: now}
	if err := applyTaskInput(t, in, now); err != nil {
		return nil, err
	}
	if err := setTaskParent(ctx, tx, t, in); err != nil {
		return nil, err
	}
	_, err := tx.NamedExecContext(ctx, `INSERT INTO tasks (id, contact_id, company_id, deal_id, title, due_date, assignee_id, done, done_at, created_by, created_at, updated_at)
		VALUES (:id, nullif(:contact_id, ''), nullif(:company_id, ''), nullif(:deal_id, ''), :title, :due_date, :assignee_id, :done, :done_at, :created_by, :created_at, :updated_at)`, t)
	if err != nil {
		return nil, err
	}
	return t, auditAbout(ctx, tx, a, t.ContactID, "task.create", KindTask, t.ID, taskChanges(&Task{}, t))
}

// UpdateTask applies a partial update. Marking a task done stamps DoneAt;
// reopening it clears it.
func UpdateTask(ctx context.Context, db *DB, a Actor, id string, in TaskInput) (*Task, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getTask(ctx, tx, id)
		if err != nil {
			return err
		}
		t := *before
		now := time.Now().UTC()
		if err := applyTaskInput(&t, in, now); err != nil {
			return err
		}
		if in.ContactID != nil || in.CompanyID != nil || in.DealID != nil {
			if err := setTaskParent(ctx, tx, &t, in); err != nil {
				return err
			}
		}
		changes := taskChanges(before, &t)
		if len(changes) == 0 {
			return in.Check("task", before.Version)
		}
		t.UpdatedAt = now
		err = updateRow(ctx, tx, "tasks", "task", id, in.Expect, `contact_id = nullif(:contact_id, ''), company_id = nullif(:company_id, ''),
			deal_id = nullif(:deal_id, ''), title = :title, due_date = :due_date, assignee_id = :assignee_id, done = :done, done_at = :done_at,
			updated_at = :updated_at`, &t)
		if err != nil {
			return err
		}
		return auditRelink(ctx, tx, a, KindTask, id, before.ContactID, t.ContactID, changes)
	})
	if err != nil {
		return nil, err
	}
	return GetTaskW(ctx, db, id)
}

// DeleteTask removes a task.
func DeleteTask(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getTask(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tasks WHERE id = ?`, id); err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, before.ContactID, "task.delete", KindTask, id, taskChanges(before, &Task{}))
	})
}

// applyTaskInput validates in and copies it onto t, its parent excepted;
// now stamps a task marked done.
func applyTaskInput(t *Task, in TaskInput, now time.Time) error {
	var err error
	if in.Title != nil {
		if t.Title, err = cleanText("title", "The title", *in.Title, maxRecordTitle); err != nil {
			return err
		}
	}
	if t.Title == "" {
		return FieldError("title", "A task needs a title.")
	}
	if in.DueDate != nil {
		if t.DueDate, err = cleanDueDate(*in.DueDate); err != nil {
			return err
		}
	}
	if in.AssigneeID != nil {
		if t.AssigneeID, err = cleanText("assignee_id", "The assignee", *in.AssigneeID, maxMemberRef); err != nil {
			return err
		}
	}
	if in.Done != nil && *in.Done != t.Done {
		t.Done, t.DoneAt = *in.Done, nil
		if t.Done {
			t.DoneAt = &now
		}
	}
	return nil
}

// setTaskParent puts t on the contact, company or deal in gives, which
// must be exactly one and of this workspace.
func setTaskParent(ctx context.Context, tx *sqlx.Tx, t *Task, in TaskInput) error {
	t.ContactID, t.CompanyID = strings.TrimSpace(deref(in.ContactID)), strings.TrimSpace(deref(in.CompanyID))
	t.DealID = strings.TrimSpace(deref(in.DealID))
	return checkParent(ctx, tx, t.ContactID, t.CompanyID, t.DealID)
}

func cleanDueDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", FieldError("due_date", "The due date must be a date written YYYY-MM-DD.")
	}
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// taskChanges lists the fields that differ between two versions.
func taskChanges(before, after *Task) map[string]Change {
	ch := map[string]Change{}
	diff(ch, "title", before.Title, after.Title)
	diff(ch, "contact_id", before.ContactID, after.ContactID)
	diff(ch, "company_id", before.CompanyID, after.CompanyID)
	diff(ch, "deal_id", before.DealID, after.DealID)
	diff(ch, "due_date", before.DueDate, after.DueDate)
	diff(ch, "assignee_id", before.AssigneeID, after.AssigneeID)
	diff(ch, "done", before.Done, after.Done)
	return ch
}

// TaskFilter selects tasks; zero values mean any.
type TaskFilter struct {
	ContactID  string
	CompanyID  string
	DealID     string
	AssigneeID string
	Done       *bool  // only done (true) or open (false) tasks
	Cursor     string // from the previous page's next cursor
	Limit      int
}

// ListTasks returns tasks newest first, keyset-paginated by seq.
func ListTasks(ctx context.Context, db *DB, f TaskFilter) ([]Task, string, error) {
	var w clause
	w.eq("contact_id", f.ContactID)
	w.eq("company_id", f.CompanyID)
	w.eq("deal_id", f.DealID)
	w.eq("assignee_id", f.AssigneeID)
	if f.Done != nil {
		w.and("done = ?", *f.Done)
	}
	return listKeyset(ctx, db, keysetPage[Task]{
		selectSQL: taskSelect, where: w, sort: bySeq("seq"), cursor: f.Cursor, limit: f.Limit,
		key: func(t Task) cursor { return cursor{t.Seq} },
	})
}

// MyTask is an open task of one user, with the name of the record it is on.
type MyTask struct {
	Task
	RecordName string `db:"record_name"`
}

// myTaskSelect reads tasks with the name of their contact, company or deal.
const myTaskSelect = `SELECT t.seq, t.id, coalesce(t.contact_id, '') AS contact_id, coalesce(t.company_id, '') AS company_id,
	coalesce(t.deal_id, '') AS deal_id, t.title, t.due_date, t.assignee_id, t.done, t.done_at, t.created_by, t.version, t.created_at, t.updated_at,
	coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''), nullif(c.email, ''), co.name, d.title, '') AS record_name
	FROM tasks t LEFT JOIN contacts c ON c.id = t.contact_id LEFT JOIN companies co ON co.id = t.company_id
	LEFT JOIN deals d ON d.id = t.deal_id`

// myTasksSQL picks a user's open tasks, soonest first, at most ?2: those
// assigned to them (?1), and those they created for nobody in particular
// (the task form's default), which nobody else would see as theirs. Two
// reads, one per index (see the workspace migration my_tasks), rather than
// one with an OR, which went through every open task; each reads only its
// index, and only the tasks kept are joined to their records.
const myTasksSQL = `SELECT seq FROM (
		SELECT seq, due_date FROM tasks WHERE assignee_id = ?1 AND done = 0
		UNION ALL
		SELECT seq, due_date FROM tasks WHERE created_by = 'user:' || ?1 AND assignee_id = '' AND done = 0)
	ORDER BY due_date = '', due_date, seq LIMIT ?2`

// ListMyTasks returns the open tasks of a user in this workspace: overdue
// first, then by due date, those without one last; at most limit.
func ListMyTasks(ctx context.Context, db *DB, userID string, limit int) ([]MyTask, error) {
	if userID == "" {
		return nil, Errorf(EInvalid, "Whose tasks? No user given.")
	}
	tasks := []MyTask{}
	err := db.R.SelectContext(ctx, &tasks, myTaskSelect+` WHERE t.seq IN (`+myTasksSQL+`)
		ORDER BY t.due_date = '', t.due_date, t.seq`, userID, clampLimit(limit))
	return tasks, err
}

// GetMyTask returns one task with the name of its record.
func GetMyTask(ctx context.Context, db *DB, id string) (*MyTask, error) {
	var t MyTask
	err := db.W.GetContext(ctx, &t, myTaskSelect+` WHERE t.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That task does not exist.")
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// TaskCounts are how many of a user's open tasks are late or due on a day.
type TaskCounts struct {
	Overdue  int `db:"overdue"`
	DueToday int `db:"due_today"`
}

// CountMyTasks counts a user's open tasks overdue and due on today
// (YYYY-MM-DD) in this workspace.
func CountMyTasks(ctx context.Context, db *DB, userID, today string) (TaskCounts, error) {
	var n TaskCounts
	if _, err := time.Parse("2006-01-02", today); err != nil {
		return n, Errorf(EInvalid, "%q is not a date written YYYY-MM-DD.", truncateText(today, 40))
	}
	err := db.R.GetContext(ctx, &n, `SELECT coalesce(sum(due_date < ?2), 0) AS overdue, coalesce(sum(due_date = ?2), 0) AS due_today FROM (
		SELECT due_date FROM tasks WHERE done = 0 AND assignee_id = ?1 AND due_date BETWEEN '0' AND ?2
		UNION ALL
		SELECT due_date FROM tasks WHERE done = 0 AND assignee_id = '' AND created_by = 'user:' || ?1 AND due_date BETWEEN '0' AND ?2)`, userID, today)
	return n, err
}

// TaskBucket says when a task is due relative to today (YYYY-MM-DD):
// "overdue", "today", "upcoming" or "undated".
func TaskBucket(due, today string) string {
	switch {
	case due == "":
		return "undated"
	case due < today:
		return "overdue"
	case due == today:
		return "today"
	}
	return "upcoming"
}

// Today is the date tasks fall due against, YYYY-MM-DD in UTC: due dates
// are days without a zone, and accounts have no zone of their own yet.
func Today() string { return time.Now().UTC().Format("2006-01-02") }

// Overdue reports whether an open task's due day has passed.
func (t Task) Overdue() bool { return !t.Done && TaskBucket(t.DueDate, Today()) == "overdue" }
