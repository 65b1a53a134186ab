package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Sequence states.
const (
	SequenceDraft    = "draft"
	SequenceActive   = "active"
	SequencePaused   = "paused"
	SequenceArchived = "archived"
)

// Step kinds.
const (
	StepEmail = "email"
	StepWait  = "wait"
	StepTask  = "task"
)

// Limits of a sequence.
const (
	maxSequenceName  = 100
	maxSequenceSteps = 50
	maxWaitMinutes   = 365 * 24 * 60
)

// Sequence is an outreach sequence: ordered steps sent from its mailboxes.
type Sequence struct {
	Seq          int64  `db:"seq" json:"-"`
	ID           string `db:"id" json:"id"`
	Name         string `db:"name" json:"name"`
	State        string `db:"state" json:"state"`
	StopOnReply  bool   `db:"stop_on_reply" json:"stop_on_reply"`
	StopByDomain bool   `db:"stop_by_domain" json:"stop_by_domain"`
	// PausedReason says why the system paused it (bounce protection).
	PausedReason string    `db:"paused_reason" json:"paused_reason"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time `db:"updated_at" json:"updated_at"`
	MailboxIDs   []string  `db:"-" json:"mailbox_ids"`
	Steps        []Step    `db:"-" json:"steps"`
	// Counts are its enrollments by state.
	Counts map[string]int `db:"-" json:"enrollment_counts"`
	// Tracking adds the open pixel and the click redirects to its
	// messages (off unless turned on).
	Tracking bool `db:"tracking" json:"tracking"`
}

// Step is one step of a sequence.
type Step struct {
	Seq          int64          `db:"seq" json:"-"`
	ID           string         `db:"id" json:"id"`
	SequenceID   string         `db:"sequence_id" json:"-"`
	Position     float64        `db:"position" json:"position"`
	Kind         string         `db:"kind" json:"kind"`
	TemplateID   sql.NullString `db:"template_id" json:"-"`
	VariantID    sql.NullString `db:"variant_id" json:"-"`
	WaitMinutes  int            `db:"wait_minutes" json:"wait_minutes,omitempty"`
	BusinessDays bool           `db:"business_days" json:"business_days,omitempty"`
	TaskTitle    string         `db:"task_title" json:"task_title,omitempty"`
	CreatedAt    time.Time      `db:"created_at" json:"-"`
	UpdatedAt    time.Time      `db:"updated_at" json:"-"`
}

// StepInput is one step as a create or a replacement of the steps gives it.
type StepInput struct {
	// ID names an existing step to keep (changed as given); empty for a
	// new step.
	ID           string `json:"id,omitempty"`
	Kind         string `json:"kind"`
	TemplateID   string `json:"template_id,omitempty"`
	VariantID    string `json:"variant_template_id,omitempty"`
	WaitMinutes  int    `json:"wait_minutes,omitempty"`
	BusinessDays bool   `json:"business_days,omitempty"`
	TaskTitle    string `json:"task_title,omitempty"`
}

// SequenceInput is a create or a partial update: nil fields are left
// alone. Steps, when given, are the sequence's steps from then on (see
// setSequenceSteps: steps given with their id stay where they are).
type SequenceInput struct {
	Name         *string      `json:"name"`
	StopOnReply  *bool        `json:"stop_on_reply"`
	StopByDomain *bool        `json:"stop_by_domain"`
	Tracking     *bool        `json:"tracking"`
	MailboxIDs   *[]string    `json:"mailbox_ids"`
	Steps        *[]StepInput `json:"steps"`
}

// MarshalJSON gives a step's templates as plain strings.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		TemplateID string `json:"template_id,omitempty"`
		VariantID  string `json:"variant_template_id,omitempty"`
	}{plain(s), s.TemplateID.String, s.VariantID.String})
}

// ListSequences returns a page of the workspace's sequences, newest first,
// with their enrollment counts.
func ListSequences(ctx context.Context, db *DB, cursorText string, limit int) ([]Sequence, string, error) {
	list, next, err := listKeyset(ctx, db, keysetPage[Sequence]{
		selectSQL: `SELECT * FROM sequences`, sort: bySeq("seq"), cursor: cursorText, limit: limit,
		key: func(s Sequence) cursor { return cursor{s.Seq} },
	})
	if err != nil {
		return nil, "", err
	}
	for i := range list {
		if err := fillSequence(ctx, db.R, &list[i]); err != nil {
			return nil, "", err
		}
	}
	return list, next, nil
}

// SequenceRef names a sequence, for pickers.
type SequenceRef struct {
	ID   string `db:"id"`
	Name string `db:"name"`
}

// OpenSequences names the sequences that take enrollments (not archived),
// by name.
func OpenSequences(ctx context.Context, db *DB) ([]SequenceRef, error) {
	var refs []SequenceRef
	err := db.R.SelectContext(ctx, &refs, `SELECT id, name FROM sequences WHERE state <> 'archived' ORDER BY name COLLATE NOCASE LIMIT 200`)
	return refs, err
}

// GetSequence returns a sequence with its mailboxes, steps and counts.
func GetSequence(ctx context.Context, db *DB, id string) (*Sequence, error) {
	return getSequence(ctx, db.R, id)
}

func getSequence(ctx context.Context, q sqlx.QueryerContext, id string) (*Sequence, error) {
	var s Sequence
	err := sqlx.GetContext(ctx, q, &s, `SELECT * FROM sequences WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That sequence does not exist.")
	}
	if err != nil {
		return nil, err
	}
	return &s, fillSequence(ctx, q, &s)
}

func fillSequence(ctx context.Context, q sqlx.QueryerContext, s *Sequence) error {
	s.MailboxIDs = []string{}
	if err := sqlx.SelectContext(ctx, q, &s.MailboxIDs, `SELECT mailbox_id FROM sequence_mailboxes WHERE sequence_id = ? ORDER BY mailbox_id`, s.ID); err != nil {
		return err
	}
	s.Steps = []Step{}
	if err := sqlx.SelectContext(ctx, q, &s.Steps, `SELECT * FROM sequence_steps WHERE sequence_id = ? ORDER BY position, seq`, s.ID); err != nil {
		return err
	}
	var counts []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, q, &counts, `SELECT state, count(*) AS n FROM enrollments WHERE sequence_id = ? GROUP BY state`, s.ID); err != nil {
		return err
	}
	s.Counts = map[string]int{"active": 0, "paused": 0, "finished": 0, "stopped": 0}
	for _, c := range counts {
		s.Counts[c.State] = c.N
	}
	return nil
}

// CreateSequence adds a sequence, as a draft, with its mailboxes and steps.
func CreateSequence(ctx context.Context, db *DB, a Actor, in SequenceInput) (*Sequence, error) {
	now := time.Now().UTC()
	s := &Sequence{ID: newID(), State: SequenceDraft, StopOnReply: true, CreatedAt: now, UpdatedAt: now}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		applySequenceFlags(s, in)
		if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
			return FieldError("name", "Give the sequence a name.")
		}
		if err := checkSequenceName(*in.Name); err != nil {
			return err
		}
		s.Name = strings.TrimSpace(*in.Name)
		_, err := tx.NamedExecContext(ctx, `INSERT INTO sequences (id, name, state, stop_on_reply, stop_by_domain, tracking, created_at, updated_at)
			VALUES (:id, :name, :state, :stop_on_reply, :stop_by_domain, :tracking, :created_at, :updated_at)`, s)
		if isUniqueViolation(err) {
			return FieldError("name", "Another sequence is called %q.", s.Name)
		}
		if err != nil {
			return err
		}
		if err := writeSequenceParts(ctx, tx, s.ID, in, now); err != nil {
			return err
		}
		return audit(ctx, tx, a, "sequence.create", KindSequence, s.ID, map[string]Change{"name": {After: s.Name}})
	})
	if err != nil {
		return nil, err
	}
	return getSequence(ctx, db.W, s.ID)
}

// UpdateSequence changes a sequence's name, options, mailboxes or steps.
func UpdateSequence(ctx context.Context, db *DB, a Actor, id string, in SequenceInput) (*Sequence, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getSequence(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.State == SequenceArchived {
			return Errorf(EConflict, "The sequence %s is archived; it cannot change.", before.Name)
		}
		s := *before
		applySequenceFlags(&s, in)
		if in.Name != nil {
			if err := checkSequenceName(*in.Name); err != nil {
				return err
			}
			s.Name = strings.TrimSpace(*in.Name)
		}
		s.UpdatedAt = time.Now().UTC()
		_, err = tx.NamedExecContext(ctx, `UPDATE sequences SET name = :name, stop_on_reply = :stop_on_reply,
			stop_by_domain = :stop_by_domain, tracking = :tracking, updated_at = :updated_at WHERE id = :id`, &s)
		if isUniqueViolation(err) {
			return FieldError("name", "Another sequence is called %q.", s.Name)
		}
		if err != nil {
			return err
		}
		if err := writeSequenceParts(ctx, tx, id, in, s.UpdatedAt); err != nil {
			return err
		}
		changes := map[string]Change{}
		if s.Name != before.Name {
			changes["name"] = Change{Before: before.Name, After: s.Name}
		}
		if s.Tracking != before.Tracking {
			changes["tracking"] = Change{Before: before.Tracking, After: s.Tracking}
		}
		if in.Steps != nil {
			changes["steps"] = Change{Before: len(before.Steps), After: len(*in.Steps)}
		}
		if in.MailboxIDs != nil {
			changes["mailboxes"] = Change{Before: len(before.MailboxIDs), After: len(*in.MailboxIDs)}
		}
		return audit(ctx, tx, a, "sequence.update", KindSequence, id, changes)
	})
	if err != nil {
		return nil, err
	}
	return getSequence(ctx, db.W, id)
}

func applySequenceFlags(s *Sequence, in SequenceInput) {
	if in.StopOnReply != nil {
		s.StopOnReply = *in.StopOnReply
	}
	if in.StopByDomain != nil {
		s.StopByDomain = *in.StopByDomain
	}
	if in.Tracking != nil {
		s.Tracking = *in.Tracking
	}
}

func checkSequenceName(name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxSequenceName || strings.ContainsAny(name, "\r\n") {
		return FieldError("name", "The name must be one line of 1 to %d characters.", maxSequenceName)
	}
	return nil
}

// writeSequenceParts replaces the mailboxes and the steps the input gives.
func writeSequenceParts(ctx context.Context, tx *sqlx.Tx, id string, in SequenceInput, now time.Time) error {
	if in.MailboxIDs != nil {
		if err := setSequenceMailboxes(ctx, tx, id, *in.MailboxIDs); err != nil {
			return err
		}
	}
	if in.Steps != nil {
		return setSequenceSteps(ctx, tx, id, *in.Steps, now)
	}
	return nil
}

func setSequenceMailboxes(ctx context.Context, tx *sqlx.Tx, id string, mailboxIDs []string) error {
	// Enrollments keep their mailbox: one taken off the sequence still
	// sends their next steps, so their threads stay in one inbox.
	if _, err := tx.ExecContext(ctx, `DELETE FROM sequence_mailboxes WHERE sequence_id = ?`, id); err != nil {
		return err
	}
	for _, mb := range mailboxIDs {
		if _, err := getMailbox(ctx, tx, mb); err != nil {
			return FieldError("mailbox_ids", "The email account %s does not exist in this workspace.", truncateText(mb, 40))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sequence_mailboxes (sequence_id, mailbox_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, mb); err != nil {
			return err
		}
	}
	return nil
}

// setSequenceSteps makes the sequence's steps those given, in that order.
// A step given with its id is that step, changed in place: it keeps its id
// and its position, so an enrollment past it stays past it and the
// ledger's (enrollment, step) key still knows what was sent for it. A step
// without an id is new: its position falls between its neighbours'. The
// steps not given are removed. Steps that stay keep their order.
func setSequenceSteps(ctx context.Context, tx *sqlx.Tx, id string, steps []StepInput, now time.Time) error {
	if len(steps) > maxSequenceSteps {
		return FieldError("steps", "A sequence has at most %d steps.", maxSequenceSteps)
	}
	var current []Step
	if err := tx.SelectContext(ctx, &current, `SELECT * FROM sequence_steps WHERE sequence_id = ? ORDER BY position, seq`, id); err != nil {
		return err
	}
	existing := map[string]Step{}
	for _, st := range current {
		existing[st.ID] = st
	}
	kept := map[string]bool{}
	prev := -1.0
	for i, in := range steps {
		st, err := checkStep(ctx, tx, i, in)
		if err != nil {
			return err
		}
		st.SequenceID, st.UpdatedAt = id, now
		if in.ID != "" {
			old, ok := existing[in.ID]
			switch {
			case !ok || kept[in.ID]:
				return FieldError("steps."+strconv.Itoa(i), "Step %d names a step this sequence does not have.", i+1)
			case old.Position <= prev:
				return FieldError("steps."+strconv.Itoa(i), "Step %d was moved: steps that stay keep their order (remove it and add a new one instead).", i+1)
			}
			st.ID, st.Position, st.CreatedAt = old.ID, old.Position, old.CreatedAt
			kept[st.ID] = true
			if _, err := tx.NamedExecContext(ctx, `UPDATE sequence_steps SET kind = :kind, template_id = :template_id, variant_id = :variant_id,
				wait_minutes = :wait_minutes, business_days = :business_days, task_title = :task_title, updated_at = :updated_at
				WHERE id = :id`, st); err != nil {
				return err
			}
		} else {
			st.ID, st.Position, st.CreatedAt = newID(), positionAfter(prev, steps[i+1:], existing), now
			if _, err := tx.NamedExecContext(ctx, `INSERT INTO sequence_steps (id, sequence_id, position, kind, template_id, variant_id,
				wait_minutes, business_days, task_title, created_at, updated_at)
				VALUES (:id, :sequence_id, :position, :kind, :template_id, :variant_id, :wait_minutes, :business_days, :task_title,
				:created_at, :updated_at)`, st); err != nil {
				return err
			}
		}
		prev = st.Position
	}
	for _, st := range current {
		if !kept[st.ID] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sequence_steps WHERE id = ?`, st.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// positionAfter is the position of a new step after prev: halfway to the
// next step that stays, or one more when none follows. A removed step's
// position is never reused below an existing one, so no enrollment's
// progress moves.
func positionAfter(prev float64, rest []StepInput, existing map[string]Step) float64 {
	for _, in := range rest {
		if st, ok := existing[in.ID]; ok && in.ID != "" {
			return prev + (st.Position-prev)/2
		}
	}
	last := prev
	for _, st := range existing {
		last = max(last, st.Position)
	}
	return math.Floor(last) + 1
}

// checkStep validates step i; the field of an error names it ("steps.2").
func checkStep(ctx context.Context, tx *sqlx.Tx, i int, in StepInput) (*Step, error) {
	field := "steps." + strconv.Itoa(i)
	st := &Step{Kind: in.Kind}
	switch in.Kind {
	case StepEmail:
		if in.TemplateID == "" {
			return nil, FieldError(field, "Step %d sends an email: choose its template.", i+1)
		}
		for _, t := range []string{in.TemplateID, in.VariantID} {
			if t == "" {
				continue
			}
			if _, err := getTemplate(ctx, tx, t); err != nil {
				return nil, FieldError(field, "Step %d names a template that does not exist in this workspace.", i+1)
			}
		}
		st.TemplateID = sql.NullString{String: in.TemplateID, Valid: true}
		st.VariantID = sql.NullString{String: in.VariantID, Valid: in.VariantID != ""}
	case StepWait:
		if in.WaitMinutes < 0 || in.WaitMinutes > maxWaitMinutes {
			return nil, FieldError(field, "Step %d waits from 0 minutes to a year.", i+1)
		}
		st.WaitMinutes, st.BusinessDays = in.WaitMinutes, in.BusinessDays
	case StepTask:
		title := strings.TrimSpace(in.TaskTitle)
		if title == "" || len(title) > maxRecordTitle {
			return nil, FieldError(field, "Step %d makes a task: give its title (at most %d characters).", i+1, maxRecordTitle)
		}
		st.TaskTitle = title
	default:
		return nil, FieldError(field, "Step %d must be an email, a wait or a task.", i+1)
	}
	return st, nil
}

// SetSequenceState activates, pauses or archives a sequence. Activating
// needs an email account and a step.
func SetSequenceState(ctx context.Context, db *DB, a Actor, id, state string) (*Sequence, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		s, err := getSequence(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case state != SequenceActive && state != SequencePaused && state != SequenceArchived:
			return FieldError("state", "A sequence can be activated, paused or archived.")
		case s.State == SequenceArchived:
			return Errorf(EConflict, "The sequence %s is archived.", s.Name)
		case state == SequenceActive && len(s.MailboxIDs) == 0:
			return Errorf(EConflict, "Choose at least one email account for %s before activating it.", s.Name)
		case state == SequenceActive && len(s.Steps) == 0:
			return Errorf(EConflict, "Give %s at least one step before activating it.", s.Name)
		}
		if s.State == state {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sequences SET state = ?, paused_reason = '', updated_at = ? WHERE id = ?`, state, time.Now().UTC(), id); err != nil {
			return err
		}
		if state == SequenceActive {
			if err := db.due(ctx, DueSend, time.Now()); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "sequence."+stateVerb(state), KindSequence, id, map[string]Change{"state": {Before: s.State, After: state}})
	})
	if err != nil {
		return nil, err
	}
	return getSequence(ctx, db.W, id)
}

func stateVerb(state string) string {
	return map[string]string{SequenceActive: "activate", SequencePaused: "pause", SequenceArchived: "archive"}[state]
}

// DeleteSequence removes a sequence that never sent anything; one that did
// is archived instead, so its ledger stays.
func DeleteSequence(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		s, err := getSequence(ctx, tx, id)
		if err != nil {
			return err
		}
		var sent int
		if err := tx.GetContext(ctx, &sent, `SELECT count(*) FROM messages WHERE sequence_id = ?`, id); err != nil {
			return err
		}
		if sent > 0 {
			return Errorf(EConflict, "%s has sent messages; archive it instead, so its record of them stays.", s.Name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sequences WHERE id = ?`, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "sequence.delete", KindSequence, id, map[string]Change{"name": {Before: s.Name}})
	})
}
