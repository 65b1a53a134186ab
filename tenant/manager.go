// Package tenant owns the lifecycle of workspaces: the catalog of them, their
// files and regions, the cache of open handles, creation and deletion.
package tenant

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"atrium/store"
)

// Options configure a Manager.
type Options struct {
	// DataDir holds catalog.db and, by default, the workspace files.
	DataDir string
	// Config gives the regions; nil means the embedded defaults.
	Config *Config
	// MaxOpen bounds the idle open workspace handles (DefaultMaxOpen if 0).
	MaxOpen int
	Logger  *slog.Logger

	// SyncInterval, when set, overrides every region's replica
	// sync-interval (tests use a short one).
	SyncInterval time.Duration
	// Linger is how long a workspace stays registered with Litestream after
	// its handle closed (DefaultLinger if 0); MaxLingering bounds how many
	// do (DefaultMaxLingering if 0).
	Linger       time.Duration
	MaxLingering int
	// JanitorInterval is how often trashed workspaces past their grace
	// period and interrupted deletions are hard-deleted (DefaultJanitorInterval if 0).
	JanitorInterval time.Duration
	// VerifyInterval is how often the rolling sample verifies a replica
	// (DefaultVerifyInterval if 0; negative turns background verification
	// off). VerifyBytesPerSecond bounds its I/O on average
	// (DefaultVerifyBytesPerSecond if 0).
	VerifyInterval       time.Duration
	VerifyBytesPerSecond int64
	// MaxJobs bounds the background jobs running at once (DefaultMaxJobs
	// if 0), MaxJobsPerWorkspace those of one workspace
	// (DefaultMaxJobsPerWorkspace if 0). JobDrain is how long Close waits
	// for running jobs before it cancels them (DefaultJobDrain if 0).
	MaxJobs             int
	MaxJobsPerWorkspace int
	JobDrain            time.Duration
	// ScheduleInterval is how often the scheduler looks for due work
	// (DefaultScheduleInterval if 0).
	ScheduleInterval time.Duration
	// MaxIdleWatchers bounds the mailboxes listened to with IMAP IDLE at
	// once (DefaultMaxIdleWatchers if 0); the others are polled.
	MaxIdleWatchers int
	// Now, when set, is the clock of the sender's limits and waits
	// (tests set it); time.Now otherwise.
	Now func() time.Time
	// SMTPTLS, when set, is the TLS configuration of connections to the
	// mailboxes' SMTP servers (tests trust their own authority); nil uses
	// the system's roots.
	SMTPTLS *tls.Config
	// PublicURL is the instance's address as people reach it, the base of
	// the links in emails (DefaultPublicURL if empty).
	PublicURL string
	// Recover is for disaster recovery: a data directory without a catalog
	// must get it back from the replica. When the replica holds none, Open
	// fails (ErrNoReplica) instead of starting a new, empty instance.
	Recover bool
}

// ErrNoReplica says the catalog was to be recovered and its replica holds
// nothing.
var ErrNoReplica = errors.New("no replica")

// Manager is the one entry point to workspaces: it creates, opens, lists,
// deletes, restores and moves them, owns the catalog, and replicates both
// through embedded Litestream.
type Manager struct {
	dataDir  string
	cfg      *Config
	log      *slog.Logger
	catalog  *store.Catalog
	cache    *Cache
	repl     *replicator
	lock     *os.File   // held while open; see lockDataDir
	master   *masterKey // wraps the workspaces' data keys; see masterkey.go
	wsKeys   wsKeyCache // unwrapped workspace data keys; see workspacekeys.go
	rotateMu sync.Mutex // one master key rotation at a time
	smtpTLS  *tls.Config
	now      func() time.Time
	template []byte // an empty, migrated workspace file, copied on create

	verifier *verifier
	jobs     *runner
	requests requestGauge // requests in flight, which heavy work paces itself for
	inviting sync.Mutex   // see Invite
	jobDrain time.Duration
	// scheduleInterval is how often StartScheduler's loop looks for due work.
	scheduleInterval time.Duration
	bgCtx            context.Context // ends when Close starts
	kick             chan struct{}   // wakes the scheduler
	bgCancel         context.CancelFunc
	bg               sync.WaitGroup // the janitor and the startup sync
	recovery         Recovery
	closeOnce        sync.Once
	closeErr         error

	// publicURL is Options.PublicURL, without a trailing slash.
	publicURL string

	plans planBook   // each workspace's plan name; see plans.go
	usage usageMeter // usage counted since the last flush; see usage.go
	disk  diskGauge  // the regions' free disk space; see diskspace.go
	// tracking buffers open and click events, trackingKeys remembers
	// token keys (see tracking.go).
	tracking     trackingBuffer
	trackingKeys trackingKeyCache
	// sent and sendFailed count the messages send passes sent and failed
	// (SendStats).
	sent, sendFailed atomic.Int64
	// idle are the IMAP IDLE watchers of the mailboxes (see idle.go).
	idle idleWatchers
	// rollups tracks the open files' counters (see rollups.go).
	rollups rollupTracker
}

// Recovery says what Open brought back from the replicas because the data
// directory had lost it.
type Recovery struct {
	CatalogRestored bool
	// Workspaces are the ids whose files were restored.
	Workspaces []string
	// Failed maps the ids that could not be restored to why; opening one
	// tries again.
	Failed map[string]string
}

// Recovery returns what Open restored from the replicas.
func (m *Manager) Recovery() Recovery { return m.recovery }

// recoverWorkspaces restores every workspace file after the catalog was
// restored: the whole data directory was lost.
func (m *Manager) recoverWorkspaces(ctx context.Context) {
	m.recovery = Recovery{CatalogRestored: true, Failed: map[string]string{}}
	m.RestoreMissing(ctx, 4, func(w *store.Workspace, err error) {
		if err != nil {
			m.log.Error("disaster recovery: cannot restore a workspace", "workspace", w.ID, "err", err)
			m.recovery.Failed[w.ID] = err.Error()
			return
		}
		m.recovery.Workspaces = append(m.recovery.Workspaces, w.ID)
	})
	m.log.Warn("disaster recovery: restored the catalog and workspaces from the replicas",
		"workspaces", len(m.recovery.Workspaces), "failed", len(m.recovery.Failed))
}

// Open opens (creating if needed) the data directory and the catalog,
// migrates the catalog, and finishes what a crash interrupted: half-made
// workspaces are removed, half-deleted ones are deleted. A missing catalog
// is first restored from its replica, and then every workspace with it
// (disaster recovery). Replication starts before any file is opened.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	dataDir, cfg, err := prepareDirs(opts)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	master, err := loadMasterKey(cmp.Or(cfg.MasterKeyFile, filepath.Join(dataDir, masterKeyFile)), cfg.MasterKeyCommand)
	if err != nil {
		lock.Close()
		return nil, err
	}
	repl, err := newReplicator(ctx, log, replicatorOptions{syncInterval: opts.SyncInterval, linger: opts.Linger, maxLingering: opts.MaxLingering,
		listPath: filepath.Join(dataDir, registeredList)})
	if err != nil {
		lock.Close()
		return nil, err
	}
	m := &Manager{dataDir: dataDir, cfg: cfg, log: log, repl: repl, lock: lock, master: master, smtpTLS: opts.SMTPTLS, verifier: newVerifier(), kick: make(chan struct{}, 1),
		plans: planBook{names: map[string]string{}}, idle: newIdleWatchers(opts.MaxIdleWatchers),
		now: opts.Now, publicURL: strings.TrimSuffix(cmp.Or(opts.PublicURL, DefaultPublicURL), "/")}
	if m.now == nil {
		m.now = time.Now
	}
	repl.newClient = m.writingReplicaClient
	if opts.VerifyInterval >= 0 {
		// Before anything registers: registrations read it.
		repl.reregistered = m.queueVerifyReregistered
	}
	m.cache = newCache(opts.MaxOpen, m.openWorkspace, m.closeWorkspace)
	m.cache.cool = m.coolWorkspace
	m.warnCABundle()
	m.warnLowDisk()
	if err := m.start(ctx, opts); err != nil {
		m.repl.close(context.Background())
		lock.Close()
		return nil, err
	}
	return m, nil
}

func prepareDirs(opts Options) (string, *Config, error) {
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", nil, fmt.Errorf("cannot create the data directory %s: %w", dataDir, unwrapPathError(err))
	}
	cfg := opts.Config
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.resolve(dataDir); err != nil {
		return "", nil, err
	}
	for _, r := range cfg.Regions {
		if err := os.MkdirAll(r.Data, 0o700); err != nil {
			return "", nil, fmt.Errorf("cannot create the data directory of region %s, %s: %w", r.Name, r.Data, unwrapPathError(err))
		}
	}
	return dataDir, cfg, nil
}

// start brings back a lost catalog, opens it under replication, and starts
// the background work.
func (m *Manager) start(ctx context.Context, opts Options) error {
	m.removeTempDirs()
	wasClean := m.takeCleanMarker()
	_, err := os.Stat(m.catalogPath())
	missing := errors.Is(err, fs.ErrNotExist)
	restored, err := m.restoreCatalogIfMissing(ctx)
	if err != nil {
		return err
	}
	if missing && !restored && opts.Recover {
		t, err := m.catalogTarget()
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: %s has no catalog, and there is no backup of one at %s to restore; check the replica URLs in the configuration (--config)",
			ErrNoReplica, m.dataDir, t)
	}
	if err := m.openCatalog(ctx); err != nil {
		return err
	}
	if err := m.init(ctx); err != nil {
		m.catalog.Close()
		return err
	}
	if err := m.finishMasterRotation(ctx); err != nil {
		m.catalog.Close()
		return err
	}
	m.jobs = newRunner(m.catalog, m.log, m.Acquire, opts.MaxJobs, opts.MaxJobsPerWorkspace)
	m.jobs.ended = m.wake
	m.cache.takingOut = m.jobs.giveWay
	m.jobDrain = orDefault(opts.JobDrain, DefaultJobDrain)
	m.scheduleInterval = orDefault(opts.ScheduleInterval, DefaultScheduleInterval)
	if err := m.jobs.interruptLeftovers(ctx); err != nil {
		m.catalog.Close()
		return err
	}
	if restored {
		// The catalog's replica can lag the workspaces': work created
		// just before the loss may be missing from its index.
		if err := m.rebuildDue(ctx); err != nil {
			m.catalog.Close()
			return err
		}
		m.recoverWorkspaces(ctx)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.bgCtx, m.bgCancel = bg, cancel
	if !wasClean {
		m.queueVerifyRegisteredAtCrash()
		m.goBackground(func() { m.syncUnreplicated(bg) })
	}
	m.goBackground(func() { m.janitor(bg, orDefault(opts.JanitorInterval, DefaultJanitorInterval)) })
	m.goBackground(func() { m.usageLoop(bg) })
	m.goBackground(func() { m.rollupLoop(bg) })
	if opts.VerifyInterval >= 0 {
		m.goBackground(func() {
			m.verifyLoop(bg, orDefault(opts.VerifyInterval, DefaultVerifyInterval),
				orDefault(opts.VerifyBytesPerSecond, DefaultVerifyBytesPerSecond))
		})
	}
	return nil
}

// tempDirPrefixes name the working files and directories of restores,
// verifications, imports, uploads, exports and template builds.
var tempDirPrefixes = []string{".restore-", ".verify-", ".import-", ".upload-", ".export-", ".template-"}

// removeTempDirs removes the working directories an earlier process left
// when it died (a verification's is as large as the workspace). Only one
// process uses a data directory, so none of them is in use.
func (m *Manager) removeTempDirs() {
	dirs := []string{m.dataDir}
	for _, r := range m.cfg.Regions {
		dirs = append(dirs, r.Data)
	}
	for _, dir := range dirs {
		for _, prefix := range tempDirPrefixes {
			matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
			for _, p := range matches {
				if err := os.RemoveAll(p); err != nil {
					m.log.Warn("cannot remove a leftover working directory", "path", p, "err", err)
				}
			}
		}
	}
}

func (m *Manager) goBackground(fn func()) {
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		fn()
	}()
}

func (m *Manager) catalogPath() string { return filepath.Join(m.dataDir, "catalog.db") }

// openCatalog registers the catalog with Litestream, then opens it.
func (m *Manager) openCatalog(ctx context.Context) error {
	t, err := m.catalogTarget()
	if err != nil {
		return err
	}
	if err := m.checkCatalogReplicaEncrypted(ctx); err != nil {
		return err
	}
	if err := m.repl.acquire(ctx, m.catalogPath(), t, catalogPrefix); err != nil {
		return err
	}
	catalog, err := store.OpenCatalog(m.catalogPath(), store.OpenOptions{Create: true, Synchronous: "full"})
	if err != nil {
		return fmt.Errorf("cannot open the catalog in %s: %w", m.dataDir, err)
	}
	m.catalog = catalog
	return nil
}

func (m *Manager) init(ctx context.Context) error {
	if _, _, err := store.Migrate(ctx, m.catalog.DB, store.CatalogSchema); err != nil {
		return fmt.Errorf("cannot migrate the catalog: %w", err)
	}
	tmpl, err := buildTemplate(ctx, m.dataDir)
	if err != nil {
		return fmt.Errorf("cannot build the workspace template: %w", err)
	}
	m.template = tmpl
	return m.recover(ctx)
}

// Close stops the background work, closes every open workspace and the
// catalog, then replicates what is pending and stops replicating. serve
// calls it after the HTTP server stopped taking requests. Calling it again
// returns the first call's result.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Manager) close() error {
	m.bgCancel()
	// Watchers take short leases: they end before the handles close.
	if !m.idle.close(idleCloseWait) {
		m.log.Warn("IMAP IDLE watchers did not end in time", "waited", idleCloseWait)
	}
	// Jobs hold leases: they end before the handles close.
	m.jobs.close(m.jobDrain)
	m.bg.Wait()
	if err := m.flushUsage(context.Background()); err != nil {
		m.log.Error("cannot record the last usage counts", "err", err)
	}
	// Buffered tracking events are written through the handles.
	m.tracking.close()
	m.cache.Close()
	err := m.catalog.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clean, rerr := m.repl.close(ctx)
	if clean {
		m.putCleanMarker()
	}
	if err == nil && rerr != nil {
		err = fmt.Errorf("the last replication sync failed; the next start retries it: %w", rerr)
	}
	m.lock.Close()
	return err
}

// Catalog returns the catalog database.
func (m *Manager) Catalog() *store.Catalog { return m.catalog }

// Workspace returns the catalog row of a workspace as it is now: the one
// way to read its name and other facts that change.
func (m *Manager) Workspace(ctx context.Context, id string) (*store.Workspace, error) {
	return store.GetWorkspace(ctx, m.catalog.R, id)
}

// Config returns the regions in use.
func (m *Manager) Config() *Config { return m.cfg }

// DataDir returns the absolute data directory.
func (m *Manager) DataDir() string { return m.dataDir }

// Acquire parses id and returns a lease on its open workspace. An id that is
// not canonical, unknown, deleted or being deleted is ENotFound or EInvalid.
func (m *Manager) Acquire(ctx context.Context, id string) (*Lease, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	return m.cache.Acquire(ctx, id)
}

// OpenHandles returns how many workspace files are open now.
func (m *Manager) OpenHandles() int { return m.cache.Len() }

// FilePath returns the path of a workspace's file in its region.
func (m *Manager) FilePath(w *store.Workspace) (string, error) {
	r, ok := m.cfg.Regions[w.Region]
	if !ok {
		return "", fmt.Errorf("workspace %s is in region %q, which is not configured", w.ID, w.Region)
	}
	id, err := ParseID(w.ID)
	if err != nil {
		return "", err
	}
	return filepath.Join(r.Data, id+".db"), nil
}

func (m *Manager) openWorkspace(ctx context.Context, id string) (*store.DB, *store.Workspace, error) {
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return nil, nil, err
	}
	if w.State != store.StateActive {
		return nil, nil, errNoWorkspace(id)
	}
	path, err := m.FilePath(w)
	if err != nil {
		return nil, nil, err
	}
	if err := m.restoreIfMissing(ctx, w, path); err != nil {
		return nil, nil, err
	}
	// Litestream tracks the file before the app can write to it.
	if err := m.acquireReplication(ctx, w, path); err != nil {
		return nil, nil, err
	}
	cleared := m.clearPristine(ctx, w)
	db, err := m.openMigrated(ctx, id, path)
	if err == nil {
		if err = undoUnfinishedImports(ctx, db); err != nil {
			db.Close()
		}
	}
	if err == nil {
		db.OnDue = m.raiseDue(id)
		m.rollupOpened(id, db)
	}
	if cerr := <-cleared; err == nil && cerr != nil {
		db.Close()
		err = fmt.Errorf("cannot open workspace %s: %w", id, cerr)
	}
	if err != nil {
		m.repl.release(path)
		return nil, nil, err
	}
	return db, w, nil
}

// undoUnfinishedImports takes out a CSV import that a crash, or a restore
// to a moment in its middle, left half-done (see store.UndoImports). An
// import holds a lease of its workspace, so none runs in a file being
// opened.
func undoUnfinishedImports(ctx context.Context, db *store.DB) error {
	left, err := store.HasImportUndo(ctx, db)
	if err != nil || !left {
		return err
	}
	return store.UndoImports(ctx, db, "")
}

// clearPristine records, when w is pristine, that its file may differ from
// the template from now on, so a restore looks for it in the replica instead
// of recreating it empty. The catalog write runs while the caller opens the
// file (its fsync overlaps the schema parse); the result arrives on the
// channel, which the caller reads before it hands out the handle.
func (m *Manager) clearPristine(ctx context.Context, w *store.Workspace) <-chan error {
	done := make(chan error, 1)
	if !w.Pristine {
		done <- nil
		return done
	}
	go func() { done <- store.ClearPristine(ctx, m.catalog.W, w.ID) }()
	w.Pristine = false
	return done
}

func (m *Manager) openMigrated(ctx context.Context, id, path string) (*store.DB, error) {
	db, err := store.Open(path, store.OpenOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot open workspace %s: %w", id, err)
	}
	if _, _, err := store.Migrate(ctx, db, store.WorkspaceSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot migrate workspace %s: %w", id, err)
	}
	return db, nil
}

// closeWorkspace closes the app's pool first, then lets the replication
// registration linger (it is unregistered later, off the request path).
func (m *Manager) closeWorkspace(db *store.DB, w *store.Workspace, cooled bool) {
	m.rollupClosing(w.ID, db, cooled)
	if err := db.Close(); err != nil {
		m.log.Error("close workspace", "workspace", w.ID, "err", err)
	}
	m.repl.release(db.Path)
}

// coolWorkspace releases what an idle handle's connections hold (see
// Cache.cool), the writer's connection too when that is safe: its parsed
// schema is most of what remains (~0.4 MB), and the next write, if any
// comes before the handle is closed, opens another (~2 ms). The handle
// stays open and registered, so a new lease needs neither. Its counters
// are looked at first, as at a close: until its next lease, neither the
// rollup sweep nor the close reads them again (which would open a writer).
func (m *Manager) coolWorkspace(id string, db *store.DB) {
	m.rollupLook(id, db)
	if err := db.ReleaseMemory(context.Background()); err != nil {
		m.log.Warn("cannot release an idle workspace's memory", "path", db.Path, "err", err)
	}
	m.repl.whileLitestreamOpen(db.Path, db.CloseIdleWriter)
}

func errNoWorkspace(id string) error {
	return store.Errorf(store.ENotFound, "Workspace %s does not exist.", id)
}

// unwrapPathError drops the path from an fs.PathError: callers name the path
// in their own sentence.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Info is a workspace with the size of its files on disk.
type Info struct {
	store.Workspace
	SizeBytes int64 `json:"size_bytes"`
}

// List returns the live workspaces (active, and deleting if any) with their
// sizes, oldest first.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	ws, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive, store.StateDeleting)
	if err != nil {
		return nil, err
	}
	infos := make([]Info, len(ws))
	for i := range ws {
		infos[i] = Info{Workspace: ws[i], SizeBytes: m.Size(&ws[i])}
	}
	return infos, nil
}

// Size returns the bytes a workspace's file and WAL take on disk.
func (m *Manager) Size(w *store.Workspace) int64 {
	path, err := m.FilePath(w)
	if err != nil {
		return 0
	}
	return dbFileBytes(path)
}

// dbFileBytes is the size of a database file with its WAL.
func dbFileBytes(path string) int64 { return fileSize(path) + fileSize(path+"-wal") }

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
