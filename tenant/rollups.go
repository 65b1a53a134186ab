package tenant

import (
	"context"
	"sync"
	"time"

	"atrium/store"
)

const (
	// RollupDebounce is the least time between two pushes of one
	// workspace's counters to the catalog: a busy workspace costs one
	// catalog write a minute, not one per change.
	RollupDebounce = time.Minute
	// rollupSweepInterval is how often the open workspaces' counters are
	// looked at for changes (one point query per open handle).
	rollupSweepInterval = 15 * time.Second
)

// rollupTracker knows the open workspace files and what of their counters
// the catalog has. Only open files change (every write holds a lease), so
// a sweep of them, plus a last look when one closes, sees every change
// without a catalog write per request.
type rollupTracker struct {
	mu     sync.Mutex
	open   map[string]*store.DB
	seen   map[string][3]int64 // signature the sweep last acted on
	pushed map[string]time.Time
}

// rollupOpened is called when a workspace's file opens.
func (m *Manager) rollupOpened(id string, db *store.DB) {
	t := &m.rollups
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open, t.seen, t.pushed = map[string]*store.DB{}, map[string][3]int64{}, map[string]time.Time{}
	}
	t.open[id] = db
}

// rollupClosing is called before a workspace's file closes: a change the
// sweep has not acted on yet is pushed now, from the file still open, so
// the rollup job need not open it again.
func (m *Manager) rollupClosing(id string, db *store.DB, cooled bool) {
	t := &m.rollups
	t.mu.Lock()
	delete(t.open, id)
	t.mu.Unlock()
	if !cooled { // else looked at when cooled, and unchanged since
		m.rollupLook(id, db)
	}
}

// rollupLook pushes a change of the workspace's counters the sweep has not
// acted on yet, from its file, open.
func (m *Manager) rollupLook(id string, db *store.DB) {
	t := &m.rollups
	t.mu.Lock()
	seen, ok := t.seen[id]
	t.mu.Unlock()
	ctx := context.Background()
	sig, err := store.RollupSignature(ctx, db)
	if err != nil || (ok && sig == seen) {
		return
	}
	if err := m.pushRollup(ctx, id, db, m.now()); err != nil {
		m.log.Error("cannot push a closing workspace's counters; the rollup job will", "workspace", id, "err", err)
		m.raiseRollup(ctx, id, m.now())
	}
}

// sweepRollups raises the rollup job of each open workspace whose counters
// changed since the sweep last looked, no sooner than RollupDebounce after
// its last push.
func (m *Manager) sweepRollups(ctx context.Context, now time.Time) {
	t := &m.rollups
	t.mu.Lock()
	open := make(map[string]*store.DB, len(t.open))
	for id, db := range t.open {
		open[id] = db
	}
	t.mu.Unlock()
	for id, db := range open {
		if m.cache.isCool(id) {
			continue // looked at when cooled (see coolWorkspace)
		}
		sig, err := store.RollupSignature(ctx, db)
		if err != nil {
			continue // closed meanwhile: rollupClosing looked at it
		}
		t.mu.Lock()
		changed := t.seen[id] != sig
		if _, ok := t.seen[id]; !ok {
			changed = true // first look since this process started
		}
		at := now
		if next := t.pushed[id].Add(RollupDebounce); next.After(now) {
			at = next
		}
		if changed {
			t.seen[id] = sig
		}
		t.mu.Unlock()
		if changed {
			m.raiseRollup(ctx, id, at)
		}
	}
}

// raiseRollup makes the workspace's rollup job due at at.
func (m *Manager) raiseRollup(ctx context.Context, id string, at time.Time) {
	if err := m.raiseDue(id)(ctx, store.DueRollup, at); err != nil {
		m.log.Error("cannot schedule a rollup push", "workspace", id, "err", err)
	}
}

// rollupJob is the due work store.DueRollup: it pushes the workspace's
// counters to the catalog.
func (m *Manager) rollupJob(ctx context.Context, run *JobRun, now time.Time) (any, error) {
	id := run.Lease.ID
	// Cleared first: a change after the reading below raises it again.
	if err := store.ClearDue(ctx, m.catalog.W, id, store.DueRollup); err != nil {
		return nil, err
	}
	if err := m.pushRollup(ctx, id, run.Lease.DB, m.now()); err != nil {
		return nil, err
	}
	return nil, nil
}

// pushRollup reads the workspace's counters and stores them in the
// catalog, with the day's high-water marks of the metered levels.
func (m *Manager) pushRollup(ctx context.Context, id string, db *store.DB, now time.Time) error {
	r, err := store.ReadRollup(ctx, db.W, now)
	if err != nil {
		return err
	}
	size := dbFileBytes(db.Path) // this file only, once per push
	if err := store.PushRollup(ctx, m.catalog, id, r, size, now); err != nil {
		return err
	}
	members, err := store.MemberCount(ctx, m.catalog.R, id)
	if err != nil {
		return err
	}
	if err := store.RaiseHighWater(ctx, m.catalog.W, id, store.UsageDay(now), map[string]int64{
		store.MeterSeats: members, store.MeterContacts: r.Contacts, store.MeterStorage: size,
	}); err != nil {
		return err
	}
	t := &m.rollups
	t.mu.Lock()
	if t.seen != nil {
		t.seen[id], t.pushed[id] = r.Signature(), now
	}
	t.mu.Unlock()
	return nil
}

// rollupLoop sweeps the open workspaces' counters and closes finished
// days of the usage ledger until ctx ends.
func (m *Manager) rollupLoop(ctx context.Context) {
	t := time.NewTicker(rollupSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sweepRollups(ctx, m.now())
			if err := m.CloseUsageDays(ctx, m.now()); err != nil && ctx.Err() == nil {
				m.log.Error("cannot close the usage ledger's days", "err", err)
			}
		}
	}
}

// PushRollups pushes the counters of the given open or openable
// workspaces now, bypassing the debounce: for commands and tests.
func (m *Manager) PushRollups(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		l, err := m.Acquire(ctx, id)
		if err != nil {
			return err
		}
		err = m.pushRollup(ctx, id, l.DB, m.now())
		l.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
