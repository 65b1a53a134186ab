package tenant

import (
	"context"
	"html"

	"atrium/outreach"
	"atrium/store"
)

// CreateSequence adds a sequence of the workspace, as a draft.
func (s *Service) CreateSequence(ctx context.Context, a store.Actor, in store.SequenceInput) (*store.Sequence, error) {
	return store.CreateSequence(ctx, s.lease.DB, a, in)
}

// UpdateSequence changes a sequence; new steps apply to the steps its
// enrollments have not reached.
func (s *Service) UpdateSequence(ctx context.Context, a store.Actor, id string, in store.SequenceInput) (*store.Sequence, error) {
	return store.UpdateSequence(ctx, s.lease.DB, a, id, in)
}

// Enroll puts contacts into a sequence, skipping, each with its reason,
// those without an email, already in it, or on a suppression list.
func (s *Service) Enroll(ctx context.Context, a store.Actor, sequenceID string, contactIDs []string) (*store.EnrollResult, error) {
	return store.Enroll(ctx, s.lease.DB, a, sequenceID, contactIDs, s.suppressed(ctx), s.m.now())
}

// suppressed answers which addresses must not be written to, for
// enrolment.
func (s *Service) suppressed(ctx context.Context) store.SuppressedFunc {
	return func(emails []string) (map[string]string, error) { return s.suppressedReasons(ctx, emails) }
}

// suppressedReasons answers, from the suppression lists, which of the
// (lower-case) addresses must not be written to and why. The suppression
// lists are wired here, once, for enrolment and sending.
func (s *Service) suppressedReasons(ctx context.Context, emails []string) (map[string]string, error) {
	found, err := s.Suppressed(ctx, emails)
	if err != nil {
		return nil, err
	}
	for e, reason := range found {
		found[e] = store.SkipSuppressed
		if reason == store.SuppressBounced {
			found[e] = store.SkipBounced
		}
	}
	return found, nil
}

// suppress adds an address to the workspace's suppression list, which
// stops its enrollments.
func (s *Service) suppress(ctx context.Context, email, reason, detail string) error {
	_, _, err := store.AddSuppression(ctx, s.lease.DB, store.Actor{Kind: "system", ID: "sender"},
		store.SuppressionInput{Email: email, Reason: reason, Detail: detail})
	return err
}

// decorate adds to an outgoing message what every one carries: the
// List-Unsubscribe headers (RFC 2369, RFC 8058 one-click) and a visible
// unsubscribe link in each part.
func (s *Service) decorate(ctx context.Context, m *outreach.Message, e *store.DueEnrollment) error {
	url, err := s.UnsubscribeURL(ctx, e.ContactID, e.ContactEmail)
	if err != nil {
		return err
	}
	m.Headers = append(m.Headers, outreach.UnsubscribeHeaders(url)...)
	m.Text += outreach.UnsubscribeFooter(url)
	if m.HTML != "" {
		m.HTML += `<p style="font-size:12px;color:#666">To stop receiving these emails, <a href="` + html.EscapeString(url) + `">unsubscribe here</a>.</p>`
	}
	return nil
}
