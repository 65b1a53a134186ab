package tenant

import (
	"context"
	"time"

	"atrium/store"
)

// RetentionEvery is how often a workspace's retention policy is applied.
const RetentionEvery = 6 * time.Hour

// SetRetention saves the retention policy of the workspace and
// records in the due-work index whether the retention job has work there,
// so it opens only the workspaces that have a policy. The index is written
// inside the workspace's transaction, which the job's reading of the policy
// cannot interleave with; work is removed from it only once a run found no
// policy, so a failure leaves the job looking at a workspace, never
// skipping one.
func (s *Service) SetRetention(ctx context.Context, a store.Actor, r store.Retention) error {
	m, l := s.m, s.lease
	id := l.ID
	raise := func(hasPolicy bool) error {
		if !hasPolicy {
			return nil
		}
		return store.SetDue(ctx, m.catalog.W, id, store.DueRetention, time.Now())
	}
	if err := store.SetRetention(ctx, l.DB, a, r, raise); err != nil {
		return err
	}
	if r == (store.Retention{}) {
		return store.ClearDue(ctx, m.catalog.W, id, store.DueRetention)
	}
	return nil
}

// retentionJob applies the leased workspace's policy as of now, and
// records in the index, inside the same transaction, when it is due next
// (or that it has none: a policy being saved meanwhile waits for the
// transaction, then makes it due again).
func (m *Manager) retentionJob(ctx context.Context, run *JobRun, now time.Time) (any, error) {
	id := run.Lease.ID
	next := func(hasPolicy bool) error {
		if !hasPolicy {
			return store.ClearDue(ctx, m.catalog.W, id, store.DueRetention)
		}
		return store.SetDue(ctx, m.catalog.W, id, store.DueRetention, now.Add(RetentionEvery))
	}
	r, err := store.ApplyRetention(ctx, run.Lease.DB, store.Actor{Kind: "system", ID: "retention"}, now, next)
	if err != nil {
		return nil, err
	}
	if r.AuditEvents > 0 || r.Activities > 0 {
		m.log.Info("retention applied", "workspace", id, "audit_events", r.AuditEvents, "activities", r.Activities)
	}
	return r, nil
}
