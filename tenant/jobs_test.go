package tenant

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"atrium/store"
)

func mustOpenJobManager(tb testing.TB, dir string, opts Options) *Manager {
	tb.Helper()
	opts.DataDir = dir
	m, err := Open(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func mustStartJob(tb testing.TB, m *Manager, spec JobSpec) string {
	tb.Helper()
	id, err := m.StartJob(context.Background(), spec)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// concurrency counts the jobs running at once, overall and per workspace.
type concurrency struct {
	mu        sync.Mutex
	now, peak int
	perWS     map[string]int
	peakWS    int
}

func (c *concurrency) job(hold time.Duration) func(context.Context, *JobRun) (any, error) {
	return func(ctx context.Context, run *JobRun) (any, error) {
		ws := ""
		if run.Lease != nil {
			ws = run.Lease.ID
		}
		c.mu.Lock()
		c.now++
		c.perWS[ws]++
		c.peak, c.peakWS = max(c.peak, c.now), max(c.peakWS, c.perWS[ws])
		c.mu.Unlock()
		time.Sleep(hold)
		c.mu.Lock()
		c.now--
		c.perWS[ws]--
		c.mu.Unlock()
		return nil, nil
	}
}

func TestJobs_ConcurrencyIsBounded(t *testing.T) {
	ctx := context.Background()
	m := mustOpenJobManager(t, t.TempDir(), Options{MaxJobs: 2, MaxJobsPerWorkspace: 1})
	ws := []*store.Workspace{mustCreate(t, m, "A"), mustCreate(t, m, "B"), mustCreate(t, m, "C")}
	c := &concurrency{perWS: map[string]int{}}
	var ids []string
	for i := 0; i < 9; i++ {
		w := ws[i%3]
		ids = append(ids, mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: c.job(30 * time.Millisecond)}))
	}
	for i, id := range ids {
		j, err := m.WaitJob(ctx, ws[i%3].ID, id)
		if err != nil || j.State != store.JobDone {
			t.Fatalf("job %d: %+v, %v", i, j, err)
		}
	}
	if c.peak != 2 || c.peakWS != 1 {
		t.Fatalf("at most %d jobs ran at once, %d of one workspace; want 2 and 1", c.peak, c.peakWS)
	}
}

// A unique job (the scheduler's) is not queued twice for a workspace.
func TestJobs_UniqueIsStartedOnce(t *testing.T) {
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "A")
	release := make(chan struct{})
	spec := JobSpec{Kind: "retention", WorkspaceID: w.ID, Unique: true, Run: func(ctx context.Context, _ *JobRun) (any, error) {
		<-release
		return nil, nil
	}}
	first := mustStartJob(t, m, spec)
	if again := mustStartJob(t, m, spec); again != first {
		t.Fatalf("a second job %s started while %s was running", again, first)
	}
	close(release)
	if _, err := m.WaitJob(context.Background(), w.ID, first); err != nil {
		t.Fatal(err)
	}
	if again := mustStartJob(t, m, spec); again == first {
		t.Fatal("a finished job blocked the next one")
	}
}

func TestJobs_ResultsAndFailures(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "A")
	ok := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Total: 3, Run: func(ctx context.Context, run *JobRun) (any, error) {
		if run.Lease == nil || run.Lease.ID != w.ID {
			return nil, errors.New("no lease on the workspace")
		}
		return map[string]int{"rows": 3}, nil
	}})
	failed := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: func(context.Context, *JobRun) (any, error) {
		return nil, store.Errorf(store.EValidation, "The file has no header.")
	}})
	panicked := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: func(context.Context, *JobRun) (any, error) {
		panic("boom")
	}})
	gone := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: "0190b2a0-0000-7000-8000-000000000000", Run: func(context.Context, *JobRun) (any, error) {
		return nil, nil
	}})
	want := map[string]struct{ state, result, err string }{
		ok:       {store.JobDone, `{"rows":3}`, ""},
		failed:   {store.JobFailed, "", "The file has no header."},
		panicked: {store.JobFailed, "", "An internal error occurred."},
		gone:     {store.JobFailed, "", "Workspace 0190b2a0-0000-7000-8000-000000000000 does not exist."},
	}
	for id, w2 := range want {
		wsID := w.ID
		if id == gone {
			wsID = "0190b2a0-0000-7000-8000-000000000000"
		}
		j, err := m.WaitJob(ctx, wsID, id)
		if err != nil || j.State != w2.state || j.Result != w2.result || j.Error != w2.err {
			t.Errorf("job: %+v, %v; want %+v", j, err, w2)
		}
	}
	// Another workspace's job is not found.
	other := mustCreate(t, m, "B")
	if _, err := m.Job(ctx, other.ID, ok); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("another workspace's job: %v", err)
	}
}

// Close waits for a running job to finish before the handles close: its
// work lands and its record says done.
func TestJobs_CloseDrainsRunningJobs(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(context.Background(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w := mustCreate(t, m, "A")
	started := make(chan struct{})
	id := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: func(ctx context.Context, run *JobRun) (any, error) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		_, err := run.Lease.W.ExecContext(ctx, `INSERT INTO companies (id, name, created_at, updated_at) VALUES ('late', 'late', 0, 0)`)
		return nil, err
	}})
	<-started
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = mustOpenJobManager(t, dir, Options{})
	if j, err := m.Job(context.Background(), w.ID, id); err != nil || j.State != store.JobDone {
		t.Fatalf("job after a clean stop: %+v, %v", j, err)
	}
	if got := companyNames(t, m, w.ID); got != "late" {
		t.Fatalf("rows = %q", got)
	}
}

// A job that does not finish within the drain time is cancelled, and says
// it was interrupted; a queued one too.
func TestJobs_CloseCancelsAfterDrain(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(context.Background(), Options{DataDir: dir, JobDrain: 50 * time.Millisecond, MaxJobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := mustCreate(t, m, "A")
	var cancelled atomic.Bool
	blocked := func(ctx context.Context, _ *JobRun) (any, error) {
		<-ctx.Done()
		cancelled.Store(true)
		return nil, ctx.Err()
	}
	running := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: blocked})
	queued := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: blocked})
	time.Sleep(20 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !cancelled.Load() {
		t.Fatal("the running job's context was not cancelled")
	}
	m = mustOpenJobManager(t, dir, Options{})
	for _, id := range []string{running, queued} {
		if j, err := m.Job(context.Background(), w.ID, id); err != nil || j.State != store.JobInterrupted || j.Error != interruptedMessage {
			t.Fatalf("job %s: %+v, %v", id, j, err)
		}
	}
}

// A process that dies leaves its jobs queued or running in the catalog:
// the next start marks them interrupted.
func TestJobs_RestartMarksLeftoversInterrupted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := mustOpenJobManager(t, dir, Options{})
	j := &store.Job{ID: "left", Kind: "import.contacts", WorkspaceID: "w", CreatedAt: time.Now().UTC()}
	if err := store.InsertJob(ctx, m.Catalog().W, j); err != nil {
		t.Fatal(err)
	}
	if err := store.StartJob(ctx, m.Catalog().W, j.ID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m = mustOpenJobManager(t, dir, Options{})
	got, err := m.Job(ctx, "w", "left")
	if err != nil || got.State != store.JobInterrupted || got.Error != interruptedMessage || !got.FinishedAt.Valid {
		t.Fatalf("%+v, %v", got, err)
	}
}

// TestJobs_GiveWayToDelete: a job that gives way is stopped when its
// workspace is deleted, and recorded as stopped, where the deletion used
// to wait for it to end; a job that does not give way is waited for.
func TestJobs_GiveWayToDelete(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	wait := func(started chan struct{}) func(context.Context, *JobRun) (any, error) {
		return func(ctx context.Context, run *JobRun) (any, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	w := mustCreate(t, m, "Checked")
	started := make(chan struct{})
	id, err := m.StartJob(ctx, JobSpec{Kind: "test.check", WorkspaceID: w.ID, GivesWay: true, Run: wait(started)})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	deadline, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := m.Delete(deadline, w.ID, "test"); err != nil {
		t.Fatalf("the deletion waited for a job that gives way: %v", err)
	}
	j, err := m.WaitJob(ctx, w.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.JobInterrupted || j.Error != errGaveWay.Error() {
		t.Errorf("the job ended %s: %q", j.State, j.Error)
	}

	// One that does not give way holds the deletion until it ends.
	other := mustCreate(t, m, "Busy")
	started = make(chan struct{})
	release := make(chan struct{})
	if _, err := m.StartJob(ctx, JobSpec{Kind: "test.busy", WorkspaceID: other.ID, Run: func(ctx context.Context, run *JobRun) (any, error) {
		close(started)
		<-release
		return nil, nil
	}}); err != nil {
		t.Fatal(err)
	}
	<-started
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := m.Delete(short, other.ID, "test"); err == nil {
		t.Error("the deletion did not wait for a job that does not give way")
	}
	close(release)
}
