package tenant

import (
	"context"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"atrium/outreach"
	"atrium/store"
)

// maxSendsPerPass bounds the messages one job of one workspace sends
// before it yields its slot: the workspaces with due steps take turns.
const maxSendsPerPass = 20

// sendYield makes a send pass rest as long as it worked (see
// outreach.Sender.Yield): two passes at once take at most one core's worth
// of a two-core machine, and the pages keep the other.
const sendYield = 1.0

// sendJob is the send kind of due work: one pass of the sender over the
// leased workspace, then the index says when its next step is due. The
// index is written inside a workspace transaction, which an enrollment or
// an activation cannot interleave with: they raise it again after.
func (m *Manager) sendJob(ctx context.Context, run *JobRun, _ time.Time) (any, error) {
	svc := m.Service(run.Lease)
	s := &outreach.Sender{DB: run.Lease.DB, Env: senderEnv{svc}, Now: m.now, TLS: m.smtpTLS, Log: m.log, MaxSends: maxSendsPerPass,
		Yield: sendYield}
	pass, err := s.Run(ctx)
	m.sent.Add(int64(pass.Sent))
	m.sendFailed.Add(int64(pass.Failed))
	if err != nil {
		return pass, err
	}
	if pass.Recovered > 0 {
		m.log.Warn("messages cut off by a stop are of unknown delivery; a person settles them", "workspace", run.Lease.ID, "messages", pass.Recovered)
	}
	id := run.Lease.ID
	err = store.NextSendDue(ctx, run.Lease.DB, func(next *time.Time) error {
		if next == nil {
			return store.ClearDue(ctx, m.catalog.W, id, store.DueSend)
		}
		return store.SetDue(ctx, m.catalog.W, id, store.DueSend, *next)
	})
	return pass, err
}

// senderEnv is the sender's view of the workspace service.
type senderEnv struct{ svc *Service }

func (e senderEnv) SendingAllowed(ctx context.Context) (time.Time, error) {
	return e.svc.SendingAllowed(ctx)
}

func (e senderEnv) CountSent() { e.svc.CountSent() }

func (e senderEnv) Password(ctx context.Context, mb *store.Mailbox) (string, error) {
	if mb.Password == "" {
		return "", nil
	}
	return e.svc.Unseal(ctx, store.MailboxPasswordPurpose(mb.ID), mb.Password)
}

func (e senderEnv) DKIM(ctx context.Context, mb *store.Mailbox) (*dkim.SignOptions, error) {
	return e.svc.dkimOptions(ctx, mb)
}

func (e senderEnv) Suppressed(ctx context.Context, email string) (string, error) {
	why, err := e.svc.suppressedReasons(ctx, []string{email})
	return why[email], err
}

func (e senderEnv) Suppress(ctx context.Context, email, reason, detail string) error {
	return e.svc.suppress(ctx, email, reason, detail)
}

func (e senderEnv) Decorate(ctx context.Context, m *outreach.Message, en *store.DueEnrollment) error {
	return e.svc.decorate(ctx, m, en)
}
