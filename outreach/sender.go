package outreach

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/mail"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"atrium/store"
)

// Env is what the sender needs of the workspace around it; the workspace
// service implements it (secrets, suppression lists, what every message
// carries).
type Env interface {
	// Password unseals a mailbox's password.
	Password(ctx context.Context, mb *store.Mailbox) (string, error)
	// Suppressed says why an address must not be written to ("" when it
	// may).
	Suppressed(ctx context.Context, email string) (string, error)
	// Suppress adds an address to the suppression list: a hard bounce.
	Suppress(ctx context.Context, email, reason, detail string) error
	// Decorate adds to a message what every one carries (the
	// unsubscribe headers and link) for the enrolled contact.
	Decorate(ctx context.Context, m *Message, e *store.DueEnrollment) error
	// DKIM gives the signing options of a mailbox, its key unsealed (see
	// DKIMOptions); nil when the mailbox has no key: it sends unsigned.
	DKIM(ctx context.Context, mb *store.Mailbox) (*dkim.SignOptions, error)
	// SendingAllowed says when the workspace's plan lets it send again:
	// the zero time when it may now, else the end of its quota's day.
	SendingAllowed(ctx context.Context) (time.Time, error)
	// CountSent counts a delivered message against the plan's quota.
	CountSent()
	// Track rewrites a message of a sequence with tracking on, for the
	// ledger row messageID (see TrackHTML), and records its links.
	Track(ctx context.Context, m *Message, messageID string) error
}

// Retries of a message the server refused for now (4xx), or that could
// not reach it, before it fails.
const (
	maxAttempts  = 3
	firstBackoff = 5 * time.Minute
	// unknownRecheck is how often an enrollment whose message is of
	// unknown delivery looks again whether a person settled it.
	unknownRecheck = time.Hour
	// pausedRecheck is how often an enrollment of a paused or dayless
	// mailbox looks again.
	pausedRecheck = time.Hour
	// maxStepsAtOnce bounds the steps one enrollment goes through in a
	// pass (waits of 0, tasks), so a pass always ends.
	maxStepsAtOnce = 20
)

// Sender sends the due steps of one workspace's enrollments. It is
// listmonk's shape cut to one file: the scheduler finds the workspace
// through the due-work index, runs one Sender pass as a job, and the pass
// sends within each mailbox's limits, one conversation per mailbox.
type Sender struct {
	DB  *store.DB
	Env Env
	Now func() time.Time
	// TLS, when set, replaces the system's roots (tests).
	TLS *tls.Config
	Log *slog.Logger
	// MaxSends bounds the messages of one pass, so the workspaces share
	// the job runner's slots.
	MaxSends int
	// Yield is how long a pass rests after each enrollment, as a share of
	// the time the enrollment took (1: as long again). Sending is
	// background work: pages people wait for get the CPU it leaves. Real
	// accounts wait 90 s or more between two messages, so the rest costs
	// nothing there; it only bounds a burst.
	Yield float64
}

// Pass is what one pass did.
type Pass struct {
	Sent, Failed, Retried, Deferred, Unknown, Finished, Stopped, Tasks int
	// Recovered are the rows a dead conversation left 'sending', now
	// 'unknown'.
	Recovered int64
}

// Run does one pass: rows left 'sending' by a dead process become
// 'unknown', then every due enrollment goes as far as it may now.
func (s *Sender) Run(ctx context.Context) (Pass, error) {
	var p Pass
	now := s.Now()
	var err error
	if p.Recovered, err = store.RecoverSending(ctx, s.DB, now); err != nil {
		return p, err
	}
	due, err := store.DueEnrollments(ctx, s.DB, now, max(s.MaxSends, 1)*4)
	if err != nil {
		return p, err
	}
	run := &pass{Sender: s, p: &p, conns: map[string]*smtp.Client{}, mailboxes: map[string]*store.Mailbox{},
		signing: map[string]*dkim.SignOptions{}, renderer: store.NewRenderer(s.DB), healthy: map[string]bool{}, tracking: map[string]bool{}}
	defer run.closeAll()
	for i := range due {
		if ctx.Err() != nil || (s.MaxSends > 0 && p.Sent+p.Failed+p.Unknown >= s.MaxSends) {
			break
		}
		began := time.Now()
		if err := run.advance(ctx, &due[i]); err != nil {
			return p, err
		}
		if s.Yield > 0 {
			store.Rest(ctx, time.Duration(float64(time.Since(began))*s.Yield))
		}
	}
	return p, ctx.Err()
}

// pass is the state of one Run: open conversations and mailboxes read.
type pass struct {
	*Sender
	p         *Pass
	conns     map[string]*smtp.Client
	mailboxes map[string]*store.Mailbox
	renderer  *store.Renderer
	// healthy are the mailboxes whose success this pass recorded: one
	// write, not one per message.
	healthy map[string]bool
	signing map[string]*dkim.SignOptions // by mailbox; nil for none
	// tracking says, by sequence, whether its messages are tracked.
	tracking map[string]bool
}

func (r *pass) closeAll() {
	for _, c := range r.conns {
		c.Quit()
		c.Close()
	}
}

var system = store.Actor{Kind: "system", ID: "sender"}

// advance takes an enrollment through its due steps: waits and tasks at
// once, up to and including one email.
func (r *pass) advance(ctx context.Context, e *store.DueEnrollment) error {
	for range maxStepsAtOnce {
		step, err := store.NextStep(ctx, r.DB, e.SequenceID, e.DonePosition)
		if err != nil {
			return err
		}
		now := r.Now()
		switch {
		case step == nil:
			r.p.Finished++
			return store.EndEnrollment(ctx, r.DB, system, &e.Enrollment, store.EnrollmentFinished, "")
		case step.Kind == store.StepWait:
			next := AddWait(now, step.WaitMinutes, step.BusinessDays)
			if err := store.ScheduleEnrollment(ctx, r.DB, e.ID, step.Position, next); err != nil || next.After(now) {
				return err
			}
		case step.Kind == store.StepTask:
			if err := r.task(ctx, e, step); err != nil {
				return err
			}
		default:
			return r.email(ctx, e, step)
		}
		e.DonePosition = step.Position
	}
	return nil
}

// task makes the step's task for the contact's owner.
func (r *pass) task(ctx context.Context, e *store.DueEnrollment, step *store.Step) error {
	due := r.Now().UTC().Format(time.DateOnly)
	_, err := store.CreateTask(ctx, r.DB, system, store.TaskInput{ContactID: &e.ContactID, Title: &step.TaskTitle,
		AssigneeID: &e.OwnerID, DueDate: &due})
	if err != nil {
		return err
	}
	r.p.Tasks++
	return store.ScheduleEnrollment(ctx, r.DB, e.ID, step.Position, r.Now())
}

// email sends the step's email, if the mailbox may send now and the
// address may be written to; otherwise it defers or stops the enrollment.
func (r *pass) email(ctx context.Context, e *store.DueEnrollment, step *store.Step) error {
	mb, err := r.mailbox(ctx, e.MailboxID)
	if err != nil {
		return err
	}
	now := r.Now()
	if mb.Username != "" && mb.Password == "" {
		// Its password was left behind (an import, a restore as new):
		// trying would only fail, and fail the enrollments.
		r.p.Deferred++
		if err := store.RecordMailboxHealth(ctx, r.DB, mb.ID, "The account has no password: enter it on the account's page.", now); err != nil {
			return err
		}
		return store.DeferEnrollment(ctx, r.DB, e.ID, now.Add(pausedRecheck))
	}
	if slot, ok, err := r.slot(ctx, mb, now); err != nil || !ok || slot.After(now) {
		if err != nil {
			return err
		}
		if !ok {
			slot = now.Add(pausedRecheck)
		}
		r.p.Deferred++
		return store.DeferEnrollment(ctx, r.DB, e.ID, slot)
	}
	if until, err := r.Env.SendingAllowed(ctx); err != nil || !until.IsZero() {
		if err != nil {
			return err
		}
		r.p.Deferred++
		return store.DeferEnrollment(ctx, r.DB, e.ID, until)
	}
	if why, err := r.Env.Suppressed(ctx, e.ContactEmail); err != nil || why != "" {
		if err != nil {
			return err
		}
		r.p.Stopped++
		return store.EndEnrollment(ctx, r.DB, system, &e.Enrollment, store.EnrollmentStopped, why)
	}
	m, msg, err := r.compose(ctx, e, step, mb)
	if err != nil {
		return err
	}
	if msg == nil { // the template cannot be rendered any more
		r.p.Stopped++
		return store.EndEnrollment(ctx, r.DB, system, &e.Enrollment, store.EnrollmentStopped, "template")
	}
	existing, claimed, err := store.ClaimMessage(ctx, r.DB, m)
	if err != nil {
		return err
	}
	if !claimed {
		return r.alreadyThere(ctx, e, step, existing)
	}
	msg.MessageID = m.MessageID
	if err := r.track(ctx, msg, m); err != nil {
		// Nothing was sent: the row is tried again, not left to become
		// of unknown delivery.
		// A stop must not leave it 'sending' (to become unknown).
		return errors.Join(err, store.SetMessageState(context.WithoutCancel(ctx), r.DB, m.ID, store.MessageScheduled, "", r.Now()))
	}
	return r.deliver(ctx, e, step, mb, m, msg)
}

// slot is when the mailbox may send next.
func (r *pass) slot(ctx context.Context, mb *store.Mailbox, now time.Time) (time.Time, bool, error) {
	day := DayStart(mb, now)
	count, last, err := store.MailboxUsage(ctx, r.DB, mb.ID, day)
	if err != nil {
		return time.Time{}, false, err
	}
	u := Usage{Today: count, DayStart: day}
	if last != nil {
		u.Last, u.LastID = last.UpdatedAt, last.ID
	}
	slot, ok := NextSlot(mb, u, now)
	return slot, ok, nil
}

func (r *pass) mailbox(ctx context.Context, id string) (*store.Mailbox, error) {
	if mb := r.mailboxes[id]; mb != nil {
		return mb, nil
	}
	mb, err := store.GetMailbox(ctx, r.DB, id)
	if err != nil {
		return nil, err
	}
	r.mailboxes[id] = mb
	return mb, nil
}

// compose renders the step's template (the B variant for the B half) for
// the contact and makes its ledger row. A template that no longer renders
// gives no message.
func (r *pass) compose(ctx context.Context, e *store.DueEnrollment, step *store.Step, mb *store.Mailbox) (*store.Message, *Message, error) {
	tmpl := step.TemplateID.String
	if e.Variant == "b" && step.VariantID.Valid {
		tmpl = step.VariantID.String
	}
	rendered, err := r.renderer.Render(ctx, tmpl, e.ContactID)
	if code := store.ErrorCode(err); code == store.EValidation || code == store.ENotFound {
		r.Log.Warn("a sequence's template cannot be sent", "sequence", e.SequenceID, "step", step.ID, "err", err)
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	now := r.Now().UTC()
	m := &store.Message{ID: store.NewID(), EnrollmentID: e.ID, StepID: step.ID, SequenceID: e.SequenceID, ContactID: e.ContactID,
		MailboxID: mb.ID, ToEmail: e.ContactEmail, Subject: rendered.Subject, Variant: e.Variant, MessageID: NewMessageID(mb.FromEmail),
		CreatedAt: now, UpdatedAt: now}
	msg := &Message{From: mail.Address{Name: mb.FromName, Address: mb.FromEmail}, ReplyTo: mb.ReplyTo,
		To: mail.Address{Name: e.ContactName, Address: e.ContactEmail}, Subject: rendered.Subject, Text: rendered.Text, HTML: rendered.HTML}
	if err := r.Env.Decorate(ctx, msg, e); err != nil {
		return nil, nil, err
	}
	return m, msg, nil
}

// alreadyThere handles a step whose ledger row exists: sent or skipped
// goes on, unknown waits for a person, failed stops.
func (r *pass) alreadyThere(ctx context.Context, e *store.DueEnrollment, step *store.Step, m *store.Message) error {
	switch m.State {
	case store.MessageSent, store.MessageSkipped:
		return store.ScheduleEnrollment(ctx, r.DB, e.ID, step.Position, r.Now())
	case store.MessageFailed, store.MessageBounced:
		r.p.Stopped++
		return store.EndEnrollment(ctx, r.DB, system, &e.Enrollment, store.EnrollmentStopped, m.State)
	}
	return store.DeferEnrollment(ctx, r.DB, e.ID, r.Now().Add(unknownRecheck))
}

// outcome is how a conversation ended for one message.
type outcome int

const (
	delivered outcome = iota
	permanent         // 5xx: refused for good
	temporary         // 4xx, or not reached: may be tried again
	unknown           // cut off after the final dot: nobody knows
)

// deliver holds the SMTP conversation for a claimed message and records
// its outcome.
func (r *pass) deliver(ctx context.Context, e *store.DueEnrollment, step *store.Step, mb *store.Mailbox, m *store.Message, msg *Message) error {
	body, err := msg.Bytes()
	if err != nil {
		return err
	}
	// A key that cannot be read is the mailbox's trouble, like a password
	// that cannot: the message waits and the mailbox's health says why.
	out := temporary
	body, cause := r.sign(ctx, mb, body)
	if cause == nil {
		out, cause = r.converse(ctx, mb, msg.From.Address, msg.To.Address, body)
	}
	now := r.Now()
	problem := ""
	if cause != nil {
		problem = cause.Error()
	}
	if err := r.recordHealth(ctx, mb, healthOf(out, problem), now); err != nil {
		return err
	}
	switch {
	case out == delivered:
		r.p.Sent++
		r.Env.CountSent()
		return store.MessageSentAndAdvance(ctx, r.DB, m, step.Position, now, now)
	case out == permanent:
		r.p.Failed++
		if err := store.SetMessageState(ctx, r.DB, m.ID, store.MessageFailed, problem, now); err != nil {
			return err
		}
		if err := r.Env.Suppress(ctx, e.ContactEmail, store.SkipBounced, problem); err != nil {
			return err
		}
		return store.EndEnrollment(ctx, r.DB, system, &e.Enrollment, store.EnrollmentStopped, "bounced")
	case out == temporary && m.Attempts >= maxAttempts:
		r.p.Failed++
		if err := store.SetMessageState(ctx, r.DB, m.ID, store.MessageFailed, problem, now); err != nil {
			return err
		}
		return store.EndEnrollment(ctx, r.DB, system, &e.Enrollment, store.EnrollmentStopped, "failed")
	case out == temporary:
		r.p.Retried++
		if err := store.SetMessageState(ctx, r.DB, m.ID, store.MessageScheduled, problem, now); err != nil {
			return err
		}
		return store.DeferEnrollment(ctx, r.DB, e.ID, now.Add(firstBackoff<<(m.Attempts-1)))
	default:
		r.p.Unknown++
		if err := store.SetMessageState(ctx, r.DB, m.ID, store.MessageUnknown, problem, now); err != nil {
			return err
		}
		return store.DeferEnrollment(ctx, r.DB, e.ID, now.Add(unknownRecheck))
	}
}

// sign signs the message with the mailbox's DKIM key, when it has one.
// The options are kept for the pass: parsing a key for every message
// would cost more than the signature.
func (r *pass) sign(ctx context.Context, mb *store.Mailbox, body []byte) ([]byte, error) {
	opts, ok := r.signing[mb.ID]
	if !ok {
		var err error
		if opts, err = r.Env.DKIM(ctx, mb); err != nil {
			return nil, err
		}
		r.signing[mb.ID] = opts
	}
	return Sign(body, opts)
}

// recordHealth records a conversation's outcome as the mailbox's health: a
// problem each time, a success once a pass (the health says the same after
// every further one).
func (r *pass) recordHealth(ctx context.Context, mb *store.Mailbox, problem string, now time.Time) error {
	if problem == "" && r.healthy[mb.ID] {
		return nil
	}
	if err := store.RecordMailboxHealth(ctx, r.DB, mb.ID, problem, now); err != nil {
		return err
	}
	r.healthy[mb.ID] = problem == ""
	return nil
}

// healthOf is what a mailbox's health records of an outcome: a refusal of
// one address says nothing bad about the mailbox.
func healthOf(out outcome, problem string) string {
	if out == delivered || out == permanent {
		return ""
	}
	return problem
}

// converse sends one message over the mailbox's conversation, opening it
// when needed; a conversation that failed is closed.
func (r *pass) converse(ctx context.Context, mb *store.Mailbox, from, to string, body []byte) (outcome, error) {
	c, err := r.conn(ctx, mb)
	if err != nil {
		return classify(err, false), err
	}
	out, err := send(c, from, to, body)
	if err != nil && out != permanent {
		delete(r.conns, mb.ID)
		c.Close()
	} else if err != nil {
		c.Reset()
	}
	return out, err
}

func (r *pass) conn(ctx context.Context, mb *store.Mailbox) (*smtp.Client, error) {
	if c := r.conns[mb.ID]; c != nil {
		return c, nil
	}
	password, err := r.Env.Password(ctx, mb)
	if err != nil {
		return nil, err
	}
	srv := ServerOf(mb, password)
	srv.TLS = r.TLS
	dctx, cancel := context.WithTimeout(ctx, DefaultSMTPTimeout)
	defer cancel()
	c, err := Dial(dctx, srv)
	if err != nil {
		return nil, err
	}
	r.conns[mb.ID] = c
	return c, nil
}

// send is one SMTP transaction. Until the final dot is sent, a failure
// means the message was not delivered; a conversation cut off after it,
// without the server's answer, may have been.
func send(c *smtp.Client, from, to string, body []byte) (outcome, error) {
	if err := c.Mail(from, nil); err != nil {
		return classify(err, false), err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return classify(err, false), err
	}
	w, err := c.Data()
	if err != nil {
		return classify(err, false), err
	}
	if _, err := w.Write(body); err != nil {
		return temporary, err
	}
	if err := w.Close(); err != nil {
		return classify(err, true), err
	}
	return delivered, nil
}

// classify turns an error into an outcome: the server's code when it
// answered, else not reached (before the final dot) or unknown (after).
func classify(err error, afterDot bool) outcome {
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se) && se.Code >= 500:
		return permanent
	case errors.As(err, &se) && se.Code >= 400:
		return temporary
	case afterDot:
		return unknown
	}
	return temporary
}
