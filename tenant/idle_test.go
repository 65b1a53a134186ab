package tenant

import (
	"context"
	"fmt"
	"testing"
	"time"

	"atrium/store"
)

// waitFor waits for cond, at most within: the watchers answer a server's
// words on their own goroutines, on a machine that may be loaded.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening says whether a watcher listens to the mailbox now.
func (f *replyFixture) listening(mailboxID string) bool {
	f.m.idle.mu.Lock()
	defer f.m.idle.mu.Unlock()
	w := f.m.idle.byKey[idleKey(f.wsID, mailboxID)]
	return w != nil && w.listening.Load()
}

// watcher returns the mailbox's watcher, nil without one.
func (f *replyFixture) watcher(mailboxID string) *idleWatcher {
	f.m.idle.mu.Lock()
	defer f.m.idle.mu.Unlock()
	return f.m.idle.byKey[idleKey(f.wsID, mailboxID)]
}

// openIMAP is how many connections the IMAP server has open.
func (f *replyFixture) openIMAP() int64 { return f.imap.conns.open.Load() }

// addMailbox adds a mailbox that reads the same IMAP account and sends
// for no sequence.
func (f *replyFixture) addMailbox(t *testing.T, name string) string {
	t.Helper()
	var id string
	p := func(s string) *string { return &s }
	f.withService(t, func(svc *Service) {
		mb, err := svc.CreateMailbox(context.Background(), store.Actor{Kind: "system", ID: "test"}, store.MailboxInput{Name: p(name),
			FromEmail: p("support@acme.example"), SMTPHost: p("127.0.0.1"), SMTPPort: ptrInt(2525), TLSMode: p("none"),
			IMAPHost: p(f.imap.host), IMAPPort: &f.imap.port, IMAPTLS: p("none"), IMAPUsername: p(f.imap.username),
			IMAPPassword: p(f.imap.password)})
		if err != nil {
			t.Fatal(err)
		}
		id = mb.ID
	})
	return id
}

func (f *replyFixture) withService(t *testing.T, fn func(svc *Service)) {
	t.Helper()
	l, err := f.m.Acquire(context.Background(), f.wsID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	fn(f.m.Service(l))
}

func (f *replyFixture) mailbox(t *testing.T, id string) *store.Mailbox {
	t.Helper()
	var mb *store.Mailbox
	f.with(t, func(db *store.DB) {
		var err error
		if mb, err = store.GetMailbox(context.Background(), db, id); err != nil {
			t.Fatal(err)
		}
	})
	return mb
}

// A reply that arrives while the mailbox is listened to stops the
// enrolment within seconds, though the next poll is an hour away: the
// watcher made it due, the scheduler ran it. Listened to, the mailbox is
// polled every pollWatchedEvery only.
func TestIdle_ReplyRecordedWithoutWaitingForThePoll(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org", "bob@example.org"}, false)
	ctx := context.Background()
	f.poll(t) // goes well: the watcher starts
	waitFor(t, 15*time.Second, "the watcher listens", func() bool { return f.listening(f.mbID) })

	later := f.m.now().Add(time.Hour)
	f.with(t, func(db *store.DB) {
		if _, err := db.W.Exec(`UPDATE mailboxes SET imap_next_poll = ?`, later.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	})
	if err := store.SetDue(ctx, f.m.Catalog().W, f.wsID, store.DuePoll, later); err != nil {
		t.Fatal(err)
	}
	f.m.StartScheduler()
	f.imap.deliver(t, sample(t, "inbound/reply.eml", f.byMail["ann@example.org"]))
	waitFor(t, 15*time.Second, "the reply stopped the enrolment", func() bool {
		return f.enrollmentStates(t)["ann@example.org"] == "stopped:replied"
	})
	if st := f.enrollmentStates(t); st["bob@example.org"] != "active" {
		t.Fatalf("enrolments %v: only ann's was answered", st)
	}
	mb := f.mailbox(t, f.mbID)
	if mb.IMAPLastUID != 1 {
		t.Fatalf("the high-water mark is at %d, want the poll's 1", mb.IMAPLastUID)
	}
	// The watcher may note the arrival after the poll it caused began
	// (a loaded machine): that poll then leaves one more due at once,
	// which settles on the watched pace.
	waitFor(t, 15*time.Second, "the next poll is a watched mailbox's", func() bool {
		mb := f.mailbox(t, f.mbID)
		return time.UnixMilli(mb.IMAPNextPoll).Sub(*mb.IMAPLastPollAt) >= pollWatchedEvery-time.Second
	})
}

// A watcher follows its mailbox: new settings replace it, a pause and a
// deletion end it (the poll job that each change makes due decides),
// closing its connection.
func TestIdle_WatcherFollowsMailboxChanges(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	ctx := context.Background()
	a := store.Actor{Kind: "system", ID: "test"}
	other := f.addMailbox(t, "Support")
	f.poll(t)
	waitFor(t, 15*time.Second, "both mailboxes are listened to", func() bool {
		return f.listening(f.mbID) && f.listening(other) && f.openIMAP() == 2
	})

	if err := f.imap.user.Create("Archive", nil); err != nil {
		t.Fatal(err)
	}
	before := f.watcher(f.mbID)
	archive := "Archive"
	f.withService(t, func(svc *Service) {
		if _, err := svc.UpdateMailbox(ctx, a, f.mbID, store.MailboxInput{IMAPFolder: &archive}); err != nil {
			t.Fatal(err)
		}
	})
	f.poll(t)
	waitFor(t, 15*time.Second, "a new watcher listens to Archive, the old one's connection closed", func() bool {
		w := f.watcher(f.mbID)
		return w != nil && w != before && w.fingerprint == imapFingerprint(f.mailbox(t, f.mbID)) && w.listening.Load() && f.openIMAP() == 2
	})

	// Settings that fail: the old watcher ends all the same, and none
	// listens until they are right again.
	for _, password := range []string{"wrong", f.imap.password} {
		f.withService(t, func(svc *Service) {
			if _, err := svc.UpdateMailbox(ctx, a, f.mbID, store.MailboxInput{IMAPPassword: &password}); err != nil {
				t.Fatal(err)
			}
		})
		f.poll(t)
		if password == "wrong" {
			if f.watcher(f.mbID) != nil {
				t.Fatal("a watcher listens with settings that are no longer the mailbox's")
			}
			waitFor(t, 15*time.Second, "the old settings' connection closed", func() bool { return f.openIMAP() == 1 })
		}
	}
	waitFor(t, 15*time.Second, "the right password is listened with", func() bool { return f.listening(f.mbID) })

	paused := store.MailboxPaused
	f.withService(t, func(svc *Service) {
		if _, err := svc.UpdateMailbox(ctx, a, f.mbID, store.MailboxInput{State: &paused}); err != nil {
			t.Fatal(err)
		}
	})
	f.poll(t)
	if f.watcher(f.mbID) != nil {
		t.Fatal("a paused mailbox is still listened to")
	}
	waitFor(t, 15*time.Second, "the paused mailbox's connection closed", func() bool { return f.openIMAP() == 1 })

	f.with(t, func(db *store.DB) {
		if err := store.DeleteMailbox(ctx, db, a, other); err != nil {
			t.Fatal(err)
		}
	})
	f.poll(t)
	if f.watcher(other) != nil {
		t.Fatal("a deleted mailbox is still listened to")
	}
	waitFor(t, 15*time.Second, "the deleted mailbox's connection closed", func() bool { return f.openIMAP() == 0 })
	// The next polls, paused, start nothing again.
	f.poll(t)
	if n := f.m.idle.running(); n != 0 {
		t.Fatalf("%d watchers run after the polls of a paused mailbox", n)
	}
}

// A trashed workspace's watchers end at the next sweep: no poll job runs
// for it, and the trash did not wait for them (they hold no lease).
func TestIdle_TrashEndsWatchers(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	ctx := context.Background()
	f.poll(t)
	waitFor(t, 15*time.Second, "the watcher listens", func() bool { return f.listening(f.mbID) })
	if _, err := f.m.Trash(ctx, f.wsID, "test"); err != nil {
		t.Fatal(err)
	}
	f.m.sweepIdle(ctx)
	if n := f.m.idle.running(); n != 0 {
		t.Fatalf("%d watchers run for a trashed workspace", n)
	}
	waitFor(t, 15*time.Second, "the connection closed", func() bool { return f.openIMAP() == 0 })
}

// Close ends the watchers, their connections closed, and returns.
func TestIdle_CloseEndsWatchers(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	other := f.addMailbox(t, "Support")
	f.poll(t)
	waitFor(t, 15*time.Second, "both mailboxes are listened to", func() bool { return f.listening(f.mbID) && f.listening(other) })
	closed := make(chan error, 1)
	go func() { closed <- f.m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close hangs with watchers running")
	}
	if n := f.m.idle.running(); n != 0 {
		t.Fatalf("%d watchers left after Close", n)
	}
	waitFor(t, 15*time.Second, "the connections closed", func() bool { return f.openIMAP() == 0 })
}

// Beyond MaxIdleWatchers a mailbox is polled every pollEvery, as without
// IDLE.
func TestIdle_BoundOnWatchers(t *testing.T) {
	f := newReplyFixtureWith(t, Options{MaxIdleWatchers: 1}, []string{"ann@example.org"}, false)
	other := f.addMailbox(t, "Support")
	f.poll(t)
	waitFor(t, 15*time.Second, "one mailbox is listened to", func() bool { return f.listening(f.mbID) || f.listening(other) })
	f.poll(t)
	if n := f.m.idle.running(); n != 1 {
		t.Fatalf("%d watchers run, want the bound's 1", n)
	}
	if n := f.openIMAP(); n != 1 {
		t.Fatalf("%d connections open, want the one watcher's", n)
	}
	var waits []time.Duration
	for _, id := range []string{f.mbID, other} {
		mb := f.mailbox(t, id)
		waits = append(waits, time.UnixMilli(mb.IMAPNextPoll).Sub(*mb.IMAPLastPollAt).Round(time.Second))
	}
	if min(waits[0], waits[1]) != pollEvery || max(waits[0], waits[1]) != pollWatchedEvery {
		t.Fatalf("next polls in %v: want one listened to (%v), one polled (%v)", waits, pollWatchedEvery, pollEvery)
	}
}

// A watcher whose connection drops makes the poll due at once (it is no
// longer relaxed: what comes meanwhile is the poll's) and tries again
// later; it is not forgotten.
func TestIdle_DroppedConnectionFallsBackToThePoll(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	f.poll(t)
	waitFor(t, 15*time.Second, "the watcher listens", func() bool { return f.listening(f.mbID) })
	later := f.m.now().Add(time.Hour)
	f.with(t, func(db *store.DB) {
		if _, err := db.W.Exec(`UPDATE mailboxes SET imap_next_poll = ?`, later.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	})
	f.imap.conns.dropAll()
	waitFor(t, 15*time.Second, "the poll is due now", func() bool {
		return time.UnixMilli(f.mailbox(t, f.mbID).IMAPNextPoll).Before(later.Add(-time.Minute)) // the file keeps milliseconds
	})
	if w := f.watcher(f.mbID); w == nil || w.listening.Load() {
		t.Fatalf("watcher %+v: want it waiting to connect again", w)
	}
	if res := f.poll(t); res.Mailboxes != 1 {
		t.Fatalf("got %+v", res)
	}
	mb := f.mailbox(t, f.mbID)
	if wait := time.UnixMilli(mb.IMAPNextPoll).Sub(*mb.IMAPLastPollAt).Round(time.Second); wait != pollEvery {
		t.Fatalf("the next poll is %v after the last, want %v while the watcher is away", wait, pollEvery)
	}
}

// The wait before connecting again doubles up to a cap, and starts over
// after a connection that lasted.
func TestIdleRetryAfter(t *testing.T) {
	var waits []time.Duration
	wait := time.Duration(0)
	for range 9 {
		wait = idleRetryAfter(wait, time.Second)
		waits = append(waits, wait)
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		30 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if got := idleRetryAfter(idleRetryCap, idleHealthy); got != idleRetryMin {
		t.Fatalf("after a connection that lasted %v: %v, want %v", idleHealthy, got, idleRetryMin)
	}
}

// Mail heard while a poll runs (perhaps after it searched the folder)
// leaves the next poll due at once, not put off by the poll's record;
// mail heard before it began does not.
func TestIdle_MailHeardDuringAPollIsNotPutOff(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	f.poll(t)
	waitFor(t, 15*time.Second, "the watcher listens", func() bool { return f.listening(f.mbID) })
	f.imap.deliver(t, "From: news@example.net\nSubject: News\n\nNot an answer.\n")
	waitFor(t, 15*time.Second, "the watcher heard it", func() bool { return f.watcher(f.mbID).heard.Load() != 0 })
	f.poll(t)
	mb := f.mailbox(t, f.mbID)
	if wait := time.UnixMilli(mb.IMAPNextPoll).Sub(*mb.IMAPLastPollAt); wait < pollWatchedEvery-time.Second {
		t.Fatalf("the next poll is %v after one that read what was heard before it, want %v", wait, pollWatchedEvery)
	}
	// As if the server announced a message between the poll's search
	// and its record.
	f.watcher(f.mbID).heard.Store(time.Now().Add(time.Hour).UnixNano())
	f.poll(t)
	mb = f.mailbox(t, f.mbID)
	if next := time.UnixMilli(mb.IMAPNextPoll); next.After(*mb.IMAPLastPollAt) {
		t.Fatalf("the next poll is at %v, after the last at %v: mail heard during it waits", next, mb.IMAPLastPollAt)
	}
}

// After a restart the first poll listens again.
func TestIdle_RestartListensAgain(t *testing.T) {
	f := newReplyFixture(t, []string{"ann@example.org"}, false)
	f.poll(t)
	waitFor(t, 15*time.Second, "the watcher listens", func() bool { return f.listening(f.mbID) })
	if err := f.m.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the connection closed", func() bool { return f.openIMAP() == 0 })
	f.m = mustOpenJobManager(t, f.dir, Options{Now: aheadClock()})
	if res := f.poll(t); res.Mailboxes != 1 {
		t.Fatalf("got %+v, want the mailbox polled", res)
	}
	waitFor(t, 15*time.Second, "the watcher listens again", func() bool { return f.listening(f.mbID) && f.openIMAP() == 1 })
}
