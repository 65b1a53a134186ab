package tenant

import (
	"context"
	"time"

	"atrium/store"
)

const (
	// DefaultScheduleInterval is how often the scheduler looks for due
	// work (a step due now also wakes it at once): one query of the
	// catalog's index, a fraction of a millisecond.
	DefaultScheduleInterval = 2 * time.Second
	// dueBatch bounds the work one pass of the scheduler starts.
	dueBatch = 100
	// dueRetry is how long work that failed waits before it is tried again.
	dueRetry = time.Hour
)

// dueKind is background work of one kind that the scheduler starts when the
// due-work index says a workspace has it.
type dueKind struct {
	run func(ctx context.Context, run *JobRun, now time.Time) (any, error)
	// rebuild makes the index right again for this kind after the catalog
	// was restored from a replica that may lag the workspace files.
	rebuild func(ctx context.Context, now time.Time) error
}

// dueKinds are the kinds of due work, by store.Due* name.
func (m *Manager) dueKinds() map[string]dueKind {
	return map[string]dueKind{
		store.DueSend: {
			run: m.sendJob,
			// Which workspaces have enrollments going is in their files:
			// each is looked at once, and its pass sets the index right.
			rebuild: func(ctx context.Context, now time.Time) error {
				return store.SetDueForAll(ctx, m.catalog.W, store.DueSend, now)
			},
		},
		store.DuePoll: {
			run: m.pollJob,
			// Which mailboxes read a folder is in the files: each is
			// looked at once, and its job sets the index right.
			rebuild: func(ctx context.Context, now time.Time) error {
				return store.SetDueForAll(ctx, m.catalog.W, store.DuePoll, now)
			},
		},
		store.DueRollup: {
			run: m.rollupJob,
			// Counters are in the files: each pushes its own once.
			rebuild: func(ctx context.Context, now time.Time) error {
				return store.SetDueForAll(ctx, m.catalog.W, store.DueRollup, now)
			},
		},
		store.DueRetention: {
			run: m.retentionJob,
			// The retention job finds a policy in the file, or removes the
			// work: looking at every workspace once is the rebuild.
			rebuild: func(ctx context.Context, now time.Time) error {
				return store.SetDueForAll(ctx, m.catalog.W, store.DueRetention, now)
			},
		},
	}
}

// raiseDue is a workspace handle's OnDue: it records work due in the
// catalog's index, and wakes the scheduler when the work is due now.
func (m *Manager) raiseDue(workspaceID string) func(ctx context.Context, kind string, at time.Time) error {
	return func(ctx context.Context, kind string, at time.Time) error {
		if err := store.RaiseDue(ctx, m.catalog.W, workspaceID, kind, at); err != nil {
			return err
		}
		if !at.After(m.now()) {
			m.wake()
		}
		return nil
	}
}

// wake makes the scheduler look for due work at once.
func (m *Manager) wake() {
	select {
	case m.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// rebuildDue makes the due-work index right again after the catalog was
// restored.
func (m *Manager) rebuildDue(ctx context.Context) error {
	for _, k := range m.dueKinds() {
		if err := k.rebuild(ctx, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// StartScheduler starts the scheduler: every interval it starts a job for
// each piece of work due. The server runs it; commands do not.
func (m *Manager) StartScheduler() {
	m.goBackground(func() {
		t := time.NewTicker(m.scheduleInterval)
		defer t.Stop()
		for {
			// At once on start: work due while the server was down waits
			// no longer.
			if _, err := m.RunDue(m.bgCtx, m.now()); err != nil && m.bgCtx.Err() == nil {
				m.log.Error("scheduler", "err", err)
			}
			select {
			case <-m.bgCtx.Done():
				return
			case <-t.C:
			case <-m.kick:
			}
		}
	})
}

// RunDue starts a job for each piece of work due by now, reading only the
// catalog, and returns the ids of the jobs. Work whose job is still queued
// or running is not started again. Work that fails is tried again after
// dueRetry.
func (m *Manager) RunDue(ctx context.Context, now time.Time) ([]string, error) {
	due, err := store.DueWork(ctx, m.catalog.R, now, dueBatch)
	if err != nil {
		return nil, err
	}
	kinds := m.dueKinds()
	var ids []string
	for _, d := range due {
		k, ok := kinds[d.Kind]
		if !ok {
			m.log.Warn("due work of an unknown kind", "workspace", d.WorkspaceID, "kind", d.Kind)
			continue
		}
		id, err := m.StartJob(ctx, JobSpec{Kind: d.Kind, WorkspaceID: d.WorkspaceID, CreatedBy: "system:scheduler", Unique: true,
			Run: func(ctx context.Context, run *JobRun) (any, error) {
				res, err := k.run(ctx, run, now)
				if err != nil && ctx.Err() == nil {
					m.retryDue(d, now)
				}
				return res, err
			}})
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// retryDue puts failed work back in the index for later, unless it was
// removed or moved meanwhile.
func (m *Manager) retryDue(d store.Due, now time.Time) {
	ctx := context.Background()
	at, ok, err := store.DueAt(ctx, m.catalog.R, d.WorkspaceID, d.Kind)
	if err != nil || !ok || at.After(d.DueAt) {
		return
	}
	if err := store.SetDue(ctx, m.catalog.W, d.WorkspaceID, d.Kind, now.Add(dueRetry)); err != nil {
		m.log.Error("cannot put failed work back in the due index", "workspace", d.WorkspaceID, "kind", d.Kind, "err", err)
	}
}
