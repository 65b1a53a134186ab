package tenant

import (
	"context"
	"time"

	"atrium/outreach"
	"atrium/store"
)

// Polling of the mailboxes' IMAP folders for replies and bounces.
const (
	// pollEvery is how often an active mailbox's folder is read.
	pollEvery = 60 * time.Second
	// pollPausedEvery is how often a paused one's is: it sends nothing,
	// but answers to what it sent still come.
	pollPausedEvery = 15 * time.Minute
	// pollBackoffCap bounds the wait after failed polls, which doubles
	// with each one from pollEvery.
	pollBackoffCap = time.Hour
	// pollBatch bounds the mailboxes one job polls, and pollBudget the
	// time it starts new ones in (a server that hangs takes up to a
	// minute): the workspace's sends wait for the job, and the next job
	// takes the rest at once.
	pollBatch  = 20
	pollBudget = 2 * time.Minute
)

// pollJob is the poll kind of due work: it reads the folders of the
// leased workspace's mailboxes whose poll is due, then the index says when
// the next one is.
func (m *Manager) pollJob(ctx context.Context, run *JobRun, now time.Time) (any, error) {
	svc := m.Service(run.Lease)
	due, err := store.MailboxesToPoll(ctx, run.Lease.DB, now, pollBatch)
	if err != nil {
		return nil, err
	}
	var done PollResult
	began := time.Now()
	for i := range due {
		if ctx.Err() != nil || time.Since(began) > pollBudget {
			break
		}
		r, err := svc.PollMailbox(ctx, &due[i])
		if err != nil {
			return done, err
		}
		done.add(r)
	}
	if err := m.reconcileIdle(ctx, run.Lease); err != nil {
		return done, err
	}
	id := run.Lease.ID
	err = store.NextPollDue(ctx, run.Lease.DB, func(next *time.Time) error {
		if next == nil {
			return store.ClearDue(ctx, m.catalog.W, id, store.DuePoll)
		}
		return store.SetDue(ctx, m.catalog.W, id, store.DuePoll, *next)
	})
	return done, err
}

// PollResult is what polls did; it is a job's result, so it holds counts,
// never workspace data.
type PollResult struct {
	Mailboxes, Failed                            int
	Read, Replies, AutoReplies, Bounces, Stopped int
	Suppressed, Paused                           int
}

func (p *PollResult) add(o PollResult) {
	p.Mailboxes += o.Mailboxes
	p.Failed += o.Failed
	p.Read += o.Read
	p.Replies += o.Replies
	p.AutoReplies += o.AutoReplies
	p.Bounces += o.Bounces
	p.Stopped += o.Stopped
	p.Suppressed += o.Suppressed
	p.Paused += o.Paused
}

// PollMailbox reads the new messages of a mailbox's folder once and acts
// on each (see store.RecordInbound); the outcome is the mailbox's IMAP
// health, and a failure makes the next poll wait longer. err is for the
// workspace's file; a server's trouble is in the health.
func (s *Service) PollMailbox(ctx context.Context, mb *store.Mailbox) (PollResult, error) {
	res := PollResult{Mailboxes: 1}
	var fileErr error // the workspace's file failed: the job fails
	read, began := 0, time.Now()
	srv, err := s.imapServer(ctx, mb)
	if err == nil {
		read, err = outreach.FetchNew(ctx, srv, outreach.Mark{Validity: uint32(mb.IMAPUIDValidity), LastUID: uint32(mb.IMAPLastUID)},
			func(msg outreach.Inbox) error {
				fileErr = s.recordInbound(ctx, mb.ID, msg, &res)
				return fileErr
			})
	}
	switch {
	case fileErr != nil:
		return res, fileErr
	case ctx.Err() != nil:
		return res, ctx.Err()
	}
	problem := ""
	if err != nil {
		problem, res.Failed = err.Error(), 1
	} else {
		s.watchIdle(mb, srv)
	}
	return res, s.recordPoll(context.WithoutCancel(ctx), mb, problem, read, began)
}

// recordPoll records a poll of a mailbox that began at began and read
// read messages, and when the next is due.
func (s *Service) recordPoll(ctx context.Context, mb *store.Mailbox, problem string, read int, began time.Time) error {
	now := s.m.now()
	next := now.Add(nextPollIn(mb, problem, s.m.IdleListening(s.lease.ID, mb)))
	if read == outreach.MaxFetchPerPoll {
		next = now // more are waiting: the next job reads on at once
	}
	if err := store.RecordPoll(ctx, s.lease.DB, mb.ID, problem, now, next); err != nil {
		return err
	}
	if s.m.idleHeardSince(s.lease.ID, mb.ID, began) {
		// Mail came while this poll ran, perhaps after it searched: the
		// watcher's poll due now was just put off.
		return store.PollNow(ctx, s.lease.DB, mb.ID, now)
	}
	return nil
}

// nextPollIn is how long until a mailbox's next poll: pollEvery when all
// went well (pollPausedEvery when it is paused, pollWatchedEvery when a
// watcher listens to it with IDLE), doubling with each failure in a row
// up to pollBackoffCap.
func nextPollIn(mb *store.Mailbox, problem string, listening bool) time.Duration {
	if problem == "" {
		switch {
		case mb.State == store.MailboxPaused:
			return pollPausedEvery
		case listening:
			return pollWatchedEvery
		}
		return pollEvery
	}
	wait := pollEvery
	for range min(mb.IMAPFailures+1, 10) {
		wait *= 2
	}
	return min(wait, pollBackoffCap)
}

// imapServer is how to reach a mailbox's IMAP server, its password
// unsealed.
func (s *Service) imapServer(ctx context.Context, mb *store.Mailbox) (outreach.IMAPServer, error) {
	if mb.IMAPPassword == "" {
		// Left behind by an import or a restore as new: a login would
		// only fail.
		return outreach.IMAPServer{}, store.FieldError("imap_password", "The account has no IMAP password: enter it on the account's page.")
	}
	password, err := s.Unseal(ctx, store.MailboxIMAPPasswordPurpose(mb.ID), mb.IMAPPassword)
	if err != nil {
		return outreach.IMAPServer{}, store.FieldError("imap_password", "The IMAP password of this mailbox cannot be read (it was kept with another key, after an import or a restore as new): enter it again.")
	}
	srv := outreach.IMAPServerOf(mb, password)
	srv.TLS = s.m.smtpTLS
	return srv, nil
}

// recordInbound classifies one message read and records it with the mark
// it reaches. A message that cannot be read at all is passed over.
func (s *Service) recordInbound(ctx context.Context, mailboxID string, msg outreach.Inbox, res *PollResult) error {
	res.Read++
	in := store.Inbound{Kind: outreach.InboundOther, ReceivedAt: s.m.now()}
	if parsed, err := outreach.ParseInbound(msg.Raw); err == nil {
		in = inboundOf(parsed, s.m.now())
	}
	out, err := store.RecordInbound(ctx, s.lease.DB, mailboxID, int64(msg.Mark.Validity), int64(msg.Mark.LastUID), in, s.m.now())
	if err != nil || out.Seen {
		return err
	}
	switch {
	case in.Kind == outreach.InboundBounce:
		res.Bounces++
	case out.ReplyID != "" && in.Kind == outreach.InboundAutoReply:
		res.AutoReplies++
	case out.ReplyID != "":
		res.Replies++
	}
	res.Stopped += int(out.Stopped)
	res.Paused += len(out.Paused)
	if out.Suppressed != "" {
		res.Suppressed++
	}
	for _, p := range out.Paused {
		s.m.log.Warn("bounce protection paused sending", "workspace", s.lease.ID, "what", p)
	}
	return nil
}

// inboundOf is what the store needs of a classified message.
func inboundOf(p *outreach.Inbound, now time.Time) store.Inbound {
	in := store.Inbound{Kind: p.Kind, MessageID: p.MessageID, FromEmail: p.From.Address, FromName: p.From.Name, Subject: p.Subject,
		Text: p.Text, Refs: p.Refs, ReceivedAt: p.Date}
	if in.ReceivedAt.IsZero() || in.ReceivedAt.After(now) {
		in.ReceivedAt = now
	}
	if b := p.Bounce; b != nil {
		in.BounceRecipient, in.BounceStatus, in.BounceDiagnostic = b.Recipient, b.Status, b.Diagnostic
		in.BounceFailed, in.BounceOriginal = b.Action == "failed", b.OriginalMessageID
	}
	return in
}

// PollMailboxNow reads a mailbox's folder at once, for a person waiting
// to see whether its IMAP settings work. problem is what the server said
// went wrong ("" when all went well); err is for a mailbox that cannot be
// polled at all.
func (s *Service) PollMailboxNow(ctx context.Context, id string) (res PollResult, problem string, err error) {
	mb, err := store.GetMailbox(ctx, s.lease.DB, id)
	if err != nil {
		return res, "", err
	}
	if !mb.PollsIMAP() {
		return res, "", store.FieldError("imap_host", "This account has no IMAP settings: enter them first.")
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if res, err = s.PollMailbox(ctx, mb); err != nil {
		return res, "", err
	}
	after, err := store.GetMailbox(ctx, s.lease.DB, id)
	if err != nil {
		return res, "", err
	}
	return res, after.IMAPLastError, nil
}
