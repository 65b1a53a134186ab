package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Message states of the sender's ledger.
const (
	MessageScheduled = "scheduled" // to be tried (again)
	MessageSending   = "sending"   // committed before the SMTP DATA
	MessageSent      = "sent"      // the server answered 250
	MessageFailed    = "failed"    // refused for good
	MessageUnknown   = "unknown"   // cut off during the conversation: a person settles it
	MessageSkipped   = "skipped"   // a person chose not to send it
	MessageBounced   = "bounced"   // a delivery status notification came back
)

// MessageStates are the ledger's states, in the order of a message's life.
var MessageStates = []string{MessageScheduled, MessageSending, MessageSent, MessageFailed, MessageUnknown, MessageSkipped, MessageBounced}

// Message is one row of the ledger: the email of one step to one enrolled
// contact.
type Message struct {
	Seq          int64        `db:"seq" json:"-"`
	ID           string       `db:"id" json:"id"`
	EnrollmentID string       `db:"enrollment_id" json:"enrollment_id"`
	StepID       string       `db:"step_id" json:"step_id"`
	SequenceID   string       `db:"sequence_id" json:"sequence_id"`
	ContactID    string       `db:"contact_id" json:"contact_id"`
	MailboxID    string       `db:"mailbox_id" json:"mailbox_id"`
	ToEmail      string       `db:"to_email" json:"to"`
	Subject      string       `db:"subject" json:"subject"`
	Variant      string       `db:"variant" json:"variant"`
	MessageID    string       `db:"message_id" json:"message_id"`
	State        string       `db:"state" json:"state"`
	Error        string       `db:"error" json:"error,omitempty"`
	Attempts     int          `db:"attempts" json:"attempts"`
	CreatedAt    time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time    `db:"updated_at" json:"updated_at"`
	SentAt       sql.NullTime `db:"sent_at" json:"-"`
}

// DueEnrollment is an enrollment whose next step is due, with what the
// sender needs of its contact.
type DueEnrollment struct {
	Enrollment
	OwnerID      string `db:"owner_id"`
	StopOnReply  bool   `db:"stop_on_reply"`
	SequenceName string `db:"sequence_name"`
}

// RecoverSending turns the ledger rows left in 'sending' into 'unknown':
// they belong to a conversation that was cut off (a crash, a kill) and
// may or may not have been delivered. The sender calls it before sending,
// when no conversation of this workspace is running.
func RecoverSending(ctx context.Context, db *DB, now time.Time) (int64, error) {
	res, err := db.W.ExecContext(ctx, `UPDATE messages SET state = 'unknown', updated_at = ?,
		error = 'The conversation with the server was cut off (the server stopped); whether the message arrived is not known.'
		WHERE state = 'sending'`, now.UTC())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DueEnrollments returns up to limit active enrollments of active
// sequences whose next step is due by now, the most overdue first.
func DueEnrollments(ctx context.Context, db *DB, now time.Time, limit int) ([]DueEnrollment, error) {
	var due []DueEnrollment
	err := db.R.SelectContext(ctx, &due, `SELECT e.*, trim(c.first_name || ' ' || c.last_name) AS contact_name, c.email AS contact_email,
		0 AS steps_done, c.owner_id, s.stop_on_reply, s.name AS sequence_name
		FROM enrollments e JOIN sequences s ON s.id = e.sequence_id AND s.state = 'active'
		JOIN contacts c ON c.id = e.contact_id
		WHERE e.state = 'active' AND e.next_at <= ? ORDER BY e.next_at, e.seq LIMIT ?`, now.UnixMilli(), limit)
	return due, err
}

// NextStep returns the step of a sequence after position, or nil when the
// sequence has no more.
func NextStep(ctx context.Context, db *DB, sequenceID string, after float64) (*Step, error) {
	var st Step
	err := db.R.GetContext(ctx, &st, `SELECT * FROM sequence_steps WHERE sequence_id = ? AND position > ? ORDER BY position, seq LIMIT 1`,
		sequenceID, after)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &st, err
}

// ScheduleEnrollment records that an enrollment finished the step at
// position done and that its next step is due at next.
func ScheduleEnrollment(ctx context.Context, db *DB, id string, done float64, next time.Time) error {
	_, err := db.W.ExecContext(ctx, `UPDATE enrollments SET done_position = ?, next_at = ?, updated_at = ? WHERE id = ? AND state = 'active'`,
		done, next.UnixMilli(), time.Now().UTC(), id)
	return err
}

// DeferEnrollment moves an enrollment's next step to a later moment (its
// mailbox may not send before).
func DeferEnrollment(ctx context.Context, db *DB, id string, next time.Time) error {
	_, err := db.W.ExecContext(ctx, `UPDATE enrollments SET next_at = ? WHERE id = ? AND state = 'active'`, next.UnixMilli(), id)
	return err
}

// EndEnrollment finishes (state EnrollmentFinished) or stops
// (EnrollmentStopped, with a reason) an enrollment.
func EndEnrollment(ctx context.Context, db *DB, a Actor, e *Enrollment, state, reason string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE enrollments SET state = ?, stop_reason = ?, updated_at = ? WHERE id = ? AND state IN ('active', 'paused')`,
			state, reason, time.Now().UTC(), e.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return auditAbout(ctx, tx, a, e.ContactID, "enrollment."+state, KindEnrollment, e.ID, map[string]Change{"reason": {After: reason}})
	})
}

// ClaimMessage commits the ledger row of one step to one enrollment in
// state 'sending', before any SMTP conversation: the unique (enrollment,
// step) key makes the claim the only one. A row there already is
// returned with claimed false, unless it was scheduled for another try,
// which this claim takes.
func ClaimMessage(ctx context.Context, db *DB, m *Message) (existing *Message, claimed bool, err error) {
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		var old Message
		err := tx.GetContext(ctx, &old, `SELECT * FROM messages WHERE enrollment_id = ? AND step_id = ?`, m.EnrollmentID, m.StepID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			m.State, m.Attempts = MessageSending, 1
			_, err = tx.NamedExecContext(ctx, `INSERT INTO messages (id, enrollment_id, step_id, sequence_id, contact_id, mailbox_id,
				to_email, subject, variant, message_id, state, attempts, created_at, updated_at)
				VALUES (:id, :enrollment_id, :step_id, :sequence_id, :contact_id, :mailbox_id, :to_email, :subject, :variant,
				:message_id, :state, :attempts, :created_at, :updated_at)`, m)
			claimed = err == nil
			return err
		case err != nil:
			return err
		case old.State != MessageScheduled:
			existing = &old
			return nil
		}
		// Another try of a row whose last one did not reach DATA: the
		// same Message-ID, so a receiver could tell two copies apart.
		*m = old
		m.State, m.Attempts, m.UpdatedAt = MessageSending, old.Attempts+1, time.Now().UTC()
		_, err = tx.ExecContext(ctx, `UPDATE messages SET state = 'sending', attempts = ?, updated_at = ? WHERE id = ?`, m.Attempts, m.UpdatedAt, m.ID)
		claimed = err == nil
		return err
	})
	return existing, claimed, err
}

// MessageSentAndAdvance records the server's 250 for a message and, in the
// same transaction, moves its enrollment past the step and writes the
// contact's timeline.
func MessageSentAndAdvance(ctx context.Context, db *DB, m *Message, position float64, next, at time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'sent', error = '', sent_at = ?, updated_at = ? WHERE id = ?`,
			at.UTC(), at.UTC(), m.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE enrollments SET done_position = ?, next_at = ?, updated_at = ? WHERE id = ? AND state = 'active'`,
			position, next.UnixMilli(), at.UTC(), m.EnrollmentID); err != nil {
			return err
		}
		return logActivity(ctx, tx, KindContact, m.ContactID, "email_sent", Actor{Kind: "system", ID: "sender"},
			map[string]Change{"subject": {After: m.Subject}, "message": {After: m.ID}})
	})
}

// SetMessageState records a message's outcome other than sent.
func SetMessageState(ctx context.Context, db *DB, id, state, errMsg string, at time.Time) error {
	_, err := db.W.ExecContext(ctx, `UPDATE messages SET state = ?, error = ?, updated_at = ? WHERE id = ?`, state, errMsg, at.UTC(), id)
	return err
}

// MailboxUsage says how many messages a mailbox sent (or may have sent)
// since a moment, and the last one it tried: its limits count them.
func MailboxUsage(ctx context.Context, db *DB, mailboxID string, since time.Time) (count int, last *Message, err error) {
	if err := db.R.GetContext(ctx, &count, `SELECT count(*) FROM messages WHERE mailbox_id = ? AND state IN ('sending', 'sent', 'unknown')
		AND updated_at >= ?`, mailboxID, since.UTC()); err != nil {
		return 0, nil, err
	}
	var m Message
	err = db.R.GetContext(ctx, &m, `SELECT * FROM messages WHERE mailbox_id = ? AND state IN ('sending', 'sent', 'unknown', 'failed')
		ORDER BY updated_at DESC LIMIT 1`, mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return count, nil, nil
	}
	return count, &m, err
}

// NextSendDue is when the workspace's next step is due: the earliest next
// step of an active enrollment in an active sequence. fn runs in a write
// transaction with it (nil when there is none), so an enrollment or an
// activation committing meanwhile is not missed: it waits for fn.
func NextSendDue(ctx context.Context, db *DB, fn func(next *time.Time) error) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var ms sql.NullInt64
		if err := tx.GetContext(ctx, &ms, `SELECT min(e.next_at) FROM enrollments e JOIN sequences s ON s.id = e.sequence_id AND s.state = 'active'
			WHERE e.state = 'active'`); err != nil {
			return err
		}
		if !ms.Valid {
			return fn(nil)
		}
		t := time.UnixMilli(ms.Int64).UTC()
		return fn(&t)
	})
}

// ListMessages returns a page of the ledger, newest first, filtered by
// sequence, contact and state ("" for any).
func ListMessages(ctx context.Context, db *DB, sequenceID, contactID, state, cursorText string, limit int) ([]Message, string, error) {
	var w clause
	w.eq("sequence_id", sequenceID)
	w.eq("contact_id", contactID)
	w.eq("state", state)
	return listKeyset(ctx, db, keysetPage[Message]{
		selectSQL: `SELECT * FROM messages`, where: w, sort: bySeq("seq"), cursor: cursorText, limit: limit,
		key: func(m Message) cursor { return cursor{m.Seq} },
	})
}

// MessageCounts counts a sequence's ledger rows by state, every state
// present.
func MessageCounts(ctx context.Context, db *DB, sequenceID string) (map[string]int, error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := db.R.SelectContext(ctx, &rows, `SELECT state, count(*) AS n FROM messages WHERE sequence_id = ? GROUP BY state`, sequenceID); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, s := range MessageStates {
		counts[s] = 0
	}
	for _, r := range rows {
		counts[r.State] = r.N
	}
	return counts, nil
}

// GetMessage returns one row of the ledger.
func GetMessage(ctx context.Context, db *DB, id string) (*Message, error) {
	var m Message
	err := db.R.GetContext(ctx, &m, `SELECT * FROM messages WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That message does not exist.")
	}
	return &m, err
}

// Ways a person settles a message whose delivery is unknown.
const (
	SettleSent  = "sent"  // it arrived: the enrollment goes on
	SettleRetry = "retry" // send it again (the same Message-ID)
	SettleSkip  = "skip"  // do not send it; the enrollment goes on
)

// SettleMessage records a person's decision on a message whose delivery is
// unknown (or that failed, for retry and skip).
func SettleMessage(ctx context.Context, db *DB, a Actor, id, how string, now time.Time) (*Message, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var m Message
		err := tx.GetContext(ctx, &m, `SELECT * FROM messages WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That message does not exist.")
		}
		if err != nil {
			return err
		}
		var pos float64
		if err := tx.GetContext(ctx, &pos, `SELECT coalesce((SELECT position FROM sequence_steps WHERE id = ?), -1.0)`, m.StepID); err != nil {
			return err
		}
		switch {
		case m.State != MessageUnknown && !(m.State == MessageFailed && how != SettleSent):
			return Errorf(EConflict, "This message is %s; only one whose delivery is unknown (or, to retry or skip, that failed) can be settled.", m.State)
		case how == SettleSent || how == SettleSkip:
			state := map[string]string{SettleSent: MessageSent, SettleSkip: MessageSkipped}[how]
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = ?, updated_at = ? WHERE id = ?`, state, now.UTC(), id); err != nil {
				return err
			}
			// The enrollment goes on after the step, active again if
			// the message had stopped it.
			if _, err := tx.ExecContext(ctx, `UPDATE enrollments SET done_position = max(done_position, ?), next_at = ?, updated_at = ?,
				state = CASE WHEN state = 'stopped' AND stop_reason = 'failed' THEN 'active' ELSE state END, stop_reason = CASE WHEN stop_reason = 'failed' THEN '' ELSE stop_reason END
				WHERE id = ?`, pos, now.UnixMilli(), now.UTC(), m.EnrollmentID); err != nil {
				return err
			}
		case how == SettleRetry:
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'scheduled', updated_at = ? WHERE id = ?`, now.UTC(), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE enrollments SET next_at = ?, updated_at = ?,
				state = CASE WHEN state = 'stopped' AND stop_reason = 'failed' THEN 'active' ELSE state END, stop_reason = CASE WHEN stop_reason = 'failed' THEN '' ELSE stop_reason END
				WHERE id = ?`, now.UnixMilli(), now.UTC(), m.EnrollmentID); err != nil {
				return err
			}
		default:
			return FieldError("as", "Settle a message as sent, retry or skip.")
		}
		if err := db.due(ctx, DueSend, now); err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, m.ContactID, "message.settle", KindMessage, id, map[string]Change{"state": {Before: m.State, After: how}})
	})
	if err != nil {
		return nil, err
	}
	return GetMessage(ctx, db, id)
}
