package main

import (
	"context"
	"time"

	"atrium/store"
)

// retentionEvery is how often the retention job runs.
const retentionEvery = 6 * time.Hour

// runRetention applies the retention policies of the workspaces that have
// one now and then, until ctx ends.
func (m *Main) runRetention(ctx context.Context) {
	timer := time.NewTimer(time.Minute) // not in the start-up rush
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		sum, err := m.Manager.ApplyRetention(ctx, time.Now().UTC(), func(w *store.Workspace, err error) {
			m.Logger.Error("retention", "workspace", w.ID, "err", err)
		})
		if err != nil && ctx.Err() == nil {
			m.Logger.Error("retention", "err", err)
		}
		if sum.Applied > 0 || sum.Cleared > 0 || sum.Failed > 0 {
			m.Logger.Info("retention applied", "workspaces", sum.Applied, "without_policy", sum.Cleared, "failed", sum.Failed,
				"audit_events", sum.AuditEvents, "activities", sum.Activities)
		}
		timer.Reset(retentionEvery)
	}
}
