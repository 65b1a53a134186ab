package tenant

import (
	"context"
	"errors"
	"net/mail"
	"time"

	"atrium/outreach"
)

// systemMailTimeout bounds one system message's SMTP conversation.
const systemMailTimeout = 30 * time.Second

// ErrNoSystemMail says the config has no mail: section.
var ErrNoSystemMail = errors.New("the instance has no mail server configured")

// SystemMail reports whether the instance can send its own mail (the
// config's mail: section).
func (m *Manager) SystemMail() bool { return m.cfg.Mail != nil }

// SendSystemMail sends one plain-text message of the instance itself (a
// password reset link) through the config's mail server, not through any
// workspace's mailbox.
func (m *Manager) SendSystemMail(ctx context.Context, to mail.Address, subject, text string) error {
	mc := m.cfg.Mail
	if mc == nil {
		return ErrNoSystemMail
	}
	ctx, cancel := context.WithTimeout(ctx, systemMailTimeout)
	defer cancel()
	srv := mc.server
	srv.TLS = m.smtpTLS
	c, err := outreach.Dial(ctx, srv)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := outreach.Send(c, &outreach.Message{From: mc.from, To: to, Subject: subject, Text: text}, nil); err != nil {
		return err
	}
	return c.Quit()
}

// QueueSystemMail sends a system message in the background, tracked by the
// Manager (Close waits for it; a send cut off by Close is logged). A
// request asking for a password reset does not wait on an SMTP server:
// the answer takes the same time whether an account exists or not.
func (m *Manager) QueueSystemMail(to mail.Address, subject, text string) {
	m.goBackground(func() {
		if err := m.SendSystemMail(m.bgCtx, to, subject, text); err != nil {
			m.log.Error("cannot send a system message", "subject", subject, "err", err)
		}
	})
}
