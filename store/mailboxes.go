package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // mailbox time zones must resolve on machines without zoneinfo

	"github.com/jmoiron/sqlx"
)

// TLS modes of a mailbox's SMTP connection.
const (
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSStartTLS = "starttls" // plain, upgraded by STARTTLS before anything else
	TLSNone     = "none"     // no TLS: for a server on this machine only
)

// TLSModes are the TLS modes, most secure first.
var TLSModes = []string{TLSImplicit, TLSStartTLS, TLSNone}

// Mailbox states.
const (
	MailboxActive = "active"
	MailboxPaused = "paused"
)

// Limits of a mailbox's settings.
const (
	maxMailboxName  = 100
	maxHostName     = 253
	maxSMTPUser     = 256
	maxSMTPPassword = 1024
	maxDailyLimit   = 10_000
	maxGapSeconds   = 86_400
)

// Mailbox is one of the workspace's sending accounts. Its password and its
// DKIM private key are kept sealed (see tenant.Service.Seal) and never
// leave: PasswordSet and DKIMSet say whether there is one.
type Mailbox struct {
	Seq           int64        `db:"seq" json:"-"`
	ID            string       `db:"id" json:"id"`
	Name          string       `db:"name" json:"name"`
	FromName      string       `db:"from_name" json:"from_name"`
	FromEmail     string       `db:"from_email" json:"from_email"`
	ReplyTo       string       `db:"reply_to" json:"reply_to"`
	SMTPHost      string       `db:"smtp_host" json:"smtp_host"`
	SMTPPort      int          `db:"smtp_port" json:"smtp_port"`
	TLSMode       string       `db:"tls_mode" json:"tls_mode"`
	Username      string       `db:"username" json:"username"`
	Password      string       `db:"password" json:"-"` // sealed
	PasswordSet   bool         `db:"-" json:"password_set"`
	DKIMSelector  string       `db:"dkim_selector" json:"dkim_selector"`
	DKIMKey       string       `db:"dkim_key" json:"-"` // sealed
	DKIMSet       bool         `db:"-" json:"dkim_set"`
	DKIMRecord    string       `db:"dkim_record" json:"dkim_record"` // the public TXT record
	DailyLimit    int          `db:"daily_limit" json:"daily_limit"`
	GapMin        int          `db:"gap_min" json:"gap_min_seconds"`
	GapMax        int          `db:"gap_max" json:"gap_max_seconds"`
	WindowStart   string       `db:"window_start" json:"window_start"`
	WindowEnd     string       `db:"window_end" json:"window_end"`
	WindowDays    Weekdays     `db:"window_days" json:"window_days"`
	TimeZone      string       `db:"time_zone" json:"time_zone"`
	RampPerDay    int          `db:"ramp_per_day" json:"ramp_per_day"`
	RampStart     time.Time    `db:"ramp_start" json:"ramp_start"`
	State         string       `db:"state" json:"state"`
	LastError     string       `db:"last_error" json:"last_error"`
	Failures      int          `db:"failures" json:"consecutive_failures"`
	LastCheckedAt sql.NullTime `db:"last_checked_at" json:"-"`
	CreatedAt     time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time    `db:"updated_at" json:"updated_at"`
	// PausedReason says why the system paused the mailbox (bounce
	// protection); "" when a person did, or it is active.
	PausedReason string `db:"paused_reason" json:"paused_reason"`
	MailboxIMAP
}

// MailboxIMAP are a mailbox's IMAP settings, where replies and bounces
// are read, and the health of its last poll. No host, no polling.
type MailboxIMAP struct {
	IMAPHost        string `db:"imap_host" json:"imap_host"`
	IMAPPort        int    `db:"imap_port" json:"imap_port"`
	IMAPTLS         string `db:"imap_tls" json:"imap_tls"`
	IMAPUsername    string `db:"imap_username" json:"imap_username"`
	IMAPPassword    string `db:"imap_password" json:"-"` // sealed
	IMAPPasswordSet bool   `db:"-" json:"imap_password_set"`
	IMAPFolder      string `db:"imap_folder" json:"imap_folder"`
	// The folder's high-water mark (see outreach.Mark) and the next poll
	// (unix milliseconds).
	IMAPUIDValidity int64      `db:"imap_uidvalidity" json:"-"`
	IMAPLastUID     int64      `db:"imap_last_uid" json:"-"`
	IMAPNextPoll    int64      `db:"imap_next_poll" json:"-"`
	IMAPLastPollAt  *time.Time `db:"imap_last_poll_at" json:"imap_last_poll_at"`
	IMAPLastError   string     `db:"imap_last_error" json:"imap_last_error"`
	IMAPFailures    int        `db:"imap_failures" json:"imap_consecutive_failures"`
}

// PollsIMAP says whether the mailbox has IMAP settings to poll.
func (m *Mailbox) PollsIMAP() bool { return m.IMAPHost != "" }

// MailboxInput is a create or a partial update: nil fields are left alone.
// An empty Password keeps the one set.
type MailboxInput struct {
	Name        *string   `json:"name"`
	FromName    *string   `json:"from_name"`
	FromEmail   *string   `json:"from_email"`
	ReplyTo     *string   `json:"reply_to"`
	SMTPHost    *string   `json:"smtp_host"`
	SMTPPort    *int      `json:"smtp_port"`
	TLSMode     *string   `json:"tls_mode"`
	Username    *string   `json:"username"`
	Password    *string   `json:"password"`
	DailyLimit  *int      `json:"daily_limit"`
	GapMin      *int      `json:"gap_min_seconds"`
	GapMax      *int      `json:"gap_max_seconds"`
	WindowStart *string   `json:"window_start"`
	WindowEnd   *string   `json:"window_end"`
	WindowDays  *Weekdays `json:"window_days"`
	TimeZone    *string   `json:"time_zone"`
	RampPerDay  *int      `json:"ramp_per_day"`
	State       *string   `json:"state"`
	// DKIM: a selector "" turns signing off; an empty key keeps the one
	// set; DKIMGenerate ("ed25519" or "rsa") makes a new key.
	DKIMSelector *string `json:"dkim_selector"`
	DKIMKey      *string `json:"dkim_private_key"`
	DKIMGenerate *string `json:"dkim_generate"`
	// IMAP: a host "" turns polling off; an empty password keeps the one
	// set.
	IMAPHost     *string `json:"imap_host"`
	IMAPPort     *int    `json:"imap_port"`
	IMAPTLS      *string `json:"imap_tls"`
	IMAPUsername *string `json:"imap_username"`
	IMAPPassword *string `json:"imap_password"`
	IMAPFolder   *string `json:"imap_folder"`
}

// SealFunc seals a mailbox's secret for its purpose
// (MailboxPasswordPurpose, MailboxDKIMPurpose); the workspace service
// gives it (store knows no keys).
type SealFunc func(purpose, secret string) (string, error)

// MailboxPasswordPurpose is where a mailbox's sealed password belongs.
func MailboxPasswordPurpose(mailboxID string) string { return "mailbox:" + mailboxID + ":password" }

// MailboxIMAPPasswordPurpose is where a mailbox's sealed IMAP password
// belongs.
func MailboxIMAPPasswordPurpose(mailboxID string) string {
	return "mailbox:" + mailboxID + ":imap_password"
}

const mailboxSelect = `SELECT * FROM mailboxes`

// ListMailboxes returns a page of the workspace's mailboxes, newest first.
func ListMailboxes(ctx context.Context, db *DB, cursorText string, limit int) ([]Mailbox, string, error) {
	ms, next, err := listKeyset(ctx, db, keysetPage[Mailbox]{
		selectSQL: mailboxSelect, sort: bySeq("seq"), cursor: cursorText, limit: limit,
		key: func(m Mailbox) cursor { return cursor{m.Seq} },
	})
	for i := range ms {
		ms[i].setFlags()
	}
	return ms, next, err
}

// GetMailbox returns one mailbox.
func GetMailbox(ctx context.Context, db *DB, id string) (*Mailbox, error) {
	return getMailbox(ctx, db.R, id)
}

func getMailbox(ctx context.Context, q sqlx.QueryerContext, id string) (*Mailbox, error) {
	var m Mailbox
	err := sqlx.GetContext(ctx, q, &m, mailboxSelect+` WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That mailbox does not exist.")
	}
	m.setFlags()
	return &m, err
}

// setFlags says which secrets are set, without them.
func (m *Mailbox) setFlags() {
	m.PasswordSet, m.DKIMSet, m.IMAPPasswordSet = m.Password != "", m.DKIMKey != "", m.IMAPPassword != ""
}

// CreateMailbox validates and adds a mailbox, sealing its password with
// seal, and records it in the audit log.
func CreateMailbox(ctx context.Context, db *DB, a Actor, in MailboxInput, seal SealFunc) (*Mailbox, error) {
	now := time.Now().UTC()
	m := &Mailbox{ID: newID(), TLSMode: TLSStartTLS, DailyLimit: 30, GapMin: 90, GapMax: 180, WindowStart: "09:00", WindowEnd: "17:00",
		WindowDays: Weekdays{1, 2, 3, 4, 5}, TimeZone: "UTC", State: MailboxActive, RampStart: now, CreatedAt: now, UpdatedAt: now,
		MailboxIMAP: MailboxIMAP{IMAPTLS: TLSImplicit, IMAPPort: 993, IMAPFolder: "INBOX"}}
	mode := m.TLSMode
	if in.TLSMode != nil {
		mode = strings.TrimSpace(*in.TLSMode)
	}
	m.SMTPPort = defaultSMTPPort(mode) // unless the input gives one
	if in.IMAPTLS != nil {
		m.IMAPPort = DefaultIMAPPort(strings.TrimSpace(*in.IMAPTLS))
	}
	if err := applyMailboxInput(m, in, seal); err != nil {
		return nil, err
	}
	m.IMAPNextPoll = now.UnixMilli()
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.NamedExecContext(ctx, `INSERT INTO mailboxes (id, name, from_name, from_email, reply_to, smtp_host, smtp_port,
			tls_mode, username, password, daily_limit, gap_min, gap_max, window_start, window_end, window_days, time_zone,
			ramp_per_day, ramp_start, state, dkim_selector, dkim_key, dkim_record, imap_host, imap_port, imap_tls, imap_username,
			imap_password, imap_folder, imap_next_poll, created_at, updated_at)
			VALUES (:id, :name, :from_name, :from_email, :reply_to, :smtp_host, :smtp_port, :tls_mode, :username, :password,
			:daily_limit, :gap_min, :gap_max, :window_start, :window_end, :window_days, :time_zone, :ramp_per_day, :ramp_start,
			:state, :dkim_selector, :dkim_key, :dkim_record, :imap_host, :imap_port, :imap_tls, :imap_username,
			:imap_password, :imap_folder, :imap_next_poll, :created_at, :updated_at)`, m)
		if err != nil {
			return err
		}
		if m.PollsIMAP() {
			if err := db.due(ctx, DuePoll, now); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "mailbox.create", KindMailbox, m.ID, mailboxChanges(&Mailbox{}, m))
	})
	if err != nil {
		return nil, err
	}
	return getMailbox(ctx, db.W, m.ID)
}

// UpdateMailbox applies a partial update. Resuming a paused mailbox with a
// ramp starts the ramp again: it may have been paused for its reputation.
func UpdateMailbox(ctx context.Context, db *DB, a Actor, id string, in MailboxInput, seal SealFunc) (*Mailbox, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getMailbox(ctx, tx, id)
		if err != nil {
			return err
		}
		m := *before
		if err := applyMailboxInput(&m, in, seal); err != nil {
			return err
		}
		changes := mailboxChanges(before, &m)
		if len(changes) == 0 {
			return nil
		}
		m.UpdatedAt = time.Now().UTC()
		if before.State == MailboxPaused && m.State == MailboxActive {
			m.RampStart = m.UpdatedAt
		}
		if m.State != before.State {
			m.PausedReason = "" // a person decided
		}
		if imapMoved(before, &m) {
			m.IMAPUIDValidity, m.IMAPLastUID = 0, 0 // another folder's UIDs mean nothing here
		}
		newIMAP := imapMoved(before, &m) || before.IMAPPassword != m.IMAPPassword
		if newIMAP {
			// New settings are tried at once, not after a backoff.
			m.IMAPNextPoll, m.IMAPFailures, m.IMAPLastError = m.UpdatedAt.UnixMilli(), 0, ""
		}
		if m.State != before.State {
			// The poll job starts or stops the mailbox's IDLE watcher
			// (see tenant's idle.go): it is to look now.
			m.IMAPNextPoll = min(m.IMAPNextPoll, m.UpdatedAt.UnixMilli())
		}
		_, err = tx.NamedExecContext(ctx, `UPDATE mailboxes SET name = :name, from_name = :from_name, from_email = :from_email,
			reply_to = :reply_to, smtp_host = :smtp_host, smtp_port = :smtp_port, tls_mode = :tls_mode, username = :username,
			password = :password, daily_limit = :daily_limit, gap_min = :gap_min, gap_max = :gap_max, window_start = :window_start,
			window_end = :window_end, window_days = :window_days, time_zone = :time_zone, ramp_per_day = :ramp_per_day,
			ramp_start = :ramp_start, state = :state, paused_reason = :paused_reason, dkim_selector = :dkim_selector, dkim_key = :dkim_key,
			dkim_record = :dkim_record, imap_host = :imap_host, imap_port = :imap_port, imap_tls = :imap_tls,
			imap_username = :imap_username, imap_password = :imap_password, imap_folder = :imap_folder,
			imap_uidvalidity = :imap_uidvalidity, imap_last_uid = :imap_last_uid, imap_next_poll = :imap_next_poll,
			imap_failures = :imap_failures, imap_last_error = :imap_last_error, updated_at = :updated_at WHERE id = :id`, &m)
		if err != nil {
			return err
		}
		if (newIMAP || m.State != before.State) && (m.PollsIMAP() || before.PollsIMAP()) {
			if err := db.due(ctx, DuePoll, m.UpdatedAt); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "mailbox.update", KindMailbox, id, changes)
	})
	if err != nil {
		return nil, err
	}
	return getMailbox(ctx, db.W, id)
}

// DeleteMailbox removes a mailbox.
func DeleteMailbox(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getMailbox(ctx, tx, id)
		if err != nil {
			return err
		}
		var uses []string
		if err := tx.SelectContext(ctx, &uses, `SELECT DISTINCT s.name FROM sequences s WHERE s.id IN
			(SELECT sequence_id FROM sequence_mailboxes WHERE mailbox_id = ?1 UNION SELECT sequence_id FROM enrollments WHERE mailbox_id = ?1)
			ORDER BY s.name LIMIT 5`, id); err != nil {
			return err
		}
		if len(uses) > 0 {
			return Errorf(EConflict, "%s sends for the sequences %s; take it off them (and let their enrollments finish) first, or pause it.",
				before.Name, strings.Join(uses, ", "))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mailboxes WHERE id = ?`, id); err != nil {
			return err
		}
		if before.PollsIMAP() {
			// The poll job stops the mailbox's IDLE watcher.
			if err := db.due(ctx, DuePoll, time.Now().UTC()); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "mailbox.delete", KindMailbox, id, map[string]Change{"name": {Before: before.Name}})
	})
}

// RecordMailboxHealth records the outcome of a conversation with the
// mailbox's server: errMsg "" resets the failures, anything else counts
// one more.
func RecordMailboxHealth(ctx context.Context, db *DB, id, errMsg string, at time.Time) error {
	res, err := db.W.ExecContext(ctx, `UPDATE mailboxes SET last_error = ?1, last_checked_at = ?2,
		failures = CASE WHEN ?1 = '' THEN 0 ELSE failures + 1 END WHERE id = ?3`, errMsg, at.UTC(), id)
	return expectOne(res, err, Errorf(ENotFound, "That mailbox does not exist."))
}

// ForgetSealedSecrets empties the sealed secrets of a workspace file that
// becomes another workspace (a restore as new): they were sealed with the
// source's key and are to be entered again; until then its sequences are
// paused (PauseSendingSQL). The file may be of an older schema (a restore
// to a moment before an upgrade; it is migrated when first opened): only
// the tables and columns it has are touched.
func ForgetSealedSecrets(ctx context.Context, db *DB) error {
	var cols []string
	if err := db.R.SelectContext(ctx, &cols, `SELECT name FROM pragma_table_info('mailboxes')
		WHERE name IN ('password', 'dkim_key', 'dkim_record', 'imap_password')`); err != nil || len(cols) == 0 {
		return err
	}
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = c + " = ''"
	}
	if _, err := db.W.ExecContext(ctx, `UPDATE mailboxes SET `+strings.Join(sets, ", ")); err != nil {
		return err
	}
	var n int
	if err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sequences'`); err != nil || n == 0 {
		return err
	}
	_, err := db.W.ExecContext(ctx, PauseSendingSQL)
	return err
}

// PauseSendingSQL pauses the active sequences of a file whose accounts
// lost their secrets (an import, a restore as new): nothing is sent, and
// nothing fails for want of a password, until someone enters them and
// resumes.
const PauseSendingSQL = `UPDATE sequences SET state = 'paused' WHERE state = 'active'`

// ForgetMailboxSecretsSQL empties what was sealed with a workspace's key
// (the password, the DKIM key and so its record): for an export, an import
// and a restore as new.
const ForgetMailboxSecretsSQL = `UPDATE mailboxes SET password = '', dkim_key = '', dkim_record = '', imap_password = ''`

// DefaultIMAPPort is the usual IMAP port of a TLS mode.
func DefaultIMAPPort(tlsMode string) int {
	if tlsMode == TLSImplicit || tlsMode == "" {
		return 993
	}
	return 143
}

func defaultSMTPPort(tlsMode string) int {
	switch tlsMode {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	}
	return 587
}

// applyMailboxInput validates in and applies it to m.
func applyMailboxInput(m *Mailbox, in MailboxInput, seal SealFunc) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&m.Name, in.Name)
	set(&m.FromName, in.FromName)
	set(&m.FromEmail, in.FromEmail)
	set(&m.ReplyTo, in.ReplyTo)
	set(&m.SMTPHost, in.SMTPHost)
	set(&m.TLSMode, in.TLSMode)
	set(&m.Username, in.Username)
	set(&m.WindowStart, in.WindowStart)
	set(&m.WindowEnd, in.WindowEnd)
	set(&m.TimeZone, in.TimeZone)
	set(&m.State, in.State)
	for dst, v := range map[*int]*int{&m.SMTPPort: in.SMTPPort, &m.DailyLimit: in.DailyLimit, &m.GapMin: in.GapMin,
		&m.GapMax: in.GapMax, &m.RampPerDay: in.RampPerDay} {
		if v != nil {
			*dst = *v
		}
	}
	if in.WindowDays != nil {
		m.WindowDays = slices.Clone(*in.WindowDays)
		slices.Sort(m.WindowDays)
		m.WindowDays = slices.Compact(m.WindowDays)
	}
	m.SMTPHost = strings.ToLower(m.SMTPHost)
	if err := validateMailbox(m); err != nil {
		return err
	}
	if in.Password != nil && *in.Password != "" {
		if len(*in.Password) > maxSMTPPassword || strings.ContainsAny(*in.Password, "\r\n") {
			return FieldError("password", "The password must be one line of at most %d characters.", maxSMTPPassword)
		}
		sealed, err := seal(MailboxPasswordPurpose(m.ID), *in.Password)
		if err != nil {
			return err
		}
		m.Password = sealed
	}
	if err := applyIMAP(m, in, seal); err != nil {
		return err
	}
	return applyDKIM(m, in, seal)
}

// applyIMAP validates and applies the IMAP settings; without a host the
// rest is not checked (polling is off).
func applyIMAP(m *Mailbox, in MailboxInput, seal SealFunc) error {
	for dst, v := range map[*string]*string{&m.IMAPHost: in.IMAPHost, &m.IMAPTLS: in.IMAPTLS, &m.IMAPUsername: in.IMAPUsername,
		&m.IMAPFolder: in.IMAPFolder} {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	if in.IMAPPort != nil {
		m.IMAPPort = *in.IMAPPort
	}
	m.IMAPHost = strings.ToLower(m.IMAPHost)
	if m.IMAPFolder == "" {
		m.IMAPFolder = "INBOX"
	}
	if m.IMAPTLS == "" {
		m.IMAPTLS = TLSImplicit // a form without IMAP settings
	}
	if m.IMAPHost != "" {
		if err := checkIMAPServer(m); err != nil {
			return err
		}
	}
	if in.IMAPPassword != nil && *in.IMAPPassword != "" {
		if len(*in.IMAPPassword) > maxSMTPPassword || strings.ContainsAny(*in.IMAPPassword, "\r\n") {
			return FieldError("imap_password", "The password must be one line of at most %d characters.", maxSMTPPassword)
		}
		sealed, err := seal(MailboxIMAPPasswordPurpose(m.ID), *in.IMAPPassword)
		if err != nil {
			return err
		}
		m.IMAPPassword = sealed
	}
	return nil
}

// checkIMAPServer checks the IMAP settings as checkSMTPServer does the
// SMTP ones: no TLS only on this machine.
func checkIMAPServer(m *Mailbox) error {
	if len(m.IMAPHost) > maxHostName || (net.ParseIP(m.IMAPHost) == nil && !hostNameRE.MatchString(m.IMAPHost)) {
		return FieldError("imap_host", "Give the IMAP server's host name, such as imap.example.com.")
	}
	if !slices.Contains(TLSModes, m.IMAPTLS) {
		return FieldError("imap_tls", "The TLS mode must be one of %s.", strings.Join(TLSModes, ", "))
	}
	if m.IMAPTLS == TLSNone && !IsLoopbackHost(m.IMAPHost) {
		return FieldError("imap_tls", "Without TLS the password would cross the network in clear; only a server on this machine (localhost) may go without. Choose tls or starttls.")
	}
	if err := checkRange("imap_port", "The port", m.IMAPPort, 1, 65535); err != nil {
		return err
	}
	if m.IMAPUsername == "" || len(m.IMAPUsername) > maxSMTPUser || strings.ContainsAny(m.IMAPUsername, "\r\n") {
		return FieldError("imap_username", "Give the IMAP username (often the address itself), one line of at most %d characters.", maxSMTPUser)
	}
	if len(m.IMAPFolder) > maxMailboxName || strings.ContainsAny(m.IMAPFolder, "\r\n") {
		return FieldError("imap_folder", "The folder must be one line of at most %d characters, such as INBOX.", maxMailboxName)
	}
	return nil
}

// imapMoved says whether the mailbox now reads another server, account
// or folder.
func imapMoved(before, after *Mailbox) bool {
	return before.IMAPHost != after.IMAPHost || before.IMAPPort != after.IMAPPort || before.IMAPTLS != after.IMAPTLS ||
		before.IMAPUsername != after.IMAPUsername || before.IMAPFolder != after.IMAPFolder
}

var (
	hostNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	timeOfDayRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// validateMailbox checks every setting, one field at a time.
func validateMailbox(m *Mailbox) error {
	oneLine := func(field, label, v string, max int) error {
		if len(v) > max || strings.ContainsAny(v, "\r\n") {
			return FieldError(field, "%s must be one line of at most %d characters.", label, max)
		}
		return nil
	}
	checks := []func() error{
		func() error {
			if m.Name == "" {
				return FieldError("name", "Give the mailbox a name, such as the address it sends from.")
			}
			return oneLine("name", "The name", m.Name, maxMailboxName)
		},
		func() error { return oneLine("from_name", "The sender's name", m.FromName, maxPersonName) },
		func() error { return checkAddress("from_email", "the sender's address", m.FromEmail, true) },
		func() error { return checkAddress("reply_to", "the reply-to address", m.ReplyTo, false) },
		func() error { return checkSMTPServer(m) },
		func() error { return oneLine("username", "The username", m.Username, maxSMTPUser) },
		func() error { return checkRange("daily_limit", "The daily limit", m.DailyLimit, 1, maxDailyLimit) },
		func() error { return checkRange("gap_min_seconds", "The shortest gap", m.GapMin, 0, maxGapSeconds) },
		func() error {
			return checkRange("gap_max_seconds", "The longest gap", m.GapMax, m.GapMin, maxGapSeconds)
		},
		func() error { return checkWindow(m) },
		func() error { return checkRange("ramp_per_day", "The daily ramp", m.RampPerDay, 0, m.DailyLimit) },
		func() error {
			if m.State != MailboxActive && m.State != MailboxPaused {
				return FieldError("state", "The state must be active or paused.")
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func checkAddress(field, label, v string, required bool) error {
	if v == "" {
		if required {
			return FieldError(field, "Give %s.", label)
		}
		return nil
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || len(v) > maxEmailAddress {
		return FieldError(field, "%s is not a valid email address, such as anna@example.com.", capitalizeFirst(label))
	}
	return nil
}

func checkRange(field, label string, v, min, max int) error {
	if v < min || v > max {
		return FieldError(field, "%s must be from %d to %d.", label, min, max)
	}
	return nil
}

// checkSMTPServer checks the host, port and TLS mode. Without TLS, the
// password would cross the network in clear: only a server on this
// machine may go without.
func checkSMTPServer(m *Mailbox) error {
	if m.SMTPHost == "" || len(m.SMTPHost) > maxHostName || (net.ParseIP(m.SMTPHost) == nil && !hostNameRE.MatchString(m.SMTPHost)) {
		return FieldError("smtp_host", "Give the SMTP server's host name, such as smtp.example.com.")
	}
	if !slices.Contains(TLSModes, m.TLSMode) {
		return FieldError("tls_mode", "The TLS mode must be one of %s.", strings.Join(TLSModes, ", "))
	}
	if m.TLSMode == TLSNone && !IsLoopbackHost(m.SMTPHost) {
		return FieldError("tls_mode", "Without TLS the password would cross the network in clear; only a server on this machine (localhost) may go without. Choose tls or starttls.")
	}
	return checkRange("smtp_port", "The port", m.SMTPPort, 1, 65535)
}

// IsLoopbackHost reports whether host is this machine.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkWindow(m *Mailbox) error {
	for _, f := range [][2]string{{"window_start", m.WindowStart}, {"window_end", m.WindowEnd}} {
		if !timeOfDayRE.MatchString(f[1]) {
			return FieldError(f[0], "Times of day are written HH:MM, from 00:00 to 23:59.")
		}
	}
	if m.WindowStart >= m.WindowEnd {
		return FieldError("window_end", "The sending window must end after it starts, on the same day.")
	}
	if len(m.WindowDays) == 0 {
		return FieldError("window_days", "Choose at least one day to send on.")
	}
	for _, d := range m.WindowDays {
		if d < 1 || d > 7 {
			return FieldError("window_days", "Days are numbered 1 (Monday) to 7 (Sunday).")
		}
	}
	if _, err := time.LoadLocation(m.TimeZone); err != nil || m.TimeZone == "" || m.TimeZone == "Local" {
		return FieldError("time_zone", "%q is not a time zone; use a name such as Europe/Paris or UTC.", truncateText(m.TimeZone, 60))
	}
	return nil
}

func capitalizeFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mailboxChanges are the settings that differ, for the audit log; a
// password or a DKIM key is recorded as changed, never with its value.
func mailboxChanges(before, after *Mailbox) map[string]Change {
	ch := map[string]Change{}
	add := func(field string, b, a any) {
		if fmt.Sprint(b) != fmt.Sprint(a) {
			ch[field] = Change{Before: b, After: a}
		}
	}
	add("name", before.Name, after.Name)
	add("from_name", before.FromName, after.FromName)
	add("from_email", before.FromEmail, after.FromEmail)
	add("reply_to", before.ReplyTo, after.ReplyTo)
	add("smtp_host", before.SMTPHost, after.SMTPHost)
	add("smtp_port", before.SMTPPort, after.SMTPPort)
	add("tls_mode", before.TLSMode, after.TLSMode)
	add("username", before.Username, after.Username)
	add("daily_limit", before.DailyLimit, after.DailyLimit)
	add("gap_min_seconds", before.GapMin, after.GapMin)
	add("gap_max_seconds", before.GapMax, after.GapMax)
	add("window", before.WindowStart+"-"+before.WindowEnd, after.WindowStart+"-"+after.WindowEnd)
	add("window_days", before.WindowDays.String(), after.WindowDays.String())
	add("time_zone", before.TimeZone, after.TimeZone)
	add("ramp_per_day", before.RampPerDay, after.RampPerDay)
	add("state", before.State, after.State)
	add("dkim_selector", before.DKIMSelector, after.DKIMSelector)
	add("imap_host", before.IMAPHost, after.IMAPHost)
	add("imap_port", before.IMAPPort, after.IMAPPort)
	add("imap_tls", before.IMAPTLS, after.IMAPTLS)
	add("imap_username", before.IMAPUsername, after.IMAPUsername)
	add("imap_folder", before.IMAPFolder, after.IMAPFolder)
	if before.IMAPPassword != after.IMAPPassword {
		ch["imap_password"] = Change{Before: before.IMAPPassword != "", After: "changed"}
	}
	if before.Password != after.Password {
		ch["password"] = Change{Before: before.Password != "", After: "changed"}
	}
	if before.DKIMKey != after.DKIMKey {
		ch["dkim_private_key"] = Change{Before: before.DKIMKey != "", After: map[bool]string{true: "changed", false: "removed"}[after.DKIMKey != ""]}
	}
	return ch
}

// Weekdays are ISO weekdays (1 = Monday … 7 = Sunday), stored as "1,2,3".
type Weekdays []int

// String is the stored form.
func (w Weekdays) String() string {
	parts := make([]string, len(w))
	for i, d := range w {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ",")
}

// Value stores the days as text.
func (w Weekdays) Value() (driver.Value, error) { return w.String(), nil }

// Scan reads the stored text.
func (w *Weekdays) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("weekdays: cannot scan %T", src)
	}
	*w = Weekdays{}
	for _, p := range strings.Split(s, ",") {
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("weekdays: %q", s)
		}
		*w = append(*w, d)
	}
	return nil
}

// Has reports whether the ISO weekday d is among w.
func (w Weekdays) Has(d int) bool { return slices.Contains(w, d) }

// MailboxesToPoll returns up to limit mailboxes with IMAP settings whose
// next poll is due by now, the most overdue first.
func MailboxesToPoll(ctx context.Context, db *DB, now time.Time, limit int) ([]Mailbox, error) {
	var ms []Mailbox
	err := db.R.SelectContext(ctx, &ms, mailboxSelect+` WHERE imap_host <> '' AND imap_next_poll <= ? ORDER BY imap_next_poll LIMIT ?`,
		now.UnixMilli(), limit)
	for i := range ms {
		ms[i].setFlags()
	}
	return ms, err
}

// RecordPoll records the outcome of a poll of a mailbox's folder as its
// IMAP health (errMsg "" resets the failures, anything else counts one
// more) and when the next one is due.
func RecordPoll(ctx context.Context, db *DB, id, errMsg string, at, next time.Time) error {
	res, err := db.W.ExecContext(ctx, `UPDATE mailboxes SET imap_last_error = ?1, imap_last_poll_at = ?2,
		imap_failures = CASE WHEN ?1 = '' THEN 0 ELSE imap_failures + 1 END, imap_next_poll = ?3 WHERE id = ?4`,
		truncateText(errMsg, 2000), at.UTC(), next.UnixMilli(), id)
	return expectOne(res, err, Errorf(ENotFound, "That mailbox does not exist."))
}

// NextPollDue is when the workspace's next poll is due: the earliest of
// its mailboxes with IMAP settings. fn runs in a write transaction with it
// (nil when there is none), so a mailbox saved meanwhile is not missed.
func NextPollDue(ctx context.Context, db *DB, fn func(next *time.Time) error) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var ms sql.NullInt64
		if err := tx.GetContext(ctx, &ms, `SELECT min(imap_next_poll) FROM mailboxes WHERE imap_host <> ''`); err != nil {
			return err
		}
		if !ms.Valid {
			return fn(nil)
		}
		t := time.UnixMilli(ms.Int64).UTC()
		return fn(&t)
	})
}

// PollNow makes a mailbox's next poll due now: its IDLE watcher saw new
// mail arrive (see tenant's idle.go), which the poll job reads. ENotFound
// when the mailbox is gone or reads no folder any more.
func PollNow(ctx context.Context, db *DB, id string, now time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mailboxes SET imap_next_poll = min(imap_next_poll, ?) WHERE id = ? AND imap_host <> ''`,
			now.UnixMilli(), id)
		if err := expectOne(res, err, Errorf(ENotFound, "That mailbox does not exist.")); err != nil {
			return err
		}
		return db.due(ctx, DuePoll, now)
	})
}
