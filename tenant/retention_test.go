package tenant

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"atrium/store"
)

// runDue runs the scheduler's pass as of now and waits for its jobs.
func runDue(tb testing.TB, m *Manager, now time.Time) []*store.Job {
	tb.Helper()
	ctx := context.Background()
	ids, err := m.RunDue(ctx, now)
	if err != nil {
		tb.Fatal(err)
	}
	var jobs []*store.Job
	for _, id := range ids {
		j, err := m.jobByID(ctx, id)
		if err == nil {
			j, err = m.WaitJob(ctx, j.WorkspaceID, id)
		}
		if err != nil {
			tb.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// jobByID reads a job of any workspace; for tests.
func (m *Manager) jobByID(ctx context.Context, id string) (*store.Job, error) {
	var j store.Job
	err := m.catalog.R.GetContext(ctx, &j, `SELECT * FROM jobs WHERE id = ?`, id)
	return &j, err
}

// The retention job opens only the workspaces that have due work in the
// index: not every workspace every few hours (which also registered each
// one with Litestream and made never-opened ones replicate).
func TestRetention_RunsOnlyWhereDue(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	quiet := mustCreate(t, m, "Never opened")
	used := mustCreate(t, m, "Used, no policy")
	kept := mustCreate(t, m, "With a policy")
	addCompany(t, m, used.ID, "x")
	setPolicy := func(r store.Retention) {
		t.Helper()
		l, err := m.Acquire(ctx, kept.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		if err := m.Service(l).SetRetention(ctx, store.Actor{Kind: "system", ID: "test"}, r); err != nil {
			t.Fatal(err)
		}
	}
	setPolicy(store.Retention{AuditDays: 30})

	later := time.Now().Add(60 * 24 * time.Hour)
	jobs := runDue(t, m, later)
	if len(jobs) != 1 || jobs[0].WorkspaceID != kept.ID || jobs[0].State != store.JobDone || jobs[0].Kind != store.DueRetention {
		t.Fatalf("jobs %+v", jobs)
	}
	var run store.RetentionRun
	if err := json.Unmarshal([]byte(jobs[0].Result), &run); err != nil || run.AuditEvents == 0 {
		t.Fatalf("result %q: %v", jobs[0].Result, err)
	}
	pristine, err := store.GetWorkspace(ctx, m.Catalog().R, quiet.ID)
	if err != nil || !pristine.Pristine {
		t.Fatalf("the job opened a workspace that was never opened: %+v, %v", pristine, err)
	}
	// Applied, the policy is due again RetentionEvery later, not before.
	if at, ok, err := store.DueAt(ctx, m.Catalog().R, kept.ID, store.DueRetention); err != nil || !ok || !at.Equal(later.Add(RetentionEvery).Truncate(time.Millisecond)) {
		t.Fatalf("next due %v, %v, %v", at, ok, err)
	}
	if jobs := runDue(t, m, later.Add(time.Hour)); len(jobs) != 0 {
		t.Fatalf("ran again before it was due: %+v", jobs)
	}

	// Work due where there is no policy (as after an upgrade or a restore)
	// is looked at once, then leaves the index.
	if err := store.SetDue(ctx, m.Catalog().W, used.ID, store.DueRetention, time.Now()); err != nil {
		t.Fatal(err)
	}
	if jobs := runDue(t, m, time.Now()); len(jobs) != 1 || jobs[0].WorkspaceID != used.ID {
		t.Fatalf("jobs %+v", jobs)
	}
	if _, ok, _ := store.DueAt(ctx, m.Catalog().R, used.ID, store.DueRetention); ok {
		t.Fatal("a workspace without a policy stayed in the index")
	}
	// Removing the policy removes the work.
	setPolicy(store.Retention{})
	if jobs := runDue(t, m, time.Now().Add(365*24*time.Hour)); len(jobs) != 0 {
		t.Fatalf("after the policy was removed: %+v", jobs)
	}
}
