package tenant

import (
	"context"
	"sync"
	"time"

	"atrium/store"
)

// usageFlushInterval is how often counted usage is added to the catalog:
// a burst of API calls costs one catalog transaction, not one each. A crash
// forgets at most this much of the count.
const usageFlushInterval = 5 * time.Second

// usageMeter holds usage counted since the last flush to usage_daily.
type usageMeter struct {
	mu      sync.Mutex
	pending map[usageKey]int64
}

type usageKey struct{ workspaceID, day, meter string }

// CountUsage adds n to a workspace's meter (store.Meter*) for today.
func (m *Manager) CountUsage(workspaceID, meter string, n int64) {
	m.addPendingUsage(usageKey{workspaceID, store.UsageDay(m.now()), meter}, n)
}

// UsedToday returns a workspace's count of a meter for today, the part not
// yet flushed included.
func (m *Manager) UsedToday(ctx context.Context, workspaceID, meter string) (int64, error) {
	n, err := store.UsageOn(ctx, m.catalog.R, workspaceID, store.UsageDay(m.now()), meter)
	return n + m.pendingUsage(workspaceID, meter), err
}

// pendingUsage is today's count of a meter not yet flushed.
func (m *Manager) pendingUsage(workspaceID, meter string) int64 {
	m.usage.mu.Lock()
	defer m.usage.mu.Unlock()
	return m.usage.pending[usageKey{workspaceID, store.UsageDay(m.now()), meter}]
}

// flushUsage adds the pending counts to the catalog. They stay pending
// until the catalog has them, so a quota check never misses them (while
// the transaction commits it may count them twice: refusing early is the
// safe side); on failure they stay for the next flush.
func (m *Manager) flushUsage(ctx context.Context) error {
	m.usage.mu.Lock()
	counts := make([]store.UsageCount, 0, len(m.usage.pending))
	for k, n := range m.usage.pending {
		counts = append(counts, store.UsageCount{WorkspaceID: k.workspaceID, Day: k.day, Meter: k.meter, Quantity: n})
	}
	m.usage.mu.Unlock()
	if err := store.AddUsage(ctx, m.catalog, counts); err != nil {
		return err
	}
	m.usage.mu.Lock()
	for _, c := range counts {
		k := usageKey{c.WorkspaceID, c.Day, c.Meter}
		if m.usage.pending[k] -= c.Quantity; m.usage.pending[k] == 0 {
			delete(m.usage.pending, k)
		}
	}
	m.usage.mu.Unlock()
	return nil
}

func (m *Manager) addPendingUsage(k usageKey, n int64) {
	m.usage.mu.Lock()
	if m.usage.pending == nil {
		m.usage.pending = map[usageKey]int64{}
	}
	m.usage.pending[k] += n
	m.usage.mu.Unlock()
}

// usageLoop flushes counted usage until ctx ends; Close flushes the rest.
func (m *Manager) usageLoop(ctx context.Context) {
	t := time.NewTicker(usageFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.flushUsage(ctx); err != nil {
				m.log.Error("cannot record usage counts; retrying", "err", err)
			}
		}
	}
}
