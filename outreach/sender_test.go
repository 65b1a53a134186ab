package outreach

import (
	"context"
	"fmt"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// testEnv is the workspace around the sender: a password and a DKIM key
// as is, a suppression list in memory.
type testEnv struct {
	password string
	dkimKey  string      // PEM; "" sends unsigned
	headers  [][2]string // more header fields Decorate adds
	mu       sync.Mutex
	blocked  map[string]string
	tracked  []string // the HTML parts Track made, in order
}

func (e *testEnv) SendingAllowed(context.Context) (time.Time, error)        { return time.Time{}, nil }
func (e *testEnv) CountSent()                                               {}
func (e *testEnv) Password(context.Context, *store.Mailbox) (string, error) { return e.password, nil }
func (e *testEnv) Suppressed(_ context.Context, email string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.blocked[strings.ToLower(email)], nil
}
func (e *testEnv) Suppress(_ context.Context, email, reason, _ string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.blocked[strings.ToLower(email)] = reason
	return nil
}
func (e *testEnv) Decorate(_ context.Context, m *Message, en *store.DueEnrollment) error {
	m.Headers = append(m.Headers, [2]string{"X-Test-Enrollment", en.ID})
	m.Headers = append(m.Headers, e.headers...)
	return nil
}
func (e *testEnv) Track(_ context.Context, m *Message, messageID string) error {
	m.HTML, _ = TrackHTML(m.HTML, "https://crm.example", func(i int) string { return fmt.Sprintf("https://crm.example/t/c/%s/%d", messageID, i) },
		"https://crm.example/t/o/"+messageID)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tracked = append(e.tracked, m.HTML)
	return nil
}
func (e *testEnv) DKIM(_ context.Context, mb *store.Mailbox) (*dkim.SignOptions, error) {
	if e.dkimKey == "" {
		return nil, nil
	}
	return DKIMOptions(mb, e.dkimKey)
}

var actor = store.Actor{Kind: "system", ID: "test"}

// clock is a time a test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time         { return c.t }
func (c *clock) add(d time.Duration)    { c.t = c.t.Add(d) }
func monday(hour, minute int) time.Time { return time.Date(2026, 11, 30, hour, minute, 0, 0, time.UTC) } // a Monday

// senderFixture is a workspace with a mailbox on a test SMTP server, two
// templates and a sequence: email (A/B), wait 3 business days, task, email.
type senderFixture struct {
	db       *store.DB
	srv      *smtptest.Server
	env      *testEnv
	clock    *clock
	mailbox  string
	sequence string
	contacts []string
}

func newSenderFixture(t *testing.T, mb store.MailboxInput, contacts int) *senderFixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "ws.db"), store.OpenOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := store.Migrate(ctx, db, store.WorkspaceSchema); err != nil {
		t.Fatal(err)
	}
	f := &senderFixture{db: db, srv: smtptest.NewServer(t, smtptest.Options{NoTLS: true}), clock: &clock{monday(10, 0)}}
	f.env = &testEnv{password: f.srv.Password, blocked: map[string]string{}}
	mb.Name, mb.FromName, mb.FromEmail = ptr("Sales"), ptr("Ana"), ptr("ana@acme.example")
	mb.SMTPHost, mb.SMTPPort, mb.TLSMode, mb.Username = ptr(f.srv.Host), ptr(f.srv.Port), ptr("none"), ptr(f.srv.Username)
	mb.Password = ptr("set") // the test Env gives the server's password
	m, err := store.CreateMailbox(ctx, db, actor, mb, func(_, secret string) (string, error) { return "sealed:" + secret, nil })
	if err != nil {
		t.Fatal(err)
	}
	f.mailbox = m.ID
	var tmpl []string
	for _, name := range []string{"A", "B"} {
		tp, err := store.CreateTemplate(ctx, db, actor, store.TemplateInput{Name: ptr(name), Subject: ptr(name + ": hi {{first_name}}"),
			Body: ptr(`<p>Hello {{first_name | "there"}}, <a href="https://acme.example">see</a>.</p>`)})
		if err != nil {
			t.Fatal(err)
		}
		tmpl = append(tmpl, tp.ID)
	}
	seq, err := store.CreateSequence(ctx, db, actor, store.SequenceInput{Name: ptr("Launch"), MailboxIDs: &[]string{m.ID},
		Steps: &[]store.StepInput{{Kind: store.StepEmail, TemplateID: tmpl[0], VariantID: tmpl[1]},
			{Kind: store.StepWait, WaitMinutes: 3 * 24 * 60, BusinessDays: true},
			{Kind: store.StepTask, TaskTitle: "Call them"}, {Kind: store.StepEmail, TemplateID: tmpl[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	f.sequence = seq.ID
	owner := "u-owner"
	for i := range contacts {
		c, err := store.CreateContact(ctx, db, actor, store.ContactInput{FirstName: ptr(fmt.Sprintf("P%d", i)),
			Email: ptr(fmt.Sprintf("p%d@example.org", i)), OwnerID: &owner})
		if err != nil {
			t.Fatal(err)
		}
		f.contacts = append(f.contacts, c.ID)
	}
	if _, err := store.SetSequenceState(ctx, db, actor, seq.ID, store.SequenceActive); err != nil {
		t.Fatal(err)
	}
	if res, err := store.Enroll(ctx, db, actor, seq.ID, f.contacts, nil, f.clock.now()); err != nil || res.Enrolled != contacts {
		t.Fatalf("%+v, %v", res, err)
	}
	return f
}

func ptr[T any](v T) *T { return &v }

func (f *senderFixture) run(t *testing.T) Pass {
	t.Helper()
	s := &Sender{DB: f.db, Env: f.env, Now: f.clock.now, MaxSends: 100, Log: testLog}
	p, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *senderFixture) ledger(t *testing.T, state string) []store.Message {
	t.Helper()
	ms, _, err := store.ListMessages(context.Background(), f.db, f.sequence, "", state, "", store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestSender_WalksTheSequence(t *testing.T) {
	ctx := context.Background()
	f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 4)
	if p := f.run(t); p.Sent != 4 {
		t.Fatalf("first pass %+v", p)
	}
	msgs := f.srv.Messages()
	subjects := map[string]int{}
	for _, m := range msgs {
		parsed, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		subjects[strings.SplitN(parsed.Header.Get("Subject"), ":", 2)[0]]++
		ct := parsed.Header.Get("Content-Type")
		body := string(m.Data)
		if !strings.HasPrefix(ct, "multipart/alternative") || !strings.Contains(body, "text/plain") || !strings.Contains(body, "text/html") ||
			!strings.Contains(body, "see (https://acme.example)") || parsed.Header.Get("X-Test-Enrollment") == "" {
			t.Fatalf("message:\n%s", body)
		}
	}
	if subjects["A"] != 2 || subjects["B"] != 2 {
		t.Fatalf("the A/B split: %v", subjects)
	}
	if sent := f.ledger(t, store.MessageSent); len(sent) != 4 {
		t.Fatalf("%d sent rows", len(sent))
	}
	// Nothing more until the wait ends: 3 business days from Monday is
	// Thursday.
	if p := f.run(t); p.Sent != 0 {
		t.Fatalf("sent during the wait: %+v", p)
	}
	f.clock.add(3*24*time.Hour + time.Minute)
	if p := f.run(t); p.Sent != 4 || p.Tasks != 4 {
		t.Fatalf("after the wait %+v", p)
	}
	tasks, _, err := store.ListTasks(ctx, f.db, store.TaskFilter{AssigneeID: "u-owner", Limit: 50})
	if err != nil || len(tasks) != 4 || tasks[0].Title != "Call them" {
		t.Fatalf("tasks %+v, %v", tasks, err)
	}
	if p := f.run(t); p.Finished != 4 {
		t.Fatalf("last pass %+v", p)
	}
	// Each (enrollment, step) was delivered once.
	seen := map[string]bool{}
	for _, m := range f.srv.Messages() {
		parsed, _ := mail.ReadMessage(strings.NewReader(string(m.Data)))
		id := parsed.Header.Get("Message-ID")
		if seen[id] {
			t.Fatalf("%s delivered twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 8 {
		t.Fatalf("%d deliveries", len(seen))
	}
}

func TestSender_Limits(t *testing.T) {
	t.Run("daily limit", func(t *testing.T) {
		f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0), DailyLimit: ptr(2)}, 5)
		if p := f.run(t); p.Sent != 2 || p.Deferred != 3 {
			t.Fatalf("%+v", p)
		}
		f.clock.add(2 * time.Hour)
		if p := f.run(t); p.Sent != 0 {
			t.Fatalf("sent over the limit: %+v", p)
		}
		f.clock.t = monday(9, 0).AddDate(0, 0, 1) // Tuesday, the window opens
		if p := f.run(t); p.Sent != 2 {
			t.Fatalf("the next day: %+v", p)
		}
	})
	t.Run("gap", func(t *testing.T) {
		f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(60), GapMax: ptr(60)}, 3)
		if p := f.run(t); p.Sent != 1 || p.Deferred != 2 {
			t.Fatalf("%+v", p)
		}
		f.clock.add(30 * time.Second)
		if p := f.run(t); p.Sent != 0 {
			t.Fatalf("sent within the gap: %+v", p)
		}
		f.clock.add(31 * time.Second)
		if p := f.run(t); p.Sent != 1 {
			t.Fatalf("after the gap: %+v", p)
		}
	})
	t.Run("window and days", func(t *testing.T) {
		f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0), TimeZone: ptr("Europe/Paris")}, 1)
		f.clock.t = time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC) // Friday 17:30 in Paris: closed
		if p := f.run(t); p.Sent != 0 || p.Deferred != 1 {
			t.Fatalf("%+v", p)
		}
		e, _, _ := store.ListEnrollments(context.Background(), f.db, f.sequence, "", "", 1)
		if want := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC); !e[0].NextAt().Equal(want) { // Monday 09:00 in Paris
			t.Fatalf("deferred to %v, want %v", e[0].NextAt(), want)
		}
	})
	t.Run("ramp", func(t *testing.T) {
		f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0), RampPerDay: ptr(1), DailyLimit: ptr(10)}, 5)
		// The ramp started when the mailbox was made (now, real time);
		// the clock is set to that day.
		mb, _ := store.GetMailbox(context.Background(), f.db, f.mailbox)
		day := mb.RampStart
		f.clock.t = time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, time.UTC)
		for f.clock.t.Weekday() == time.Saturday || f.clock.t.Weekday() == time.Sunday {
			f.clock.t = f.clock.t.AddDate(0, 0, 7) // keep the ramp's day count and land on a weekday
		}
		days := int(f.clock.t.Sub(time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)).Hours()/24) + 1
		if p := f.run(t); p.Sent != min(days, 5) {
			t.Fatalf("day %d of the ramp: %+v", days, p)
		}
	})
}

func TestSender_SuppressionAndBounces(t *testing.T) {
	f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 4)
	f.env.blocked["p0@example.org"] = store.SkipSuppressed
	f.srv.Reject(func(stage, value string) error {
		switch {
		case stage == "rcpt" && value == "p1@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		case stage == "rcpt" && value == "p2@example.org":
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		return nil
	})
	p := f.run(t)
	if p.Sent != 1 || p.Stopped != 1 || p.Failed != 1 || p.Retried != 1 {
		t.Fatalf("%+v", p)
	}
	for _, m := range f.srv.Messages() {
		if m.To[0] != "p3@example.org" {
			t.Fatalf("sent to %v", m.To)
		}
	}
	if f.env.blocked["p1@example.org"] != store.SkipBounced {
		t.Fatal("the hard bounce was not suppressed")
	}
	// The soft bounce is tried again after its backoff, then fails.
	for i := range 2 {
		f.clock.add(time.Hour)
		if p := f.run(t); (i == 0 && p.Retried != 1) || (i == 1 && p.Failed != 1) {
			t.Fatalf("retry %d: %+v", i, p)
		}
	}
	failed := f.ledger(t, store.MessageFailed)
	if len(failed) != 2 || failed[0].Attempts+failed[1].Attempts != 4 {
		t.Fatalf("failed rows %+v", failed)
	}
}

// A conversation cut off (a row left 'sending' by a dead process) is never
// sent again on its own: it becomes unknown, and a person settles it.
func TestSender_CutOffIsUnknownUntilSettled(t *testing.T) {
	ctx := context.Background()
	f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 1)
	due, err := store.DueEnrollments(ctx, f.db, f.clock.now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatal(due, err)
	}
	step, _ := store.NextStep(ctx, f.db, f.sequence, -1)
	m := &store.Message{ID: store.NewID(), EnrollmentID: due[0].ID, StepID: step.ID, SequenceID: f.sequence, ContactID: due[0].ContactID,
		MailboxID: f.mailbox, ToEmail: due[0].ContactEmail, Variant: "a", MessageID: "cut@acme.example", CreatedAt: f.clock.now(), UpdatedAt: f.clock.now()}
	if _, claimed, err := store.ClaimMessage(ctx, f.db, m); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	// The process dies here; the next pass finds the row.
	if p := f.run(t); p.Recovered != 1 || p.Sent != 0 {
		t.Fatalf("%+v", p)
	}
	f.clock.add(2 * time.Hour)
	if p := f.run(t); p.Sent != 0 || len(f.srv.Messages()) != 0 {
		t.Fatalf("an unknown message was sent again on its own: %+v", p)
	}
	if _, err := store.SettleMessage(ctx, f.db, actor, m.ID, store.SettleRetry, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	if p := f.run(t); p.Sent != 1 {
		t.Fatalf("after 'send again': %+v", p)
	}
	if got := f.srv.Messages(); len(got) != 1 || !strings.Contains(string(got[0].Data), "<cut@acme.example>") {
		t.Fatalf("the retry did not keep its Message-ID: %d messages", len(got))
	}
}

var testLog = slogDiscard()

// An account whose password was left behind (an import, a restore as new)
// is not tried: its enrollments wait instead of failing.
func TestSender_NoPasswordWaits(t *testing.T) {
	ctx := context.Background()
	f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 2)
	if _, err := f.db.W.Exec(store.ForgetMailboxSecretsSQL); err != nil {
		t.Fatal(err)
	}
	if p := f.run(t); p.Sent != 0 || p.Deferred != 2 || p.Failed != 0 || len(f.srv.Messages()) != 0 {
		t.Fatalf("%+v", p)
	}
	mb, _ := store.GetMailbox(ctx, f.db, f.mailbox)
	if !strings.Contains(mb.LastError, "no password") {
		t.Fatalf("health %q", mb.LastError)
	}
}
