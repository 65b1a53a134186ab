package tenant

import (
	"context"
	"testing"
	"time"

	"atrium/store"
)

func catalogRollup(tb testing.TB, m *Manager, id string) *store.WorkspaceRollup {
	tb.Helper()
	rs, err := store.WorkspaceRollups(context.Background(), m.catalog.R, []string{id})
	if err != nil {
		tb.Fatal(err)
	}
	return rs[id]
}

func createDeal(tb testing.TB, m *Manager, id, value string) {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	title, cur := "Deal", "EUR"
	if _, err := store.CreateDeal(context.Background(), l.DB, store.Actor{Kind: "system", ID: "test"},
		store.DealInput{Title: &title, Value: &value, Currency: &cur}); err != nil {
		tb.Fatal(err)
	}
}

// A change is pushed by the rollup job the sweep raises, debounced: a
// second change within RollupDebounce of the push waits for it; a
// workspace nobody changed gets no job; a closing file pushes what the
// sweep had not seen.
func TestRollups_SweepJobAndDebounce(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	busy := mustCreate(t, m, "Busy")
	quiet := mustCreate(t, m, "Quiet")
	createDeal(t, m, busy.ID, "12.50")
	now := time.Now()
	m.sweepRollups(ctx, now)
	jobs := runDue(t, m, now)
	if len(jobs) != 1 || jobs[0].WorkspaceID != busy.ID || jobs[0].Kind != store.DueRollup || jobs[0].State != "done" {
		t.Fatalf("jobs: %+v", jobs)
	}
	r := catalogRollup(t, m, busy.ID)
	if r == nil || r.OpenDeals != 1 || len(r.Open) != 1 || r.Open[0].Minor != 1250 || r.StorageBytes == 0 || r.LastActivity == nil {
		t.Fatalf("pushed: %+v", r)
	}
	if catalogRollup(t, m, quiet.ID) != nil {
		t.Error("a workspace never opened was pushed")
	}

	// Nothing changed: no work.
	m.sweepRollups(ctx, now)
	if at, ok, _ := store.DueAt(ctx, m.catalog.R, busy.ID, store.DueRollup); ok {
		t.Fatalf("rollup due at %v with no change", at)
	}
	// A change right after the push waits out the debounce.
	createDeal(t, m, busy.ID, "1.00")
	m.sweepRollups(ctx, now.Add(time.Second))
	at, ok, err := store.DueAt(ctx, m.catalog.R, busy.ID, store.DueRollup)
	if err != nil || !ok || at.Before(now.Add(RollupDebounce-time.Second)) {
		t.Fatalf("due at %v (%v, %v), want a minute after the push", at, ok, err)
	}
	if jobs := runDue(t, m, now.Add(2*time.Second)); len(jobs) != 0 {
		t.Fatalf("pushed again within the debounce: %+v", jobs)
	}
	if jobs := runDue(t, m, now.Add(RollupDebounce+time.Second)); len(jobs) != 1 {
		t.Fatalf("not pushed after the debounce: %+v", jobs)
	}
	if r := catalogRollup(t, m, busy.ID); r.OpenDeals != 2 {
		t.Fatalf("after the debounce: %+v", r)
	}

	// A change the sweep has not seen is pushed when the file closes.
	createDeal(t, m, busy.ID, "2.00")
	l, err := m.Acquire(ctx, busy.ID)
	if err != nil {
		t.Fatal(err)
	}
	m.rollupClosing(busy.ID, l.DB, false)
	l.Release()
	if r := catalogRollup(t, m, busy.ID); r.OpenDeals != 3 || r.Open[0].Minor != 1550 {
		t.Fatalf("after close: %+v", r)
	}
}

// A cooled handle's change is pushed when it cools, the sweep and the
// close, which would open its writer again, skip it after that.
func TestRollups_PushedWhenCooled(t *testing.T) {
	defer func(n int) { warmIdle = n }(warmIdle)
	warmIdle = 0 // every idle handle cools at once
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Cools")
	settle := func() {
		m.cache.mu.Lock()
		e := m.cache.entries[w.ID]
		m.cache.mu.Unlock()
		e.cooling.Wait()
	}
	createDeal(t, m, w.ID, "3.00")
	settle()
	if !m.cache.isCool(w.ID) {
		t.Fatal("an idle handle past warmIdle is not cool")
	}
	if r := catalogRollup(t, m, w.ID); r == nil || r.OpenDeals != 1 {
		t.Fatalf("pushed when cooled: %+v", r)
	}
	m.sweepRollups(ctx, time.Now())
	if at, ok, _ := store.DueAt(ctx, m.catalog.R, w.ID, store.DueRollup); ok {
		t.Fatalf("rollup due at %v for a cooled handle", at)
	}
	createDeal(t, m, w.ID, "4.00")
	settle()
	if r := catalogRollup(t, m, w.ID); r.OpenDeals != 2 {
		t.Fatalf("pushed when cooled again: %+v", r)
	}
}
