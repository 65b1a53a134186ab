package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// Kinds of what comes back to a sent message and is kept.
const (
	ReplyPerson = "reply"      // a person's answer: it stops the enrolment
	ReplyAuto   = "auto_reply" // out of office and the like: it does not
)

// ReplyCategories are the ones a person gives an answer in the inbox.
var ReplyCategories = []string{"interested", "not_now", "not_interested", "out_of_office", "other"}

// Bounce protection: a mailbox or a sequence whose sends bounce more than
// BounceThresholdPercent of the last bounceWindow (counted once it has
// bounceMinSample) pauses itself.
const (
	BounceThresholdPercent = 5
	bounceWindow           = 100
	bounceMinSample        = 20
	// softBouncesAsHard is how many soft bounces in a row an address may
	// have before it counts as a hard one.
	softBouncesAsHard = 3
	// replySnippet bounds the text of an answer on the contact's timeline;
	// the inbox keeps all of it.
	replySnippet = 500
)

// inboxActor is who records what the poller read.
var inboxActor = Actor{Kind: "system", ID: "inbox"}

// Inbound is a message read from a mailbox's folder, as outreach
// classified it; the store decides what it means for the workspace.
type Inbound struct {
	Kind      string // outreach.Inbound* : reply, auto_reply, bounce, other
	MessageID string // its own
	FromEmail string
	FromName  string
	Subject   string
	Text      string
	Refs      []string // the Message-IDs it answers, most direct first
	// A bounce's recipient, enhanced status ("5.1.1"), the server's words,
	// whether it is final (Action: failed), and the Message-ID it returns.
	BounceRecipient  string
	BounceStatus     string
	BounceDiagnostic string
	BounceFailed     bool
	BounceOriginal   string
	ReceivedAt       time.Time
}

// InboundOutcome is what recording one inbound message did.
type InboundOutcome struct {
	Seen       bool   // processed before: nothing done
	ReplyID    string // the reply or auto-reply stored
	Stopped    int64  // enrolments stopped by a reply
	Bounced    string // the ledger message marked bounced
	Suppressed string // the address suppressed
	Paused     []string
}

// RecordInbound records one message read from a mailbox's folder and, in
// the same transaction, the folder's mark it reaches (validity, uid): a
// message whose mark the mailbox has passed already is not processed
// again.
func RecordInbound(ctx context.Context, db *DB, mailboxID string, validity, uid int64, in Inbound, now time.Time) (InboundOutcome, error) {
	var out InboundOutcome
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var mark struct {
			Validity int64 `db:"imap_uidvalidity"`
			LastUID  int64 `db:"imap_last_uid"`
		}
		err := tx.GetContext(ctx, &mark, `SELECT imap_uidvalidity, imap_last_uid FROM mailboxes WHERE id = ?`, mailboxID)
		if errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That mailbox does not exist.")
		}
		if err != nil {
			return err
		}
		if mark.Validity == validity && uid <= mark.LastUID {
			out.Seen = true
			return nil
		}
		switch in.Kind {
		case "bounce":
			err = recordBounce(ctx, tx, mailboxID, in, now, &out)
		case ReplyPerson, ReplyAuto:
			err = recordReply(ctx, tx, mailboxID, in, now, &out)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE mailboxes SET imap_uidvalidity = ?, imap_last_uid = ? WHERE id = ?`, validity, uid, mailboxID)
		return err
	})
	return out, err
}

// ledgerMessageOf finds the sent message one of ids names (the first that
// does, in their order).
func ledgerMessageOf(ctx context.Context, tx *sqlx.Tx, ids []string) (*Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > 50 {
		ids = ids[:50] // a thread's references grow; the newest come first
	}
	q, args, err := sqlx.In(`SELECT * FROM messages WHERE message_id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	var found []Message
	if err := tx.SelectContext(ctx, &found, q, args...); err != nil {
		return nil, err
	}
	for _, id := range ids {
		for i := range found {
			if found[i].MessageID == id {
				return &found[i], nil
			}
		}
	}
	return nil, nil
}

// recordReply keeps an answer to one of our messages; a person's answer
// also stops the enrolments it ends and gives its owner a task. An answer
// naming none of our messages is not ours to keep.
func recordReply(ctx context.Context, tx *sqlx.Tx, mailboxID string, in Inbound, now time.Time, out *InboundOutcome) error {
	m, err := ledgerMessageOf(ctx, tx, in.Refs)
	if err != nil || m == nil {
		return err
	}
	r := Reply{ID: newID(), MailboxID: mailboxID, MessageID: m.ID, ContactID: m.ContactID, SequenceID: m.SequenceID, StepID: m.StepID,
		Kind: in.Kind, InboundID: truncateText(in.MessageID, 250), FromEmail: truncateText(in.FromEmail, maxEmailAddress),
		FromName: truncateText(in.FromName, maxPersonName), Subject: truncateText(in.Subject, 1000), Body: in.Text,
		ReceivedAt: in.ReceivedAt.UTC(), CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	if in.Kind == ReplyAuto {
		r.Category = "out_of_office"
	}
	res, err := tx.NamedExecContext(ctx, `INSERT INTO replies (id, mailbox_id, message_id, contact_id, sequence_id, step_id, kind,
		inbound_id, from_email, from_name, subject, body, category, received_at, created_at, updated_at)
		VALUES (:id, :mailbox_id, :message_id, :contact_id, :sequence_id, :step_id, :kind, :inbound_id, :from_email, :from_name,
		:subject, :body, :category, :received_at, :created_at, :updated_at) ON CONFLICT DO NOTHING`, &r)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // stored when the folder was read before
	}
	out.ReplyID = r.ID
	if in.Kind == ReplyAuto {
		return nil
	}
	if out.Stopped, err = stopOnReply(ctx, tx, inboxActor, m.ContactID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM bounce_counts WHERE email_hash = ?`, SuppressionHash(m.ToEmail)); err != nil {
		return err
	}
	if err := logActivity(ctx, tx, KindContact, m.ContactID, "email_replied", inboxActor,
		map[string]Change{"reply": {After: snippet(r.Subject, r.Body)}}); err != nil {
		return err
	}
	return replyTask(ctx, tx, m, in, now)
}

// snippet is an answer as the timeline shows it.
func snippet(subject, body string) string {
	if utf8.RuneCountInString(body) > replySnippet {
		body = string([]rune(body)[:replySnippet]) + "…"
	}
	return strings.TrimSpace(subject + "\n" + body)
}

// replyTask gives the contact's owner, or else the member who made the
// sequence, a task to answer.
func replyTask(ctx context.Context, tx *sqlx.Tx, m *Message, in Inbound, now time.Time) error {
	var assignee string
	err := tx.GetContext(ctx, &assignee, `SELECT coalesce(nullif((SELECT owner_id FROM contacts WHERE id = ?1), ''),
		(SELECT substr(actor, 6) FROM audit_log WHERE entity_type = 'sequence' AND entity_id = ?2 AND action = 'sequence.create'
			AND actor LIKE 'user:%' ORDER BY seq LIMIT 1), '')`, m.ContactID, m.SequenceID)
	if err != nil {
		return err
	}
	who := in.FromName
	if who == "" {
		who = in.FromEmail
	}
	title := truncateText("Reply from "+who, maxRecordTitle)
	due := now.UTC().Format(time.DateOnly)
	_, err = createTask(ctx, tx, inboxActor, TaskInput{ContactID: &m.ContactID, Title: &title, AssigneeID: &assignee, DueDate: &due}, now)
	return err
}

// recordBounce acts on a delivery status notification: the message it
// returns is marked bounced, a hard bounce (or the third soft one in a
// row) suppresses the address and stops its enrolments, and the mailbox
// and the sequence are checked against bounce protection.
func recordBounce(ctx context.Context, tx *sqlx.Tx, mailboxID string, in Inbound, now time.Time, out *InboundOutcome) error {
	m, err := bouncedMessage(ctx, tx, mailboxID, in)
	if err != nil || m == nil {
		return err // not about a message of ours: the mailbox's own mail
	}
	// The address written to, rather than where a forward took it.
	email := strings.ToLower(m.ToEmail)
	hard := strings.HasPrefix(in.BounceStatus, "5")
	if !hard {
		var soft int
		if err := tx.GetContext(ctx, &soft, `INSERT INTO bounce_counts (email_hash, soft, last_status, updated_at) VALUES (?, 1, ?, ?)
			ON CONFLICT (email_hash) DO UPDATE SET soft = soft + 1, last_status = excluded.last_status, updated_at = excluded.updated_at
			RETURNING soft`, SuppressionHash(email), in.BounceStatus, now.UTC()); err != nil {
			return err
		}
		hard = soft >= softBouncesAsHard
	}
	detail := strings.TrimSpace(in.BounceStatus + " " + in.BounceDiagnostic)
	if hard || in.BounceFailed {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'bounced', error = ?, updated_at = ?, sent_at = coalesce(sent_at, updated_at) WHERE id = ? AND state IN ('sent', 'unknown')`,
			truncateText(detail, 2000), now.UTC(), m.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			out.Bounced = m.ID
			if err := bounceProtection(ctx, tx, m, now, out); err != nil {
				return err
			}
		}
	}
	if !hard {
		return nil
	}
	sin := SuppressionInput{Email: email, Reason: SuppressBounced, Detail: detail}
	if err := checkSuppressionInput(&sin); err != nil {
		return nil // not an address: nothing to suppress
	}
	if _, _, err := addSuppression(ctx, tx, inboxActor, m.ContactID, sin); err != nil {
		return err
	}
	out.Suppressed = sin.Email
	return StopEnrollmentsOf(ctx, tx, sin.Email, SuppressBounced)
}

// bouncedMessage finds the ledger message a bounce returns: by the
// Message-ID it quotes (one that is not ours is a bounce of the mailbox's
// own mail: nil), else the last one sent to its recipient (from this
// mailbox first).
func bouncedMessage(ctx context.Context, tx *sqlx.Tx, mailboxID string, in Inbound) (*Message, error) {
	if in.BounceOriginal != "" {
		return ledgerMessageOf(ctx, tx, []string{in.BounceOriginal})
	}
	if in.BounceRecipient == "" {
		return nil, nil
	}
	var m Message
	err := tx.GetContext(ctx, &m, `SELECT * FROM messages WHERE lower(to_email) = lower(?) AND state IN ('sent', 'unknown', 'bounced')
		ORDER BY mailbox_id = ? DESC, seq DESC LIMIT 1`, strings.TrimSpace(in.BounceRecipient), mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &m, err
}

// BounceRate counts the bounces among the last sends (sent or bounced) of
// a mailbox or a sequence; col is "mailbox_id" or "sequence_id".
func bounceRate(ctx context.Context, q sqlx.QueryerContext, col, id string) (bounced, sends int, err error) {
	var r struct {
		Sends   int `db:"sends"`
		Bounced int `db:"bounced"`
	}
	err = sqlx.GetContext(ctx, q, &r, `SELECT count(*) AS sends, coalesce(sum(state = 'bounced'), 0) AS bounced FROM
		(SELECT state FROM messages WHERE `+col+` = ? AND state IN ('sent', 'bounced') ORDER BY seq DESC LIMIT ?)`, id, bounceWindow)
	return r.Bounced, r.Sends, err
}

// overThreshold says whether bounced of sends passes bounce protection's
// threshold, with enough sends to judge.
func overThreshold(bounced, sends int) bool {
	return sends >= bounceMinSample && bounced*100 > BounceThresholdPercent*sends
}

// BounceProtectionReason is what a paused mailbox or sequence says.
func BounceProtectionReason(bounced, sends int) string {
	return fmt.Sprintf("bounce protection: %d of the last %d sends bounced", bounced, sends)
}

// bounceProtection pauses the message's mailbox and sequence when their
// bounce rate passes the threshold, saying why.
func bounceProtection(ctx context.Context, tx *sqlx.Tx, m *Message, now time.Time, out *InboundOutcome) error {
	for _, target := range []struct {
		col, table string
		id         string
		kind       Kind
	}{{"mailbox_id", "mailboxes", m.MailboxID, KindMailbox}, {"sequence_id", "sequences", m.SequenceID, KindSequence}} {
		bounced, sends, err := bounceRate(ctx, tx, target.col, target.id)
		if err != nil {
			return err
		}
		if !overThreshold(bounced, sends) {
			continue
		}
		why := BounceProtectionReason(bounced, sends)
		res, err := tx.ExecContext(ctx, `UPDATE `+target.table+` SET state = 'paused', paused_reason = ?, updated_at = ? WHERE id = ? AND state = 'active'`,
			why, now.UTC(), target.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		out.Paused = append(out.Paused, target.table+":"+target.id)
		if err := audit(ctx, tx, inboxActor, string(target.kind)+".bounce_protection", target.kind, target.id,
			map[string]Change{"state": {Before: "active", After: "paused"}, "reason": {After: why}}); err != nil {
			return err
		}
	}
	return nil
}

// Reply is an answer stored from a mailbox's folder, with what the inbox
// shows of its contact, sequence and step.
type Reply struct {
	Seq        int64     `db:"seq" json:"-"`
	ID         string    `db:"id" json:"id"`
	MailboxID  string    `db:"mailbox_id" json:"mailbox_id"`
	MessageID  string    `db:"message_id" json:"message_id"`
	ContactID  string    `db:"contact_id" json:"contact_id"`
	SequenceID string    `db:"sequence_id" json:"sequence_id"`
	StepID     string    `db:"step_id" json:"step_id"`
	Kind       string    `db:"kind" json:"kind"`
	InboundID  string    `db:"inbound_id" json:"-"`
	FromEmail  string    `db:"from_email" json:"from_email"`
	FromName   string    `db:"from_name" json:"from_name"`
	Subject    string    `db:"subject" json:"subject"`
	Body       string    `db:"body" json:"body"`
	Category   string    `db:"category" json:"category"`
	Handled    bool      `db:"handled" json:"handled"`
	HandledBy  string    `db:"handled_by" json:"handled_by"`
	ReceivedAt time.Time `db:"received_at" json:"received_at"`
	CreatedAt  time.Time `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time `db:"updated_at" json:"updated_at"`
	// Joined for the inbox.
	ContactName  string `db:"contact_name" json:"contact_name"`
	SequenceName string `db:"sequence_name" json:"sequence_name"`
	StepNumber   int    `db:"step_number" json:"step_number"` // 1 for the first step; 0 when it is gone
}

// Auto says whether it is an automatic answer.
func (r Reply) Auto() bool { return r.Kind == ReplyAuto }

const replySelect = `SELECT r.*, coalesce(trim(c.first_name || ' ' || c.last_name), '') AS contact_name,
	coalesce(s.name, '') AS sequence_name,
	coalesce((SELECT count(*) FROM sequence_steps x JOIN sequence_steps st ON st.id = r.step_id
		WHERE x.sequence_id = st.sequence_id AND x.position <= st.position), 0) AS step_number
	FROM replies r LEFT JOIN contacts c ON c.id = r.contact_id LEFT JOIN sequences s ON s.id = r.sequence_id`

// ReplyFilter selects the inbox's page.
type ReplyFilter struct {
	Unhandled bool
	Cursor    string
	Limit     int
}

// ListReplies returns a page of the answers of every mailbox, newest
// first.
func ListReplies(ctx context.Context, db *DB, f ReplyFilter) ([]Reply, string, error) {
	var w clause
	if f.Unhandled {
		w.and("r.handled = 0")
	}
	return listKeyset(ctx, db, keysetPage[Reply]{
		selectSQL: replySelect, where: w, sort: bySeq("r.seq"), cursor: f.Cursor, limit: f.Limit,
		key: func(r Reply) cursor { return cursor{r.Seq} },
	})
}

// GetReply returns one answer.
func GetReply(ctx context.Context, db *DB, id string) (*Reply, error) {
	return getReply(ctx, db.R, id)
}

func getReply(ctx context.Context, q sqlx.QueryerContext, id string) (*Reply, error) {
	var r Reply
	err := sqlx.GetContext(ctx, q, &r, replySelect+` WHERE r.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That reply does not exist.")
	}
	return &r, err
}

// ReplyInput is what a person changes of an answer: nil is left alone; a
// category "" clears it.
type ReplyInput struct {
	Handled  *bool   `json:"handled"`
	Category *string `json:"category"`
}

// UpdateReply marks an answer handled or not, or sorts it in a category.
func UpdateReply(ctx context.Context, db *DB, a Actor, id string, in ReplyInput) (*Reply, error) {
	if in.Category != nil && *in.Category != "" && !slices.Contains(ReplyCategories, *in.Category) {
		return nil, FieldError("category", "The category must be one of %s.", strings.Join(ReplyCategories, ", "))
	}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getReply(ctx, tx, id)
		if err != nil {
			return err
		}
		after := *before
		if in.Handled != nil {
			after.Handled, after.HandledBy = *in.Handled, ""
			if *in.Handled {
				after.HandledBy = a.String()
			}
		}
		if in.Category != nil {
			after.Category = *in.Category
		}
		changes := map[string]Change{}
		if before.Handled != after.Handled {
			changes["handled"] = Change{Before: before.Handled, After: after.Handled}
		}
		if before.Category != after.Category {
			changes["category"] = Change{Before: before.Category, After: after.Category}
		}
		if len(changes) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE replies SET handled = ?, handled_by = ?, category = ?, updated_at = ? WHERE id = ?`,
			after.Handled, after.HandledBy, after.Category, time.Now().UTC(), id); err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, before.ContactID, "reply.update", KindReply, id, changes)
	})
	if err != nil {
		return nil, err
	}
	return getReply(ctx, db.W, id)
}

// CountUnhandledReplies counts the answers nobody handled yet, for the
// inbox's tab.
func CountUnhandledReplies(ctx context.Context, db *DB) (int, error) {
	var n int
	err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM replies WHERE handled = 0`)
	return n, err
}
