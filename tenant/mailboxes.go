package tenant

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"atrium/outreach"
	"atrium/store"
)

// checkTimeout bounds a connection check or a test message, which a
// person waits for.
const checkTimeout = 30 * time.Second

// sealer seals mailbox secrets (the password, the DKIM key) with the
// workspace's key, each for its purpose.
func (s *Service) sealer(ctx context.Context) store.SealFunc {
	return func(purpose, secret string) (string, error) {
		return s.Seal(ctx, purpose, secret)
	}
}

// CreateMailbox adds a sending account; its password is sealed with the
// workspace's key before it reaches the file.
func (s *Service) CreateMailbox(ctx context.Context, a store.Actor, in store.MailboxInput) (*store.Mailbox, error) {
	return store.CreateMailbox(ctx, s.lease.DB, a, in, s.sealer(ctx))
}

// UpdateMailbox changes a sending account; an empty password keeps the
// one set.
func (s *Service) UpdateMailbox(ctx context.Context, a store.Actor, id string, in store.MailboxInput) (*store.Mailbox, error) {
	return store.UpdateMailbox(ctx, s.lease.DB, a, id, in, s.sealer(ctx))
}

// mailboxServer reads a mailbox and how to reach its server.
func (s *Service) mailboxServer(ctx context.Context, id string) (*store.Mailbox, outreach.Server, error) {
	mb, err := store.GetMailbox(ctx, s.lease.DB, id)
	if err != nil {
		return nil, outreach.Server{}, err
	}
	password := ""
	if mb.Password != "" {
		if password, err = s.Unseal(ctx, store.MailboxPasswordPurpose(id), mb.Password); err != nil {
			return nil, outreach.Server{}, store.FieldError("password", "The password of this mailbox cannot be read (it was kept with another key, after an import or a restore as new): enter it again.")
		}
	}
	srv := outreach.ServerOf(mb, password)
	srv.TLS = s.m.smtpTLS
	return mb, srv, nil
}

// CheckMailbox logs in to a mailbox's server and records the outcome as
// its health. problem is what went wrong, in the server's words when it
// said something ("" when all went well); err is for a mailbox that
// cannot be checked at all.
func (s *Service) CheckMailbox(ctx context.Context, id string) (problem string, err error) {
	_, srv, err := s.mailboxServer(ctx, id)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	return s.recordHealth(ctx, id, outreach.Check(ctx, srv))
}

// SendTestEmail sends a short message from a mailbox to the address to,
// and records the outcome as its health, as CheckMailbox does.
func (s *Service) SendTestEmail(ctx context.Context, id, to string) (problem string, err error) {
	mb, srv, err := s.mailboxServer(ctx, id)
	if err != nil {
		return "", err
	}
	if _, err := mail.ParseAddress(to); err != nil || strings.TrimSpace(to) == "" {
		return "", store.FieldError("to", "Give the address to send the test message to, such as you@example.com.")
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	sign, err := s.dkimOptions(ctx, mb)
	if err != nil {
		return "", err
	}
	return s.recordHealth(ctx, id, outreach.SendTest(ctx, srv, mb, to, sign))
}

// dkimOptions are the DKIM signing options of a mailbox, its key unsealed;
// nil when it has none.
func (s *Service) dkimOptions(ctx context.Context, mb *store.Mailbox) (*dkim.SignOptions, error) {
	if mb.DKIMKey == "" {
		return nil, nil
	}
	keyPEM, err := s.Unseal(ctx, store.MailboxDKIMPurpose(mb.ID), mb.DKIMKey)
	if err != nil {
		return nil, store.FieldError("dkim_private_key", "The DKIM key of this mailbox cannot be read (it was kept with another key, after an import or a restore as new): paste it again or generate a new one.")
	}
	return outreach.DKIMOptions(mb, keyPEM)
}

// recordHealth keeps the outcome of a conversation with a mailbox's
// server.
func (s *Service) recordHealth(ctx context.Context, id string, outcome error) (string, error) {
	problem := ""
	if outcome != nil {
		problem = outcome.Error()
	}
	err := store.RecordMailboxHealth(context.WithoutCancel(ctx), s.lease.DB, id, problem, time.Now())
	return problem, err
}
