package tenant

import (
	"context"
	"time"

	"atrium/store"
)

// SetRetention saves the retention policy of the leased workspace and
// records in the catalog whether it has one, so the retention job opens
// only the workspaces that do. The flag is raised inside the workspace's
// transaction, which the job's reading of the policy cannot interleave
// with; it is lowered only once a removal committed, so a failure leaves
// the job looking at a workspace, never skipping one.
func (m *Manager) SetRetention(ctx context.Context, l *Lease, a store.Actor, r store.Retention) error {
	raise := func(hasPolicy bool) error {
		if !hasPolicy {
			return nil
		}
		return store.SetRetentionFlag(ctx, m.catalog.W, l.Workspace.ID, true)
	}
	if err := store.SetRetention(ctx, l.DB, a, r, raise); err != nil {
		return err
	}
	if r == (store.Retention{}) {
		return store.SetRetentionFlag(ctx, m.catalog.W, l.Workspace.ID, false)
	}
	return nil
}

// RetentionSummary is what one pass of the retention job did.
type RetentionSummary struct {
	Applied     int   // workspaces whose policy ran
	Cleared     int   // workspaces found to have no policy, no longer looked at
	Failed      int   // workspaces that could not be opened or cleaned
	AuditEvents int64 // deleted, in all
	Activities  int64 // deleted, in all
}

// ApplyRetention applies, as of now, the retention policy of every active
// workspace that may have one. A workspace that turns out to have none is
// flagged so the next passes skip it. fail, when set, hears of each error.
func (m *Manager) ApplyRetention(ctx context.Context, now time.Time, fail func(w *store.Workspace, err error)) (RetentionSummary, error) {
	var sum RetentionSummary
	ws, err := store.WorkspacesWithRetention(ctx, m.catalog.R)
	if err != nil {
		return sum, err
	}
	for i := range ws {
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		l, err := m.Acquire(ctx, ws[i].ID)
		if store.ErrorCode(err) == store.ENotFound {
			continue // deleted or trashed meanwhile
		}
		var run store.RetentionRun
		if err == nil {
			run, err = m.applyRetention(ctx, l, now)
			l.Release()
		}
		switch {
		case err != nil:
			sum.Failed++
			if fail != nil {
				fail(&ws[i], err)
			}
		case run.Policy == store.Retention{}:
			sum.Cleared++
		default:
			sum.Applied++
			sum.AuditEvents += run.AuditEvents
			sum.Activities += run.Activities
		}
	}
	return sum, nil
}

// applyRetention applies the leased workspace's policy, or flags it as
// having none.
func (m *Manager) applyRetention(ctx context.Context, l *Lease, now time.Time) (store.RetentionRun, error) {
	// Lowered inside the transaction that found no policy: a policy being
	// saved meanwhile waits for it, then raises the flag again.
	lower := func(hasPolicy bool) error {
		if hasPolicy {
			return nil
		}
		return store.SetRetentionFlag(ctx, m.catalog.W, l.Workspace.ID, false)
	}
	return store.ApplyRetention(ctx, l.DB, store.Actor{Kind: "system", ID: "retention"}, now, lower)
}
