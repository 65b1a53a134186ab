package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Enrollment states.
const (
	EnrollmentActive   = "active"
	EnrollmentPaused   = "paused"
	EnrollmentFinished = "finished"
	EnrollmentStopped  = "stopped"
)

// Why a contact was not enrolled.
const (
	SkipNotFound        = "not_found"
	SkipNoEmail         = "no_email"
	SkipSuppressed      = "suppressed"
	SkipBounced         = "bounced"
	SkipAlreadyEnrolled = "already_enrolled"
)

// maxEnrollBatch bounds the contacts one enrollment request names.
const maxEnrollBatch = 1000

// Enrollment is one contact going through one sequence.
type Enrollment struct {
	Seq          int64   `db:"seq" json:"-"`
	ID           string  `db:"id" json:"id"`
	SequenceID   string  `db:"sequence_id" json:"sequence_id"`
	ContactID    string  `db:"contact_id" json:"contact_id"`
	MailboxID    string  `db:"mailbox_id" json:"mailbox_id"`
	Variant      string  `db:"variant" json:"variant"`
	State        string  `db:"state" json:"state"`
	StopReason   string  `db:"stop_reason" json:"stop_reason,omitempty"`
	DonePosition float64 `db:"done_position" json:"-"`
	// StepsDone counts the sequence's steps it finished.
	StepsDone    int       `db:"steps_done" json:"steps_done"`
	NextAtMillis int64     `db:"next_at" json:"-"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time `db:"updated_at" json:"updated_at"`
	// ContactName and ContactEmail are shown in lists.
	ContactName  string `db:"contact_name" json:"contact_name"`
	ContactEmail string `db:"contact_email" json:"contact_email"`
}

// NextAt is when the enrollment's next step is due.
func (e Enrollment) NextAt() time.Time { return time.UnixMilli(e.NextAtMillis).UTC() }

// Skipped is a contact that was not enrolled, and why.
type Skipped struct {
	ContactID string `json:"contact_id"`
	Reason    string `json:"reason"`
}

// EnrollResult says how many contacts were enrolled and which were not.
type EnrollResult struct {
	Enrolled int       `json:"enrolled"`
	Skipped  []Skipped `json:"skipped"`
}

// SuppressedFunc tells which of the emails must not be written to, and
// why (SkipSuppressed or SkipBounced); the workspace service answers it
// from the suppression lists.
type SuppressedFunc func(emails []string) (map[string]string, error)

const enrollmentSelect = `SELECT e.*, trim(c.first_name || ' ' || c.last_name) AS contact_name, c.email AS contact_email,
	(SELECT count(*) FROM sequence_steps st WHERE st.sequence_id = e.sequence_id AND st.position <= e.done_position) AS steps_done
	FROM enrollments e JOIN contacts c ON c.id = e.contact_id`

// Enroll puts contacts into a sequence. Contacts without an email,
// suppressed or bounced, or already in it are skipped, each with its
// reason. Each enrollment gets the sequence's email account with the
// fewest enrollments (so a thread stays in one inbox and the accounts share
// the load) and the A/B variant in turn; its first step is due now.
func Enroll(ctx context.Context, db *DB, a Actor, sequenceID string, contactIDs []string, suppressed SuppressedFunc, now time.Time) (*EnrollResult, error) {
	if len(contactIDs) == 0 || len(contactIDs) > maxEnrollBatch {
		return nil, FieldError("contact_ids", "Name from 1 to %d contacts.", maxEnrollBatch)
	}
	res := &EnrollResult{Skipped: []Skipped{}}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		s, err := getSequence(ctx, tx, sequenceID)
		if err != nil {
			return err
		}
		if s.State == SequenceArchived {
			return Errorf(EConflict, "The sequence %s is archived.", s.Name)
		}
		if len(s.MailboxIDs) == 0 {
			return Errorf(EConflict, "Choose an email account for %s before enrolling anyone.", s.Name)
		}
		contacts, err := enrollable(ctx, tx, s.ID, contactIDs, suppressed, res)
		if err != nil {
			return err
		}
		for _, c := range contacts {
			if err := enrollOne(ctx, tx, a, s, c.ID, now); err != nil {
				return err
			}
			res.Enrolled++
		}
		if res.Enrolled == 0 || s.State != SequenceActive {
			return nil
		}
		return db.due(ctx, DueSend, now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// enrollable returns the contacts that may be enrolled and records in res
// why the others may not.
func enrollable(ctx context.Context, tx *sqlx.Tx, sequenceID string, ids []string, suppressed SuppressedFunc, res *EnrollResult) ([]Contact, error) {
	var ok []Contact
	seen := map[string]bool{}
	var emails []string
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := getContact(ctx, tx, id)
		switch {
		case ErrorCode(err) == ENotFound || (err == nil && !ValidID(id)):
			res.Skipped = append(res.Skipped, Skipped{id, SkipNotFound})
			continue
		case err != nil:
			return nil, err
		case c.Email == "":
			res.Skipped = append(res.Skipped, Skipped{id, SkipNoEmail})
			continue
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM enrollments WHERE sequence_id = ? AND contact_id = ?`, sequenceID, id); err != nil {
			return nil, err
		}
		if n > 0 {
			res.Skipped = append(res.Skipped, Skipped{id, SkipAlreadyEnrolled})
			continue
		}
		ok = append(ok, *c)
		emails = append(emails, strings.ToLower(c.Email))
	}
	if suppressed == nil || len(ok) == 0 {
		return ok, nil
	}
	why, err := suppressed(emails)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ok, func(c Contact) bool {
		reason, no := why[strings.ToLower(c.Email)]
		if no {
			res.Skipped = append(res.Skipped, Skipped{c.ID, reason})
		}
		return no
	}), nil
}

func enrollOne(ctx context.Context, tx *sqlx.Tx, a Actor, s *Sequence, contactID string, now time.Time) error {
	var mailbox string
	// The account with the fewest enrollments still going, then by id.
	err := tx.GetContext(ctx, &mailbox, `SELECT sm.mailbox_id FROM sequence_mailboxes sm
		WHERE sm.sequence_id = ?
		ORDER BY (SELECT count(*) FROM enrollments e WHERE e.mailbox_id = sm.mailbox_id AND e.state IN ('active', 'paused')), sm.mailbox_id
		LIMIT 1`, s.ID)
	if err != nil {
		return err
	}
	var count int
	if err := tx.GetContext(ctx, &count, `SELECT count(*) FROM enrollments WHERE sequence_id = ?`, s.ID); err != nil {
		return err
	}
	variant := "a"
	if count%2 == 1 {
		variant = "b"
	}
	t := now.UTC()
	e := Enrollment{ID: newID(), SequenceID: s.ID, ContactID: contactID, MailboxID: mailbox, Variant: variant, State: EnrollmentActive,
		DonePosition: -1, NextAtMillis: t.UnixMilli(), CreatedAt: t, UpdatedAt: t}
	_, err = tx.NamedExecContext(ctx, `INSERT INTO enrollments (id, sequence_id, contact_id, mailbox_id, variant, state, done_position,
		next_at, created_at, updated_at) VALUES (:id, :sequence_id, :contact_id, :mailbox_id, :variant, :state, :done_position,
		:next_at, :created_at, :updated_at)`, &e)
	if err != nil {
		return err
	}
	if err := logActivity(ctx, tx, KindContact, contactID, "enrolled", a, map[string]Change{"sequence": {After: s.Name}}); err != nil {
		return err
	}
	return auditAbout(ctx, tx, a, contactID, "enrollment.create", KindEnrollment, e.ID, map[string]Change{"sequence": {After: s.Name}})
}

// ListEnrollments returns a page of a sequence's enrollments, newest
// first; state "" lists every state.
func ListEnrollments(ctx context.Context, db *DB, sequenceID, state, cursorText string, limit int) ([]Enrollment, string, error) {
	var w clause
	w.eq("e.sequence_id", sequenceID)
	w.eq("e.state", state)
	return listKeyset(ctx, db, keysetPage[Enrollment]{
		selectSQL: enrollmentSelect, where: w, sort: bySeq("e.seq"), cursor: cursorText, limit: limit,
		key: func(e Enrollment) cursor { return cursor{e.Seq} },
	})
}

// GetEnrollment returns one enrollment.
func GetEnrollment(ctx context.Context, db *DB, id string) (*Enrollment, error) {
	return getEnrollment(ctx, db.R, id)
}

func getEnrollment(ctx context.Context, q sqlx.QueryerContext, id string) (*Enrollment, error) {
	var e Enrollment
	err := sqlx.GetContext(ctx, q, &e, enrollmentSelect+` WHERE e.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That enrollment does not exist.")
	}
	return &e, err
}

// SetEnrollmentState pauses, resumes or stops an enrollment. A stopped or
// finished one stays so; resuming makes its next step due now at the
// earliest.
func SetEnrollmentState(ctx context.Context, db *DB, a Actor, id, state, reason string, now time.Time) (*Enrollment, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		e, err := getEnrollment(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case state != EnrollmentActive && state != EnrollmentPaused && state != EnrollmentStopped:
			return FieldError("state", "An enrollment can be resumed, paused or stopped.")
		case e.State == EnrollmentFinished || e.State == EnrollmentStopped:
			return Errorf(EConflict, "This enrollment is %s.", e.State)
		case e.State == state:
			return nil
		}
		if state == EnrollmentStopped && reason == "" {
			reason = "manual"
		}
		next := max(e.NextAtMillis, now.UnixMilli())
		if _, err := tx.ExecContext(ctx, `UPDATE enrollments SET state = ?, stop_reason = ?, next_at = ?, updated_at = ? WHERE id = ?`,
			state, reason, next, now.UTC(), id); err != nil {
			return err
		}
		if state == EnrollmentActive {
			if err := db.due(ctx, DueSend, time.UnixMilli(next)); err != nil {
				return err
			}
		}
		return auditAbout(ctx, tx, a, e.ContactID, "enrollment."+state, KindEnrollment, id, map[string]Change{"state": {Before: e.State, After: state}})
	})
	if err != nil {
		return nil, err
	}
	return getEnrollment(ctx, db.W, id)
}

// StopOnReply stops the enrollments a reply of the contact ends: theirs in
// the sequences that stop on a reply and, in those that stop by domain,
// those of every contact whose email has the same domain. It returns how
// many it stopped. Replies arrive with the inbox poller; this is where
// they act.
func StopOnReply(ctx context.Context, db *DB, a Actor, contactID string) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx *sqlx.Tx) (err error) {
		n, err = stopOnReply(ctx, tx, a, contactID)
		return err
	})
	return n, err
}

// stopOnReply is StopOnReply in the caller's transaction.
func stopOnReply(ctx context.Context, tx *sqlx.Tx, a Actor, contactID string) (int64, error) {
	c, err := getContact(ctx, tx, contactID)
	if err != nil {
		return 0, err
	}
	_, domain, _ := strings.Cut(strings.ToLower(c.Email), "@")
	if publicMailDomains[domain] {
		domain = "" // thousands of people, not one company: only the replier stops
	}
	res, err := tx.ExecContext(ctx, `UPDATE enrollments SET state = 'stopped', stop_reason = 'replied', updated_at = ?
		WHERE state IN ('active', 'paused') AND (
			(contact_id = ? AND sequence_id IN (SELECT id FROM sequences WHERE stop_on_reply = 1))
			OR (? <> '' AND sequence_id IN (SELECT id FROM sequences WHERE stop_by_domain = 1)
				AND contact_id IN (SELECT id FROM contacts WHERE email LIKE '%@' || ? ESCAPE '\'))
		)`, time.Now().UTC(), contactID, domain, escapeLike(domain))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	return n, auditAbout(ctx, tx, a, contactID, "enrollment.replied", KindContact, contactID, map[string]Change{"stopped": {After: n}})
}

// publicMailDomains are domains of mail providers open to anyone: people
// at the same one are not colleagues, and a reply of one stops nobody
// else's enrolment.
var publicMailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "outlook.com": true, "hotmail.com": true, "hotmail.co.uk": true, "hotmail.fr": true,
	"live.com": true, "msn.com": true, "yahoo.com": true, "yahoo.co.uk": true, "yahoo.fr": true, "ymail.com": true, "icloud.com": true,
	"me.com": true, "mac.com": true, "aol.com": true, "proton.me": true, "protonmail.com": true, "pm.me": true, "gmx.de": true,
	"gmx.net": true, "gmx.com": true, "web.de": true, "t-online.de": true, "orange.fr": true, "free.fr": true, "laposte.net": true,
	"libero.it": true, "mail.ru": true, "yandex.ru": true, "yandex.com": true, "qq.com": true, "163.com": true, "126.com": true,
	"naver.com": true, "fastmail.com": true, "zoho.com": true, "hey.com": true, "tutanota.com": true,
}

// escapeLike escapes LIKE's wildcards with a backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
