package tenant

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// aheadOffset puts a clock at a weekday noon later than now: the
// mailboxes' windows are open, and whatever the code stamps with the real
// time is in its past.
func aheadOffset() time.Duration {
	now := time.Now()
	noon := time.Date(now.Year(), now.Month(), now.Day()+7, 12, 0, 0, 0, time.UTC)
	for noon.Weekday() != time.Wednesday {
		noon = noon.AddDate(0, 0, 1)
	}
	return noon.Sub(now)
}

// clockAhead is the real time moved by offset: processes given the same
// offset share one clock.
func clockAhead(offset time.Duration) func() time.Time {
	return func() time.Time { return time.Now().Add(offset) }
}

func aheadClock() func() time.Time { return clockAhead(aheadOffset()) }

// outreachWorkspace makes a workspace with a mailbox on srv, a template
// and an active one-email sequence, and enrolls n new contacts.
func outreachWorkspace(tb testing.TB, m *Manager, srv *smtptest.Server, n int) (workspaceID, sequenceID string) {
	tb.Helper()
	ctx := context.Background()
	w := mustCreate(tb, m, "Outreach")
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	svc := m.Service(l)
	a := store.Actor{Kind: "system", ID: "test"}
	p := func(s string) *string { return &s }
	mb, err := svc.CreateMailbox(ctx, a, store.MailboxInput{Name: p("Sales"), FromEmail: p("ana@acme.example"), SMTPHost: p(srv.Host),
		SMTPPort: &srv.Port, TLSMode: p("none"), Username: p(srv.Username), Password: p(srv.Password), GapMin: new(int), GapMax: new(int),
		DailyLimit: ptrInt(10000), WindowDays: &store.Weekdays{1, 2, 3, 4, 5, 6, 7}})
	if err != nil {
		tb.Fatal(err)
	}
	tp, err := store.CreateTemplate(ctx, l.DB, a, store.TemplateInput{Name: p("Intro"), Subject: p("Hi {{first_name}}"), Body: p("Hello")})
	if err != nil {
		tb.Fatal(err)
	}
	seq, err := svc.CreateSequence(ctx, a, store.SequenceInput{Name: p("Launch"), MailboxIDs: &[]string{mb.ID},
		Steps: &[]store.StepInput{{Kind: store.StepEmail, TemplateID: tp.ID}}})
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for i := range n {
		c, err := store.CreateContact(ctx, l.DB, a, store.ContactInput{FirstName: p(fmt.Sprint("P", i)), Email: p(fmt.Sprintf("p%d@example.org", i))})
		if err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := store.SetSequenceState(ctx, l.DB, a, seq.ID, store.SequenceActive); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < len(ids); i += 1000 {
		if _, err := svc.Enroll(ctx, a, seq.ID, ids[i:min(i+1000, len(ids))]); err != nil {
			tb.Fatal(err)
		}
	}
	return w.ID, seq.ID
}

func ptrInt(n int) *int { return &n }

// While serving, an enrollment's first email goes out within seconds.
func TestSend_PicksUpWhileServing(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	m := mustOpenJobManager(t, t.TempDir(), Options{Now: aheadClock()})
	m.StartScheduler()
	start := time.Now()
	wsID, _ := outreachWorkspace(t, m, srv, 3)
	for len(srv.Messages()) < 3 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d of 3 messages sent after 5 s", len(srv.Messages()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once the pass recorded them, nothing more is due for the workspace.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := store.DueAt(context.Background(), m.Catalog().R, wsID, store.DueSend)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workspace's send work stayed in the index after its last step")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A kill -9 of the server while a 500-contact sequence sends through a
// slow SMTP server, again and again, then a run to the end: no
// (enrollment, step) is delivered twice; every row ends sent, failed or
// unknown; the deliveries are the sent rows plus at most the unknown ones.
func TestSend_KilledWhileSending(t *testing.T) {
	if dir := os.Getenv("ATRIUM_TEST_KILL_SEND"); dir != "" {
		offset, _ := time.ParseDuration(os.Getenv("ATRIUM_TEST_CLOCK"))
		m, err := Open(context.Background(), Options{DataDir: dir, Now: clockAhead(offset)})
		if err != nil {
			t.Fatal(err)
		}
		m.StartScheduler()
		time.Sleep(time.Minute)
		t.Fatal("still alive")
	}
	if testing.Short() {
		t.Skip("a kill loop")
	}
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_TEST_KILL_ROUNDS")); err == nil {
		rounds = v
	}
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true, Delay: 10 * time.Millisecond})
	dir := t.TempDir()
	offset := aheadOffset()
	m := mustOpenJobManager(t, dir, Options{Now: clockAhead(offset)})
	wsID, seqID := outreachWorkspace(t, m, srv, 500)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSend_KilledWhileSending$")
		cmd.Env = append(os.Environ(), "ATRIUM_TEST_KILL_SEND="+dir, "ATRIUM_TEST_CLOCK="+offset.String())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Killed while it sends: once it delivered one more message (a
		// loaded machine starts it slowly), at a random moment after.
		before := len(srv.Messages())
		for deadline := time.Now().Add(30 * time.Second); len(srv.Messages()) == before && len(srv.Messages()) < 500 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the server did not die by SIGKILL: %v", round, err)
		}
	}
	delivered := len(srv.Messages())
	if delivered == 0 {
		t.Fatal("nothing was sent while the server was being killed: the test did not test")
	}

	// The rest, to the end, without kills, and fast.
	srv.SetDelay(0)
	m = mustOpenJobManager(t, dir, Options{Now: clockAhead(offset)})
	ctx := context.Background()
	for {
		ids, err := m.RunDue(ctx, m.now())
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if j, err := m.WaitJob(ctx, wsID, id); err != nil || j.State != store.JobDone {
				t.Fatalf("send job: %+v, %v", j, err)
			}
		}
		// Work due in a moment (a gap) is waited for; work due in an hour
		// (an unknown message waiting for a person) is not.
		at, ok, err := store.DueAt(ctx, m.Catalog().R, wsID, store.DueSend)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || at.Sub(m.now()) > time.Minute {
			break
		}
		time.Sleep(max(0, at.Sub(m.now())))
	}
	l, err := m.Acquire(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	counts := map[string]int{}
	rows := 0
	for cur := ""; ; {
		ms, next, err := store.ListMessages(ctx, l.DB, seqID, "", "", cur, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range ms {
			counts[msg.State]++
			rows++
		}
		if cur = next; cur == "" {
			break
		}
	}
	perID := map[string]int{}
	for _, msg := range srv.Messages() {
		parsed, err := mail.ReadMessage(strings.NewReader(string(msg.Data)))
		if err != nil {
			t.Fatal(err)
		}
		perID[parsed.Header.Get("Message-ID")]++
	}
	for id, n := range perID {
		if n > 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	total := len(srv.Messages())
	t.Logf("%d rounds: %d delivered during the kills, %d in all; ledger %v", rounds, delivered, total, counts)
	if rows != 500 || counts[store.MessageSent]+counts[store.MessageFailed]+counts[store.MessageUnknown] != 500 {
		t.Fatalf("%d rows, by state %v: every row must end sent, failed or unknown", rows, counts)
	}
	if total < counts[store.MessageSent] || total > counts[store.MessageSent]+counts[store.MessageUnknown] {
		t.Fatalf("%d deliveries for %d sent and %d unknown rows", total, counts[store.MessageSent], counts[store.MessageUnknown])
	}
}

// Every message carries its one-click unsubscribe link; using it stops
// the contact's enrollments; a suppressed address is not enrolled.
func TestSend_UnsubscribeAndSuppression(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	m := mustOpenJobManager(t, t.TempDir(), Options{Now: aheadClock()})
	wsID, seqID := outreachWorkspace(t, m, srv, 1)
	for len(srv.Messages()) == 0 {
		ids, err := m.RunDue(ctx, m.now())
		if err != nil || len(ids) == 0 {
			t.Fatalf("no send job: %v", err)
		}
		m.WaitJob(ctx, wsID, ids[0])
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(srv.Messages()[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	link := strings.Trim(parsed.Header.Get("List-Unsubscribe"), "<>")
	if parsed.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.Contains(link, "/u/") {
		t.Fatalf("headers %v", parsed.Header)
	}
	claim, err := m.ParseUnsubscribeToken(ctx, link[strings.LastIndex(link, "/")+1:])
	if err != nil || claim.Email != "p0@example.org" {
		t.Fatalf("claim %+v, %v", claim, err)
	}
	l, err := m.Acquire(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	svc := m.Service(l)
	// Make the enrollment active again first, as if the sequence had more
	// steps: the unsubscribe must stop it.
	if _, err := l.W.Exec(`UPDATE enrollments SET state = 'active'`); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unsubscribe(ctx, claim, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	list, _, err := store.ListEnrollments(ctx, l.DB, seqID, "", "", 10)
	if err != nil || len(list) != 1 || list[0].State != store.EnrollmentStopped || list[0].StopReason != "unsubscribed" {
		t.Fatalf("after the unsubscribe: %+v, %v", list, err)
	}
	// A new contact on the instance-wide list is not enrolled.
	a := store.Actor{Kind: "system", ID: "test"}
	c, err := store.CreateContact(ctx, l.DB, a, store.ContactInput{Email: ptrStr("blocked@example.org")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddInstanceSuppression(ctx, m.Catalog(), "test", store.SuppressionInput{Email: "blocked@example.org", Reason: store.SuppressBounced}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Enroll(ctx, a, seqID, []string{c.ID})
	if err != nil || res.Enrolled != 0 || res.Skipped[0].Reason != store.SkipBounced {
		t.Fatalf("%+v, %v", res, err)
	}
}

func ptrStr(s string) *string { return &s }
