package tenant

import (
	"context"
	"time"

	"atrium/store"
)

// SetRetention saves the retention policy of the leased workspace and
// records in the catalog whether it has one, so the retention job opens
// only the workspaces that do. The flag is raised before a policy is saved
// and lowered after one is removed: a failure in between leaves the job
// looking at a workspace, never skipping one.
func (m *Manager) SetRetention(ctx context.Context, l *Lease, a store.Actor, r store.Retention) error {
	on := r.AuditDays > 0 || r.ActivityDays > 0
	if on {
		if err := store.SetRetentionFlag(ctx, m.catalog.W, l.Workspace.ID, true); err != nil {
			return err
		}
	}
	if err := store.SetRetention(ctx, l.DB, a, r); err != nil {
		return err
	}
	if !on {
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
	run, err := store.ApplyRetention(ctx, l.DB, store.Actor{Kind: "system", ID: "retention"}, now)
	if err == nil && run.Policy == (store.Retention{}) {
		err = store.SetRetentionFlag(ctx, m.catalog.W, l.Workspace.ID, false)
	}
	return run, err
}
