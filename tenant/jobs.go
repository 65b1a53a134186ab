package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"atrium/store"
)

// Defaults of the job runner.
const (
	// DefaultMaxJobsPerWorkspace bounds them per workspace, so one tenant's
	// import cannot take every slot.
	DefaultMaxJobsPerWorkspace = 1
	// DefaultJobDrain is how long Close waits for running jobs to finish
	// before it cancels them.
	DefaultJobDrain = 30 * time.Second
	// jobKeep is how long a finished job's row is kept; systemJobKeep that
	// of a job the system started (a send pass runs every time a step is
	// due).
	jobKeep       = 30 * 24 * time.Hour
	systemJobKeep = 24 * time.Hour
	// progressWriteEvery bounds the catalog writes of a job's progress.
	progressWriteEvery = time.Second
)

// DefaultMaxJobs bounds the jobs running at once on the instance: one per
// core. Jobs run below requests (see runBackground), so requests still get
// served.
var DefaultMaxJobs = runtime.NumCPU()

// interruptedMessage is what a job cut short by a stop says.
const interruptedMessage = "The server stopped before this job finished; nothing of it was kept half-done. Start it again."

// errGaveWay stops a job that gives way (JobSpec.GivesWay) to its
// workspace's deletion, move or restore.
var errGaveWay = errors.New("Stopped: the workspace was deleted, moved or restored meanwhile.")

// JobSpec describes a piece of background work to run.
type JobSpec struct {
	// ID is the job's id; a new one when empty.
	ID   string
	Kind string
	// WorkspaceID is the workspace the job works on, leased for the job's
	// lifetime; empty for work on the instance.
	WorkspaceID string
	CreatedBy   string
	// Total is how many units the job expects to process, when known.
	Total int64
	// Unique says at most one job of this kind runs or waits for the
	// workspace at a time: starting another returns the first one's id.
	Unique bool
	// GivesWay says the job is stopped, and recorded as such, when its
	// workspace is taken out (deleted, moved, restored in place): its work
	// is moot then, and a deletion need not wait for it.
	GivesWay bool
	// Run does the work. Its result is stored as the job's JSON result (in
	// the catalog, so never workspace data: that goes in the workspace's
	// file). A context cancelled by a stop makes the job interrupted.
	Run func(ctx context.Context, run *JobRun) (result any, err error)
}

// JobRun is what a running job sees of itself.
type JobRun struct {
	ID string
	// Lease is the workspace's lease; nil for work on the instance.
	Lease *Lease

	r         *runner
	mu        sync.Mutex
	lastWrite time.Time
}

// Progress records how far the job got. Writes to the catalog are spaced
// out, so it can be called for every row.
func (j *JobRun) Progress(done, total int64) {
	j.mu.Lock()
	now := time.Now()
	due := now.Sub(j.lastWrite) >= progressWriteEvery
	if due {
		j.lastWrite = now
	}
	j.mu.Unlock()
	if !due {
		return
	}
	if err := store.SetJobProgress(context.Background(), j.r.catalog.W, j.ID, done, total); err != nil {
		j.r.log.Warn("cannot record a job's progress", "job", j.ID, "err", err)
	}
}

// runner runs jobs with bounded concurrency, records them in the catalog,
// and drains them on close.
type runner struct {
	catalog *store.Catalog
	log     *slog.Logger
	acquire func(ctx context.Context, id string) (*Lease, error)
	// ended, when set, hears that a job ended: the scheduler looks again
	// at once (a pass that stopped at its bound has more due now).
	ended func()
	perWS int
	total chan struct{} // a slot per running job

	ctx    context.Context // cancelled when close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// queued and running count the jobs waiting for a slot and those in
	// one; observe, when set, hears how long each job ran (JobStats).
	queued, running atomic.Int64
	observe         atomic.Pointer[func(kind string, took time.Duration)]

	mu     sync.Mutex
	slots  map[string]*wsSlots // per workspace ("" for the instance)
	active map[string]string   // workspace+"/"+kind → job id, queued or running
	// givingWay stops the running jobs that give way, by workspace and job.
	givingWay map[string]map[string]context.CancelCauseFunc
	closed    bool
}

type wsSlots struct {
	ch    chan struct{}
	users int
}

func newRunner(catalog *store.Catalog, log *slog.Logger, acquire func(context.Context, string) (*Lease, error), maxJobs, perWS int) *runner {
	reserveBackgroundProcs(orDefault(maxJobs, DefaultMaxJobs))
	ctx, cancel := context.WithCancel(context.Background())
	return &runner{
		catalog: catalog, log: log, acquire: acquire,
		perWS: orDefault(perWS, DefaultMaxJobsPerWorkspace),
		total: make(chan struct{}, orDefault(maxJobs, DefaultMaxJobs)),
		ctx:   ctx, cancel: cancel,
		slots: map[string]*wsSlots{}, active: map[string]string{}, givingWay: map[string]map[string]context.CancelCauseFunc{},
	}
}

// interruptLeftovers marks the jobs a previous process left queued or
// running as interrupted.
func (r *runner) interruptLeftovers(ctx context.Context) error {
	n, err := store.InterruptJobs(ctx, r.catalog.W, interruptedMessage, time.Now().UTC())
	if n > 0 {
		r.log.Warn("jobs were interrupted by the last stop", "jobs", n)
	}
	return err
}

// start records the job as queued and runs it in the background once a
// slot is free. A unique job already queued or running for the workspace
// is not started twice: start returns its id with started false.
func (r *runner) start(ctx context.Context, spec JobSpec) (id string, started bool, err error) {
	if spec.ID == "" {
		spec.ID = store.NewToken()[:22]
	}
	key := spec.WorkspaceID + "/" + spec.Kind
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return "", false, store.Errorf(store.EUnavailable, "The server is shutting down; try again in a moment.")
	}
	if running, ok := r.active[key]; ok && spec.Unique {
		r.mu.Unlock()
		return running, false, nil
	}
	if spec.Unique {
		r.active[key] = spec.ID
	}
	r.wg.Add(1)
	r.mu.Unlock()

	job := &store.Job{ID: spec.ID, Kind: spec.Kind, WorkspaceID: spec.WorkspaceID, CreatedBy: spec.CreatedBy,
		Total: spec.Total, CreatedAt: time.Now().UTC()}
	if err := store.InsertJob(ctx, r.catalog.W, job); err != nil {
		r.done(key, spec.ID)
		return "", false, err
	}
	r.queued.Add(1)
	go func() {
		defer r.done(key, spec.ID)
		r.run(spec)
	}()
	return spec.ID, true, nil
}

func (r *runner) done(key, id string) {
	r.mu.Lock()
	if r.active[key] == id {
		delete(r.active, key)
	}
	r.mu.Unlock()
	if r.ended != nil {
		r.ended()
	}
	r.wg.Done()
}

// run waits for a slot, leases the workspace, runs the job and records how
// it ended.
func (r *runner) run(spec JobSpec) {
	result, err := r.runInSlot(spec)
	state, msg := store.JobDone, ""
	switch {
	case err != nil && r.ctx.Err() != nil:
		state, msg = store.JobInterrupted, interruptedMessage
	case errors.Is(err, errGaveWay):
		state, msg = store.JobInterrupted, errGaveWay.Error()
	case err != nil:
		state, msg = store.JobFailed, store.ErrorMessage(err)
		if code := store.ErrorCode(err); code == store.EInternal || code == store.EStorageFull {
			r.log.Error("job failed", "job", spec.ID, "kind", spec.Kind, "workspace", spec.WorkspaceID, "err", err)
		}
	}
	var encoded []byte
	if err == nil && result != nil {
		if encoded, err = json.Marshal(result); err != nil {
			state, msg = store.JobFailed, store.ErrorMessage(err)
		}
	}
	// The record must land even when the runner is being stopped.
	if err := store.FinishJob(context.Background(), r.catalog.W, spec.ID, state, string(encoded), msg, time.Now().UTC()); err != nil {
		r.log.Error("cannot record the end of a job", "job", spec.ID, "err", err)
	}
}

func (r *runner) runInSlot(spec JobSpec) (result any, err error) {
	release, err := r.takeSlot(r.ctx, spec.WorkspaceID)
	r.queued.Add(-1)
	if err != nil {
		return nil, err
	}
	defer release()
	r.running.Add(1)
	defer r.running.Add(-1)
	defer r.timed(spec.Kind, time.Now())
	ctx := r.ctx
	if spec.GivesWay && spec.WorkspaceID != "" {
		var stop func()
		ctx, stop = r.mayGiveWay(spec)
		defer stop()
		defer func() {
			if err != nil && errors.Is(context.Cause(ctx), errGaveWay) {
				err = errGaveWay
			}
		}()
	}
	run := &JobRun{ID: spec.ID, r: r, lastWrite: time.Now()}
	if spec.WorkspaceID != "" {
		if run.Lease, err = r.acquire(ctx, spec.WorkspaceID); err != nil {
			return nil, err
		}
		defer run.Lease.Release()
	}
	if err := store.StartJob(r.ctx, r.catalog.W, spec.ID, time.Now().UTC()); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job %s panicked: %v", spec.ID, p)
		}
	}()
	err = runBackground(func() (err error) {
		result, err = spec.Run(ctx, run)
		return err
	})
	return result, err
}

// mayGiveWay returns the context of a job that gives way, which giveWay
// cancels, and the function that ends it.
func (r *runner) mayGiveWay(spec JobSpec) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	r.mu.Lock()
	jobs := r.givingWay[spec.WorkspaceID]
	if jobs == nil {
		jobs = map[string]context.CancelCauseFunc{}
		r.givingWay[spec.WorkspaceID] = jobs
	}
	jobs[spec.ID] = cancel
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		// jobs held this job until now, so it is still the workspace's map.
		if delete(jobs, spec.ID); len(jobs) == 0 {
			delete(r.givingWay, spec.WorkspaceID)
		}
		r.mu.Unlock()
		cancel(nil)
	}
}

// giveWay stops the running jobs of workspace id that give way.
func (r *runner) giveWay(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, cancel := range r.givingWay[id] {
		cancel(errGaveWay)
	}
}

// timed tells the observer, if any, how long a job of kind ran.
func (r *runner) timed(kind string, began time.Time) {
	if fn := r.observe.Load(); fn != nil {
		(*fn)(kind, time.Since(began))
	}
}

// takeSlot waits for a free slot of the workspace, then of the instance,
// until ctx or the runner ends.
func (r *runner) takeSlot(ctx context.Context, workspaceID string) (release func(), err error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(r.ctx, stop)()
	r.mu.Lock()
	s := r.slots[workspaceID]
	if s == nil {
		s = &wsSlots{ch: make(chan struct{}, r.perWS)}
		r.slots[workspaceID] = s
	}
	s.users++
	r.mu.Unlock()
	leave := func() {
		r.mu.Lock()
		if s.users--; s.users == 0 {
			delete(r.slots, workspaceID)
		}
		r.mu.Unlock()
	}
	select {
	case s.ch <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	select {
	case r.total <- struct{}{}:
	case <-ctx.Done():
		<-s.ch
		leave()
		return nil, ctx.Err()
	}
	return func() {
		<-r.total
		<-s.ch
		leave()
	}, nil
}

// close refuses new jobs and waits up to drain for the running ones to
// finish; then it cancels them and waits for them to return.
func (r *runner) close(drain time.Duration) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(drain):
		r.log.Warn("jobs still running at shutdown are cancelled", "waited", drain)
		r.cancel()
		<-finished
	}
	r.cancel()
}

// Kinds of the heavy work done for a request or a command (RunHeavy), as
// the job metrics name them.
const (
	HeavyExport  = "export.workspace"
	HeavyRestore = "restore.workspace"
	HeavyVerify  = "verify.backup"
)

// RunHeavy runs fn in a job slot of the workspace, waiting for one as a
// queued job would, and counts it in the job metrics as a job of kind: heavy work done for a request or a command (an
// export, a restore) is bounded like the jobs and never runs beside
// another heavy job of the same workspace; below the disk's reserve it is
// refused (see checkReserve). It runs below requests (see runBackground).
// Not for use inside a job: it would wait for
// its own slot.
func (m *Manager) RunHeavy(ctx context.Context, workspaceID, kind string, fn func() error) error {
	if err := m.checkWorkspaceReserve(ctx, workspaceID); err != nil && store.ErrorCode(err) != store.ENotFound {
		return err // a workspace not found is the work's own to report
	}
	m.jobs.queued.Add(1)
	release, err := m.jobs.takeSlot(ctx, workspaceID)
	m.jobs.queued.Add(-1)
	if err != nil {
		return err
	}
	defer release()
	m.jobs.running.Add(1)
	defer m.jobs.running.Add(-1)
	defer m.jobs.timed(kind, time.Now())
	return runBackground(fn)
}

// StartJob runs a piece of background work on the job runner and returns
// its id. A unique job already queued or running for the same workspace is
// not started twice; its id is returned instead.
func (m *Manager) StartJob(ctx context.Context, spec JobSpec) (string, error) {
	id, _, err := m.jobs.start(ctx, spec)
	return id, err
}

// Job returns a job of a workspace ("" for the instance's).
func (m *Manager) Job(ctx context.Context, workspaceID, id string) (*store.Job, error) {
	return store.GetJob(ctx, m.catalog.R, workspaceID, id)
}

// Jobs returns a workspace's latest jobs ("" for the instance's).
func (m *Manager) Jobs(ctx context.Context, workspaceID string, limit int) ([]store.Job, error) {
	return store.ListJobs(ctx, m.catalog.R, workspaceID, limit)
}

// WaitJob waits until a job finished and returns it; for commands and tests.
func (m *Manager) WaitJob(ctx context.Context, workspaceID, id string) (*store.Job, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		j, err := m.Job(ctx, workspaceID, id)
		if err != nil || j.Finished() {
			return j, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
