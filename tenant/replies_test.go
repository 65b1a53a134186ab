package tenant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"atrium/outreach/imaptest"
	"atrium/outreach/smtptest"
	"atrium/store"
)

// imapTest is an in-memory IMAP server on loopback with one account.
type imapTest struct {
	host     string
	port     int
	user     *imapmemserver.User
	username string
	password string
	conns    *countingListener
}

func newIMAPTest(t testing.TB) *imapTest {
	t.Helper()
	mem := imapmemserver.New()
	it := &imapTest{username: "ana", password: "imap-secret"}
	it.user = imapmemserver.NewUser(it.username, it.password)
	if err := it.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(it.user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return imaptest.NewSession(it.user), nil, nil
		},
		InsecureAuth: true,
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger:       quietLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	it.conns = &countingListener{Listener: ln}
	go srv.Serve(it.conns)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	it.host, it.port = "127.0.0.1", addr.Port
	return it
}

// countingListener counts the connections open to a server, and can
// drop them all.
type countingListener struct {
	net.Listener
	open  atomic.Int64
	mu    sync.Mutex
	conns []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	cc := &countedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return cc, nil
}

// dropAll closes every connection, as a server restarting does.
func (l *countingListener) dropAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// deliver puts a message in the account's INBOX, as an arriving mail.
func (it *imapTest) deliver(t testing.TB, raw string) {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if _, err := it.user.Append("INBOX", bytes.NewReader([]byte(raw)), &imap.AppendOptions{Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// The samples' returned message and recipient, which the tests replace
// with a real one of the ledger.
const (
	sampleMessageID = "1a2b3c4d.9f8e7d6c5b4a3928@sender.example"
	sampleRecipient = "jane.doe@example.org"
)

// sample reads an inbound sample of outreach's testdata as an answer to m.
func sample(t testing.TB, name string, m store.Message) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "outreach", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), sampleMessageID, m.MessageID)
	return strings.ReplaceAll(s, sampleRecipient, m.ToEmail)
}

// replyFixture is a workspace whose sequence (an email, a 3-day wait, an
// email) sent its first step to each contact from a mailbox that reads
// the IMAP account.
type replyFixture struct {
	m      *Manager
	dir    string // the data directory
	imap   *imapTest
	wsID   string
	seqID  string
	mbID   string
	owner  string
	byMail map[string]store.Message // the first message to each address
}

func newReplyFixture(t testing.TB, emails []string, stopByDomain bool) *replyFixture {
	t.Helper()
	return newReplyFixtureWith(t, Options{}, emails, stopByDomain)
}

// newReplyFixtureWith is newReplyFixture with the Manager's options.
func newReplyFixtureWith(t testing.TB, opts Options, emails []string, stopByDomain bool) *replyFixture {
	t.Helper()
	ctx := context.Background()
	smtpSrv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	opts.Now = aheadClock()
	dir := t.TempDir()
	f := &replyFixture{m: mustOpenJobManager(t, dir, opts), dir: dir, imap: newIMAPTest(t), owner: "0192f1d2-0000-7000-8000-00000000abcd"}
	w := mustCreate(t, f.m, "Replies")
	f.wsID = w.ID
	l, err := f.m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	svc := f.m.Service(l)
	a := store.Actor{Kind: "user", ID: f.owner}
	p := func(s string) *string { return &s }
	mb, err := svc.CreateMailbox(ctx, a, store.MailboxInput{Name: p("Sales"), FromEmail: p("ana@acme.example"), SMTPHost: p(smtpSrv.Host),
		SMTPPort: &smtpSrv.Port, TLSMode: p("none"), Username: p(smtpSrv.Username), Password: p(smtpSrv.Password), GapMin: new(int), GapMax: new(int),
		DailyLimit: ptrInt(10000), WindowDays: &store.Weekdays{1, 2, 3, 4, 5, 6, 7},
		IMAPHost: p(f.imap.host), IMAPPort: &f.imap.port, IMAPTLS: p("none"), IMAPUsername: p(f.imap.username), IMAPPassword: p(f.imap.password)})
	if err != nil {
		t.Fatal(err)
	}
	f.mbID = mb.ID
	tp, err := store.CreateTemplate(ctx, l.DB, a, store.TemplateInput{Name: p("Intro"), Subject: p("Hi {{first_name}}"), Body: p("Hello")})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := svc.CreateSequence(ctx, a, store.SequenceInput{Name: p("Launch"), MailboxIDs: &[]string{mb.ID}, StopByDomain: &stopByDomain,
		Steps: &[]store.StepInput{{Kind: store.StepEmail, TemplateID: tp.ID}, {Kind: store.StepWait, WaitMinutes: 3 * 24 * 60},
			{Kind: store.StepEmail, TemplateID: tp.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	f.seqID = seq.ID
	var ids []string
	for i, e := range emails {
		c, err := store.CreateContact(ctx, l.DB, a, store.ContactInput{FirstName: p(fmt.Sprint("P", i)), Email: p(e)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := store.SetSequenceState(ctx, l.DB, a, seq.ID, store.SequenceActive); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enroll(ctx, a, seq.ID, ids); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		runDue(t, f.m, f.m.now())
		if len(smtpSrv.Messages()) == len(emails) {
			break
		}
	}
	msgs, _, err := store.ListMessages(ctx, l.DB, seq.ID, "", store.MessageSent, "", 200)
	if err != nil || len(msgs) != len(emails) {
		t.Fatalf("%d messages sent, want %d (%v)", len(msgs), len(emails), err)
	}
	f.byMail = map[string]store.Message{}
	for _, m := range msgs {
		f.byMail[m.ToEmail] = m
	}
	return f
}

// poll runs the due work ahead, past the next poll even of a mailbox an
// IDLE watcher listens to, and returns the poll job's result.
func (f *replyFixture) poll(t testing.TB) PollResult {
	t.Helper()
	var res PollResult
	for _, j := range runDue(t, f.m, f.m.now().Add(pollWatchedEvery+time.Minute)) {
		if j.Kind != store.DuePoll {
			continue
		}
		if j.State != store.JobDone {
			t.Fatalf("the poll job is %s: %s", j.State, j.Error)
		}
		if err := json.Unmarshal([]byte(j.Result), &res); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// with runs fn with the workspace's file.
func (f *replyFixture) with(t testing.TB, fn func(db *store.DB)) {
	t.Helper()
	l, err := f.m.Acquire(context.Background(), f.wsID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	fn(l.DB)
}

func (f *replyFixture) enrollmentStates(t *testing.T) map[string]string {
	t.Helper()
	states := map[string]string{}
	f.with(t, func(db *store.DB) {
		var rows []struct {
			Email  string `db:"email"`
			State  string `db:"state"`
			Reason string `db:"stop_reason"`
		}
		if err := db.R.Select(&rows, `SELECT c.email, e.state, e.stop_reason FROM enrollments e JOIN contacts c ON c.id = e.contact_id`); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			states[r.Email] = strings.TrimSuffix(r.State+":"+r.Reason, ":")
		}
	})
	return states
}

// A reply naming a sent message's Message-ID stops its enrolment within
// one poll, and, the sequence stopping by domain, that of a colleague at
// the same domain; an out-of-office does not stop anything; the reply is
// kept, on the timeline, with a task for the owner; a second poll reads
// nothing again.
func TestPoll_ReplyStopsEnrollment(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org", "bob@example.org", "cy@other.example"}, true)
	ctx := context.Background()
	f.poll(t) // the first poll finds an empty folder

	f.imap.deliver(t, sample(t, "inbound/ooo.eml", f.byMail["cy@other.example"]))
	res := f.poll(t)
	if res.AutoReplies != 1 || res.Stopped != 0 {
		t.Fatalf("got %+v, want one auto-reply stopping nothing", res)
	}
	if st := f.enrollmentStates(t); st["cy@other.example"] != "active" {
		t.Fatalf("an out-of-office stopped the enrolment: %v", st)
	}

	f.imap.deliver(t, sample(t, "inbound/reply.eml", f.byMail["ann@example.org"]))
	res = f.poll(t)
	if res.Read != 1 || res.Replies != 1 || res.Stopped != 2 {
		t.Fatalf("got %+v, want one reply stopping two enrolments", res)
	}
	want := map[string]string{"ann@example.org": "stopped:replied", "bob@example.org": "stopped:replied", "cy@other.example": "active"}
	if st := f.enrollmentStates(t); fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("enrolments %v, want %v", st, want)
	}
	f.with(t, func(db *store.DB) {
		replies, _, err := store.ListReplies(ctx, db, store.ReplyFilter{})
		if err != nil || len(replies) != 2 {
			t.Fatalf("%d replies (%v), want the reply and the auto-reply", len(replies), err)
		}
		r := replies[0]
		if r.Kind != store.ReplyPerson || r.ContactName != "P0" || r.SequenceName != "Launch" || r.StepNumber != 1 ||
			!strings.Contains(r.Body, "Thursday at 10:00 works for me") || strings.Contains(r.Body, "<div") {
			t.Fatalf("got %+v", r)
		}
		if !replies[1].Auto() || replies[1].Category != "out_of_office" {
			t.Fatalf("got %+v, want the auto-reply marked", replies[1])
		}
		items, err := store.Timeline(ctx, db, store.KindContact, r.ContactID, 20)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range items {
			found = found || (it.Kind == "email_replied" && strings.Contains(it.Detail, "Thursday"))
		}
		if !found {
			t.Fatalf("the timeline has no reply: %+v", items)
		}
		sa, err := store.ContactSubjectAccess(ctx, db, r.ContactID)
		if err != nil || len(sa.Replies) != 1 || sa.Replies[0].Body != r.Body {
			t.Fatalf("the subject access export lacks the reply: %+v, %v", sa, err)
		}
		tasks, _, err := store.ListTasks(ctx, db, store.TaskFilter{ContactID: r.ContactID})
		if err != nil || len(tasks) != 1 || tasks[0].Title != "Reply from Jane Doe" || tasks[0].AssigneeID != f.owner {
			t.Fatalf("tasks %+v (%v), want one for the sequence's creator", tasks, err)
		}
	})

	res = f.poll(t)
	if res.Read != 0 || res.Replies != 0 {
		t.Fatalf("a second poll read %+v again", res)
	}
	f.with(t, func(db *store.DB) {
		if n, err := store.CountUnhandledReplies(ctx, db); err != nil || n != 2 {
			t.Fatalf("%d replies after a second poll (%v), want 2", n, err)
		}
		// Erasing the person erases their answers.
		id, err := store.ContactIDByEmail(ctx, db, "ann@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.EraseContact(ctx, db, store.Actor{Kind: "system", ID: "test"}, id); err != nil {
			t.Fatal(err)
		}
		if n, err := store.CountUnhandledReplies(ctx, db); err != nil || n != 1 {
			t.Fatalf("%d replies after the erasure (%v), want the other contact's 1", n, err)
		}
	})
}

// Each DSN sample suppresses its recipient as bounced, marks the message
// bounced and stops the enrolment; the delayed one is soft: the third
// soft bounce in a row counts as hard.
func TestPoll_DSNSamples(t *testing.T) {
	hard := []string{"gmail_hard.eml", "outlook_hard.eml", "postfix_hard.eml", "exim_hard.eml"}
	var emails []string
	for i := range hard {
		emails = append(emails, fmt.Sprintf("r%d@example.org", i))
	}
	emails = append(emails, "soft@example.net")
	f := newReplyFixture(t, emails, false)
	ctx := context.Background()
	for i, name := range hard {
		f.imap.deliver(t, sample(t, "dsn/"+name, f.byMail[emails[i]]))
	}
	res := f.poll(t)
	if res.Bounces != 4 || res.Suppressed != 4 {
		t.Fatalf("got %+v, want 4 bounces suppressed", res)
	}
	check := func(email string, suppressed bool, msgState string) {
		t.Helper()
		f.with(t, func(db *store.DB) {
			why, err := store.SuppressedAmong(ctx, db.R, []string{email})
			if err != nil {
				t.Fatal(err)
			}
			if (why[email] == store.SuppressBounced) != suppressed {
				t.Errorf("%s suppressed: %q, want %v", email, why[email], suppressed)
			}
			m, err := store.GetMessage(ctx, db, f.byMail[email].ID)
			if err != nil || m.State != msgState {
				t.Errorf("%s's message is %s (%v), want %s", email, m.State, err, msgState)
			}
		})
	}
	states := f.enrollmentStates(t)
	for i := range hard {
		check(emails[i], true, store.MessageBounced)
		if states[emails[i]] != "stopped:bounced" {
			t.Errorf("%s's enrolment is %s, want stopped by the bounce", emails[i], states[emails[i]])
		}
	}
	soft := f.byMail["soft@example.net"]
	for i := 1; i <= 3; i++ {
		f.imap.deliver(t, sample(t, "dsn/postfix_delayed.eml", soft))
		f.poll(t)
		state := store.MessageSent // a delay: it may still arrive
		if i == 3 {
			state = store.MessageBounced // counted as hard
		}
		check("soft@example.net", i == 3, state)
	}
	if st := f.enrollmentStates(t); st["soft@example.net"] != "stopped:bounced" {
		t.Fatalf("after three soft bounces the enrolment is %s", st["soft@example.net"])
	}
}

// A wrong IMAP password shows on the mailbox's health, and the polls back
// off; the right one polls again at once.
func TestPoll_WrongPasswordBacksOff(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	ctx := context.Background()
	p := func(s string) *string { return &s }
	f.with(t, func(db *store.DB) {
		l, _ := f.m.Acquire(ctx, f.wsID)
		defer l.Release()
		if _, err := f.m.Service(l).UpdateMailbox(ctx, store.Actor{Kind: "system", ID: "test"}, f.mbID, store.MailboxInput{IMAPPassword: p("wrong")}); err != nil {
			t.Fatal(err)
		}
	})
	var waits []time.Duration
	for range 2 {
		res := f.poll(t)
		if res.Failed != 1 {
			t.Fatalf("got %+v, want a failed poll", res)
		}
		f.with(t, func(db *store.DB) {
			mb, err := store.GetMailbox(ctx, db, f.mbID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(mb.IMAPLastError, "refused the login") || mb.IMAPLastPollAt == nil || mb.IMAPPasswordSet != true {
				t.Fatalf("health %q at %v, want the refused login", mb.IMAPLastError, mb.IMAPLastPollAt)
			}
			waits = append(waits, time.UnixMilli(mb.IMAPNextPoll).Sub(*mb.IMAPLastPollAt))
		})
	}
	if waits[0] < 2*pollEvery-time.Second || waits[1] < 2*waits[0]-time.Second {
		t.Fatalf("waits %v: want at least %v, then twice as long", waits, 2*pollEvery)
	}
	f.with(t, func(db *store.DB) {
		mb, _ := store.GetMailbox(ctx, db, f.mbID)
		if mb.IMAPFailures != 2 {
			t.Fatalf("%d failures, want 2", mb.IMAPFailures)
		}
	})
	f.with(t, func(db *store.DB) {
		l, _ := f.m.Acquire(ctx, f.wsID)
		defer l.Release()
		if _, err := f.m.Service(l).UpdateMailbox(ctx, store.Actor{Kind: "system", ID: "test"}, f.mbID, store.MailboxInput{IMAPPassword: &f.imap.password}); err != nil {
			t.Fatal(err)
		}
	})
	if res := f.poll(t); res.Failed != 0 || res.Mailboxes != 1 {
		t.Fatalf("got %+v after the right password", res)
	}
}

// Bounce protection: a mailbox and a sequence whose bounces pass 5 % of
// their last sends (20 at least) pause themselves and say why.
func TestPoll_BounceProtectionPauses(t *testing.T) {
	var emails []string
	for i := range 25 {
		emails = append(emails, fmt.Sprintf("c%02d@example.org", i))
	}
	f := newReplyFixture(t, emails, false)
	ctx := context.Background()
	states := func() (mailbox, mbReason, sequence, seqReason string) {
		f.with(t, func(db *store.DB) {
			mb, err := store.GetMailbox(ctx, db, f.mbID)
			if err != nil {
				t.Fatal(err)
			}
			seq, err := store.GetSequence(ctx, db, f.seqID)
			if err != nil {
				t.Fatal(err)
			}
			mailbox, mbReason, sequence, seqReason = mb.State, mb.PausedReason, seq.State, seq.PausedReason
		})
		return
	}
	f.imap.deliver(t, sample(t, "dsn/postfix_hard.eml", f.byMail[emails[0]]))
	f.poll(t)
	if mb, _, seq, _ := states(); mb != store.MailboxActive || seq != store.SequenceActive {
		t.Fatalf("1 bounce of 25 (4 %%) paused: mailbox %s, sequence %s", mb, seq)
	}
	f.imap.deliver(t, sample(t, "dsn/exim_hard.eml", f.byMail[emails[1]]))
	if res := f.poll(t); res.Paused != 2 {
		t.Fatalf("got %+v, want the mailbox and the sequence paused", res)
	}
	want := "bounce protection: 2 of the last 25 sends bounced"
	if mb, mbReason, seq, seqReason := states(); mb != store.MailboxPaused || seq != store.SequencePaused || mbReason != want || seqReason != want {
		t.Fatalf("mailbox %s (%q), sequence %s (%q); want both paused saying %q", mb, mbReason, seq, seqReason, want)
	}
}

// A folder with more new messages than a poll reads is read on at once,
// not a minute later; messages naming none of ours are passed over.
func TestPoll_BacklogIsReadOnAtOnce(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	ctx := context.Background()
	for i := range 55 {
		f.imap.deliver(t, fmt.Sprintf("From: news%d@example.net\nSubject: Newsletter %d\n\nNot an answer.\n", i, i))
	}
	f.imap.deliver(t, sample(t, "inbound/reply.eml", f.byMail["ann@example.org"]))
	res := f.poll(t)
	if res.Read != 50 || res.Replies != 0 {
		t.Fatalf("first poll: %+v, want 50 read", res)
	}
	f.with(t, func(db *store.DB) {
		mb, err := store.GetMailbox(ctx, db, f.mbID)
		if err != nil {
			t.Fatal(err)
		}
		if next := time.UnixMilli(mb.IMAPNextPoll); next.After(*mb.IMAPLastPollAt) {
			t.Fatalf("the next poll is at %v, after the last one at %v: more were waiting", next, mb.IMAPLastPollAt)
		}
	})
	if at, ok, err := store.DueAt(ctx, f.m.Catalog().R, f.wsID, store.DuePoll); err != nil || !ok || at.After(f.m.now()) {
		t.Fatalf("the due index says %v, %v (%v): want the poll due now", at, ok, err)
	}
	if res := f.poll(t); res.Read != 6 || res.Replies != 1 {
		t.Fatalf("second poll: %+v, want the 6 left, the reply among them", res)
	}
}

// A bounce from where a forward took the message suppresses the address
// the ledger wrote to, found by the returned message's Message-ID.
func TestPoll_BounceAfterForward(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	ctx := context.Background()
	m := f.byMail["ann@example.org"]
	dsn := strings.ReplaceAll(sample(t, "dsn/postfix_hard.eml", m), "Final-Recipient: rfc822; "+m.ToEmail, "Final-Recipient: rfc822; ann.private@example.net")
	if !strings.Contains(dsn, "ann.private@example.net") {
		t.Fatal("the sample has no Final-Recipient to change")
	}
	f.imap.deliver(t, dsn)
	if res := f.poll(t); res.Bounces != 1 || res.Suppressed != 1 {
		t.Fatalf("got %+v", res)
	}
	f.with(t, func(db *store.DB) {
		why, err := store.SuppressedAmong(ctx, db.R, []string{"ann@example.org", "ann.private@example.net"})
		if err != nil || why["ann@example.org"] != store.SuppressBounced || why["ann.private@example.net"] != "" {
			t.Fatalf("suppressed %v (%v); want the address written to", why, err)
		}
	})
}

// A bounce of the mailbox's own mail (a Message-ID not in the ledger)
// changes nothing; one that returns no message is matched by its
// recipient.
func TestPoll_BounceMatching(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org", "bob@example.org"}, false)
	ctx := context.Background()
	ann, bob := f.byMail["ann@example.org"], f.byMail["bob@example.org"]
	own := strings.ReplaceAll(sample(t, "dsn/postfix_hard.eml", ann), ann.MessageID, "personal.1@acme.example")
	f.imap.deliver(t, own)
	if res := f.poll(t); res.Bounces != 1 || res.Suppressed != 0 {
		t.Fatalf("a bounce of the mailbox's own mail: %+v", res)
	}
	gmail := sample(t, "dsn/gmail_hard.eml", bob)
	cut := strings.Index(gmail, "--000000000000f4a7c50627f1e9b3\nContent-Type: message/rfc822")
	if cut < 0 {
		t.Fatal("the sample has no returned message to cut")
	}
	gmail = strings.Replace(gmail[:cut], "X-Original-Message-ID: <"+bob.MessageID+">\n", "", 1) + "--000000000000f4a7c50627f1e9b3--\n"
	gmail = strings.NewReplacer("References: <"+bob.MessageID+">\n", "", "In-Reply-To: <"+bob.MessageID+">\n", "").Replace(gmail)
	if strings.Contains(gmail, bob.MessageID) {
		t.Fatal("the cut sample still names the message")
	}
	f.imap.deliver(t, gmail)
	if res := f.poll(t); res.Suppressed != 1 {
		t.Fatalf("a bounce matched by its recipient: %+v", res)
	}
	f.with(t, func(db *store.DB) {
		why, err := store.SuppressedAmong(ctx, db.R, []string{ann.ToEmail, bob.ToEmail})
		if err != nil || why[ann.ToEmail] != "" || why[bob.ToEmail] != store.SuppressBounced {
			t.Fatalf("suppressed %v (%v), want bob's address only", why, err)
		}
		for m, want := range map[string]string{ann.ID: store.MessageSent, bob.ID: store.MessageBounced} {
			if got, err := store.GetMessage(ctx, db, m); err != nil || got.State != want {
				t.Fatalf("message to %s is %s (%v), want %s", got.ToEmail, got.State, err, want)
			}
		}
	})
}

// BenchmarkPoll reads 50 new automatic replies in one poll: an IMAP
// conversation with the in-memory server, then one transaction a message.
func BenchmarkPoll(b *testing.B) {
	f := newReplyFixture(b, []string{"ann@example.org"}, false)
	ooo := sample(b, "inbound/ooo.eml", f.byMail["ann@example.org"])
	const perPoll = 50
	n := 0
	for b.Loop() {
		b.StopTimer()
		for range perPoll {
			n++
			f.imap.deliver(b, strings.Replace(ooo, "Message-ID: <", fmt.Sprintf("Message-ID: <%d.", n), 1))
		}
		b.StartTimer()
		if res := f.poll(b); res.AutoReplies != perPoll {
			b.Fatalf("got %+v", res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perPoll), "µs/message")
}
