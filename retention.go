package main

import (
	"context"
	"time"

	"atrium/store"
)

// retentionEvery is how often the retention job runs.
const retentionEvery = 6 * time.Hour

// runRetention applies every workspace's retention policy now and then,
// until ctx ends. Workspaces without a policy are left alone.
func (m *Main) runRetention(ctx context.Context) {
	timer := time.NewTimer(time.Minute) // not in the start-up rush
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		m.applyRetention(ctx)
		timer.Reset(retentionEvery)
	}
}

func (m *Main) applyRetention(ctx context.Context) {
	infos, err := m.Manager.List(ctx)
	if err != nil {
		m.Logger.Error("retention: list workspaces", "err", err)
		return
	}
	for _, w := range infos {
		if w.State != store.StateActive || ctx.Err() != nil {
			continue
		}
		lease, err := m.Manager.Acquire(ctx, w.ID)
		if err != nil {
			continue // deleted meanwhile
		}
		policy, err := store.GetRetention(ctx, lease.DB)
		if err == nil && (policy.AuditDays > 0 || policy.ActivityDays > 0) {
			var run store.RetentionRun
			run, err = store.ApplyRetention(ctx, lease.DB, store.Actor{Kind: "system", ID: "retention"}, time.Now().UTC())
			if err == nil {
				m.Logger.Info("retention applied", "workspace", w.ID, "audit_events", run.AuditEvents, "activities", run.Activities)
			}
		}
		lease.Release()
		if err != nil {
			m.Logger.Error("retention", "workspace", w.ID, "err", err)
		}
	}
}
