package tenant

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"atrium/store"
)

// Replication defaults. Each registered database costs goroutines, file
// descriptors and, on object storage, periodic LIST calls, so only
// databases open now or used recently stay registered.
const (
	// DefaultLinger is how long a workspace stays registered with Litestream
	// after its handle closed. A cache that thrashes then re-opens a
	// registered workspace instead of paying LIST calls to register it again.
	DefaultLinger = time.Hour
	// DefaultMaxLingering bounds the workspaces registered without an open
	// handle; beyond it the longest unused are unregistered first. Each
	// registration holds a SQLite connection, 4 file descriptors and ~3.5
	// goroutines, about 0.5 MB of RSS (BENCHMARKS.md). Every open handle is
	// registered too, so this is a small margin over --max-open, which is
	// the bound an operator sizes: 256 lingering on top of 256 open handles
	// took 10,000 workspaces to 500 MB.
	DefaultMaxLingering = 16
	// defaultL0RetentionCheckInterval replaces Litestream's 15s: each check
	// LISTs two levels of every registered database, idle or not.
	defaultL0RetentionCheckInterval = 15 * time.Minute
)

// l0RetentionCheckInterval is a variable so benchmarks can shorten it.
var l0RetentionCheckInterval = defaultL0RetentionCheckInterval

// l0SettleDelay is how long after a write's sync the driver checks that
// file's L0 retention itself: Litestream's L0 retention (5 minutes; kept,
// as the last minutes' point-in-time restore goes by L0 files), then the
// 30 s compaction into L1, which L0 files must be covered by before they
// go, and a margin. Between the store-wide checks (every
// l0RetentionCheckInterval) a big write's L0 files, as large as what it
// changed, would stay beside the file for up to 20 minutes; checked this
// way, a workspace is back near its file's size about six minutes after
// its last write, at two LISTs per written file rather than per
// registered one. A variable so tests can shorten it.
var l0SettleDelay = litestream.DefaultL0Retention + litestream.DefaultCompactionLevels[1].Interval + 30*time.Second

// compactionLevels and l0Retention are Litestream's, variables so tests
// can shorten them.
var (
	compactionLevels = litestream.DefaultCompactionLevels
	l0Retention      = litestream.DefaultL0Retention
)

// shutdownSyncTimeout bounds the final upload of one database when it is
// unregistered, so an unreachable replica cannot hold a shutdown for long.
// A variable so tests of an unreachable replica need not wait for it.
var shutdownSyncTimeout = 10 * time.Second

// replicator streams the catalog and workspace files to their regions'
// replicas through one embedded Litestream store. Databases are registered
// by path; a registration is shared by its users (an open handle, a create,
// a startup sync) and lingers after the last one leaves.
//
// Litestream's own per-database monitor would check every registered file
// each second, idle or not; with a thousand lingering workspaces that is a
// quarter of a core. So the replicator drives the WAL-to-LTX syncs itself,
// and only for files that can change: those with an open handle, and those
// closed since their last sync. Uploads follow at once (Litestream's replica
// monitor wakes on each new LTX file).
type replicator struct {
	store        *litestream.Store
	log          *slog.Logger
	errs         *lastErrors
	syncInterval time.Duration // when set, overrides every region's
	linger       time.Duration
	maxLingering int

	mu   sync.Mutex
	regs map[string]*registration // by file path
	// marks remembers where the replicas of files no longer registered
	// ended, by replicaWhere: a file that is not registered does not change,
	// so its backup status needs no LIST of its replica.
	marks map[string]replicaMark
	idle  *list.List // lingering registrations, longest unused first
	dirty bool       // a final sync failed: the next start syncs everything
	stop  chan struct{}
	// overflow wakes the reaper when more registrations linger than allowed.
	overflow chan struct{}
	ctx      context.Context // cancelled when the replicator closes
	quit     context.CancelFunc
	wg       sync.WaitGroup // the driver, the reaper and unregistrations in flight
	// newClient makes a registration's replica client, initialised; nil
	// means the target's plain client (see Manager.writingReplicaClient).
	newClient func(ctx context.Context, t *replicaTarget, elems []string) (litestream.ReplicaClient, error)
	// reregistered, when set, is told of each file registered again
	// (Litestream has local state of it from an earlier registration).
	reregistered func(path string)
	// listPath, when set, is where saveRegistered keeps the names of the
	// registered files; listChanged says they changed since.
	listPath    string
	listChanged bool
	// atLastStop names the files registered when the last process stopped
	// without closing cleanly (read before this one overwrites them).
	atLastStop []string
}

// replicaMark is the last transaction a replica holds and when it arrived.
type replicaMark struct {
	txid uint64
	at   time.Time
}

type registration struct {
	path    string
	where   string // its place in the replica; see replicaWhere
	db      *litestream.DB
	client  litestream.ReplicaClient
	users   int
	ready   chan struct{} // closed once registered, with err set on failure
	err     error
	leaving chan struct{} // set while unregistering; closed when done
	pending bool          // closed by its last user since its last sync
	synced  walStamp      // the WAL as it was before the last sync that succeeded
	// syncMu orders the driver's syncs with the final one: a sync after
	// Litestream closed the DB would open it again, outside the store.
	syncMu    sync.Mutex
	idleSince time.Time
	// l0Due, when set, is when the driver checks the L0 retention of this
	// file alone (see l0SettleDelay); set by the first write synced after
	// the last such check.
	l0Due time.Time
	elem  *list.Element
}

type replicatorOptions struct {
	syncInterval time.Duration
	linger       time.Duration
	maxLingering int
	// listPath is where the names of the registered files are kept; see
	// saveRegistered.
	listPath string
}

func newReplicator(ctx context.Context, log *slog.Logger, opts replicatorOptions) (*replicator, error) {
	errs := &lastErrors{m: map[string]lastError{}}
	s := litestream.NewStore(nil, compactionLevels)
	s.L0Retention = l0Retention
	s.Logger = slog.New(&errorTap{next: log.Handler(), last: errs}).With("system", "litestream")
	s.L0RetentionCheckInterval = l0RetentionCheckInterval
	s.ShutdownSyncTimeout = shutdownSyncTimeout
	if err := s.Open(ctx); err != nil {
		return nil, fmt.Errorf("cannot start replication: %w", err)
	}
	// Store.Open starts each compaction monitor with an immediate pass; a
	// database registered during that pass before Litestream has read it is
	// "not ready", and the monitors then retry every second for 30s,
	// snapshotting whatever registers meanwhile. Litestream's DB.Close races
	// with such a snapshot (found by -race), so let the first pass run while
	// nothing is registered.
	time.Sleep(100 * time.Millisecond)
	r := &replicator{
		store: s, log: log, errs: errs,
		syncInterval: opts.syncInterval,
		linger:       orDefault(opts.linger, DefaultLinger),
		maxLingering: orDefault(opts.maxLingering, DefaultMaxLingering),
		regs:         map[string]*registration{},
		marks:        map[string]replicaMark{},
		idle:         list.New(),
		stop:         make(chan struct{}),
		overflow:     make(chan struct{}, 1),
		listPath:     opts.listPath,
		atLastStop:   registeredAtLastStop(opts.listPath),
	}
	r.ctx, r.quit = context.WithCancel(context.Background())
	r.wg.Add(2)
	go r.reap()
	go r.drive(orDefault(opts.syncInterval, litestream.DefaultMonitorInterval))
	return r, nil
}

func orDefault[T ~int64 | ~int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// acquire registers the database at path with Litestream, replicating to t
// under the prefix elems, or joins its registration. It returns once
// Litestream tracks the file; the caller may then open and write it. Call
// release when done.
func (r *replicator) acquire(ctx context.Context, path string, t *replicaTarget, elems ...string) error {
	for {
		r.mu.Lock()
		g := r.regs[path]
		if g == nil {
			g = &registration{path: path, users: 1, ready: make(chan struct{})}
			r.regs[path] = g
			r.mu.Unlock()
			return r.register(ctx, g, t, elems)
		}
		if g.leaving != nil {
			leaving := g.leaving
			r.mu.Unlock()
			select {
			case <-leaving:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		g.users++
		if g.elem != nil {
			r.idle.Remove(g.elem)
			g.elem = nil
		}
		r.mu.Unlock()
		<-g.ready
		return g.err
	}
}

func (r *replicator) register(ctx context.Context, g *registration, t *replicaTarget, elems []string) error {
	g.where = replicaWhere(t, elems)
	var (
		client litestream.ReplicaClient
		db     *litestream.DB
		err    error
	)
	if r.newClient != nil {
		client, err = r.newClient(ctx, t, elems)
	} else {
		client = t.client(elems...)
		err = initClient(ctx, client, t)
	}
	if err == nil {
		db = r.newDB(g.path, client, t)
		err = r.store.RegisterDB(db)
	}
	r.mu.Lock()
	if err != nil {
		g.err = fmt.Errorf("cannot replicate %s: %w", g.path, err)
		delete(r.regs, g.path)
	} else {
		g.db, g.client = db, client
	}
	close(g.ready)
	r.mu.Unlock()
	if err == nil {
		r.mu.Lock()
		r.listChanged = true
		r.mu.Unlock()
		if _, serr := os.Stat(metaPath(g.path)); serr == nil && r.reregistered != nil {
			r.reregistered(g.path) // Litestream has state from an earlier registration
		}
	}
	return g.err
}

// saveRegistered writes the names of the registered files to listPath, if
// they changed since the last time. Not synced: a crash of the process
// keeps it; the loss of a power cut only skips some verifications. So,
// after a crash, it names the files that were being replicated when the
// process died (give or take one driver tick): their replicas are
// verified first.
func (r *replicator) saveRegistered() {
	r.mu.Lock()
	if !r.listChanged || r.listPath == "" {
		r.mu.Unlock()
		return
	}
	r.listChanged = false
	var b strings.Builder
	for path := range r.regs {
		b.WriteString(filepath.Base(path) + "\n")
	}
	r.mu.Unlock()
	tmp := r.listPath + ".tmp"
	err := os.WriteFile(tmp, []byte(b.String()), 0o600)
	if err == nil {
		err = os.Rename(tmp, r.listPath)
	}
	if err != nil {
		r.log.Warn("cannot record the files being replicated", "path", r.listPath, "err", err)
	}
}

// registeredAtLastStop reads the names of the files that were registered
// when the last process stopped, if it did not close cleanly.
func registeredAtLastStop(listPath string) []string {
	b, err := os.ReadFile(listPath)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func (r *replicator) newDB(path string, client litestream.ReplicaClient, t *replicaTarget) *litestream.DB {
	db := litestream.NewDB(path)
	db.MonitorInterval = 0 // the replicator's driver syncs it
	db.Replica = litestream.NewReplicaWithClient(db, client)
	interval := r.syncInterval
	if interval == 0 {
		interval = t.syncInterval
	}
	if interval > 0 {
		db.Replica.SyncInterval = interval
	}
	return db
}

// release ends one use of path's registration. The registration lingers;
// beyond maxLingering the longest unused one is unregistered, by the reaper,
// or by the caller when the reaper has fallen behind: a burst of closes
// must not grow the registrations (memory) without bound.
func (r *replicator) release(path string) {
	r.mu.Lock()
	g := r.regs[path]
	if g == nil || g.leaving != nil {
		r.mu.Unlock()
		return
	}
	g.users--
	if g.users > 0 {
		r.mu.Unlock()
		return
	}
	g.idleSince = time.Now()
	g.pending = true
	g.elem = r.idle.PushBack(g)
	behind := r.idle.Len() > 2*r.maxLingering
	if r.idle.Len() > r.maxLingering {
		select {
		case r.overflow <- struct{}{}:
		default: // the reaper is already woken
		}
	}
	r.mu.Unlock()
	if behind {
		if g := r.nextToUnregister(time.Now()); g != nil {
			r.finishUnregister(context.Background(), g)
		}
	}
}

// reap unregisters, one at a time, the lingering registrations beyond
// maxLingering and those unused for longer than linger. One at a time:
// closing a Litestream DB is CPU work (a last sync, a checkpoint), and a
// goroutine per unregistration let a burst of them take both cores from
// the requests. Until its turn comes a registration can still be reused.
// When it falls behind, release unregisters in its caller (see there).
func (r *replicator) reap() {
	defer r.wg.Done()
	t := time.NewTicker(min(r.linger/4, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.overflow:
		}
		for {
			g := r.nextToUnregister(time.Now())
			if g == nil {
				break
			}
			r.finishUnregister(context.Background(), g)
			if r.ctx.Err() != nil {
				return
			}
		}
	}
}

// nextToUnregister takes the longest unused registration off the idle list
// and marks it leaving, if the list is over its bound or it is too old.
func (r *replicator) nextToUnregister(now time.Time) *registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	front := r.idle.Front()
	if front == nil {
		return nil
	}
	g := front.Value.(*registration)
	if r.idle.Len() <= r.maxLingering && now.Sub(g.idleSince) < r.linger {
		return nil
	}
	r.startLeaving(g)
	return g
}

// startLeaving takes g off the idle list and marks it leaving, for
// finishUnregister; acquire waits for it. r.mu must be held.
func (r *replicator) startLeaving(g *registration) {
	r.idle.Remove(g.elem)
	g.elem = nil
	g.leaving = make(chan struct{})
}

// finishUnregister syncs g a last time, stops replicating it and forgets it.
func (r *replicator) finishUnregister(ctx context.Context, g *registration) error {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	// Litestream's Close skips its final sync for a file it never synced
	// (it initialises lazily), so a brief registration would replicate
	// nothing: sync first.
	err := syncLocal(ctx, g.db)
	dropIdleConn(g.db)
	if uerr := r.unregisterHoldingWAL(ctx, g.path); err == nil {
		err = uerr
	}
	r.mu.Lock()
	r.listChanged = true
	if err != nil {
		r.dirty = true
		r.log.Error("final replication sync failed; the next start retries it", "path", g.path, "err", err)
	} else if txid := uint64(g.db.Replica.Pos().TXID); txid > 0 {
		r.marks[g.where] = replicaMark{txid: txid, at: g.db.LastSuccessfulSyncAt()}
	}
	delete(r.regs, g.path)
	r.mu.Unlock()
	close(g.leaving)
	return err
}

// unregisterHoldingWAL stops replicating path while a connection of the
// app's holds its WAL (store.HoldWAL): Litestream's connections cut a WAL
// back after it starts over (store.WALSizeLimit), and the last of them to
// close would cut it to nothing, which makes the next registration upload
// a full snapshot of the file.
func (r *replicator) unregisterHoldingWAL(ctx context.Context, path string) error {
	release, err := store.HoldWAL(path)
	if err != nil {
		r.log.Warn("cannot hold the WAL while unregistering; the next registration may upload a full snapshot", "path", path, "err", err)
		return r.store.UnregisterDB(ctx, path)
	}
	err = r.store.UnregisterDB(ctx, path)
	if rerr := release(); err == nil {
		err = rerr
	}
	return err
}

// remove unregisters path now (after a last sync), for a deletion, restore
// or move that is about to replace or remove the file. Brief users such as
// a startup sync are waited for; the caller has closed the app's handle.
func (r *replicator) remove(ctx context.Context, path string) error {
	for {
		r.mu.Lock()
		g := r.regs[path]
		switch {
		case g == nil:
			r.mu.Unlock()
			return nil
		case g.leaving != nil:
			leaving := g.leaving
			r.mu.Unlock()
			<-leaving
			continue
		case g.users > 0:
			r.mu.Unlock()
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r.startLeaving(g)
		r.mu.Unlock()
		return r.finishUnregister(ctx, g)
	}
}

// drive syncs, every interval, the files that can have changed.
func (r *replicator) drive(every time.Duration) {
	defer r.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.syncChanging()
			r.saveRegistered()
			r.settleL0(now)
		}
	}
}

func (r *replicator) syncChanging() {
	r.eachLive(func(g *registration) bool { return g.users > 0 || g.pending }, r.syncIfChanged)
}

// settleL0 runs Litestream's L0 retention for each registered file whose
// l0Due has come, so the L0 files of a big write leave the disk soon after
// they may (see l0SettleDelay).
func (r *replicator) settleL0(now time.Time) {
	due := func(g *registration) bool {
		if g.l0Due.IsZero() || now.Before(g.l0Due) {
			return false
		}
		g.l0Due = time.Time{}
		return true
	}
	r.eachLive(due, func(g *registration) {
		r.whileLive(g, func() {
			if err := g.db.EnforceL0RetentionByTime(r.ctx); err != nil && r.ctx.Err() == nil {
				r.log.Warn("L0 retention failed", "path", g.path, "err", err)
			}
		})
	})
}

// eachLive calls fn, one at a time until the replicator closes, for each
// registration neither closed nor leaving that pick (called under r.mu)
// chooses.
func (r *replicator) eachLive(pick func(*registration) bool, fn func(*registration)) {
	r.mu.Lock()
	var gs []*registration
	for _, g := range r.regs {
		if g.db != nil && g.leaving == nil && pick(g) {
			gs = append(gs, g)
		}
	}
	r.mu.Unlock()
	for _, g := range gs {
		if r.ctx.Err() != nil {
			return
		}
		fn(g)
	}
}

// whileLive runs fn under g's syncMu, like the driver's syncs, if g is
// still neither closed nor leaving: Litestream must not be asked about a
// DB the reaper closed, which would open it again outside the store.
func (r *replicator) whileLive(g *registration, fn func()) {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	r.mu.Lock()
	live := g.db != nil && g.leaving == nil
	r.mu.Unlock()
	if live {
		fn()
	}
}

// whileLitestreamOpen runs fn, and reports whether it did, if path is
// registered and Litestream's connection to it is open (opened at its
// first sync), which it stays until the registration goes: fn runs under
// the registration's syncMu, so neither a sync nor an unregistration can
// close it meanwhile. A connection that has read a file in WAL mode keeps a
// shared lock on it while open; so, while Litestream's is, one of the
// app's that closes is not the file's last, which would checkpoint the WAL
// into the file and let the next write start the WAL over frames
// Litestream had perhaps not read (see store.openPool).
func (r *replicator) whileLitestreamOpen(path string, fn func()) bool {
	r.mu.Lock()
	g := r.regs[path]
	r.mu.Unlock()
	ran := false
	if g != nil {
		r.whileLive(g, func() {
			if g.db.SQLDB() != nil {
				fn()
				ran = true
			}
		})
	}
	return ran
}

// syncIfChanged syncs g unless its WAL is as it was at the last sync: most
// leases only read. The stamp is taken before the sync, so a write racing
// with it shows as a change next time.
func (r *replicator) syncIfChanged(g *registration) {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	stamp := stampWAL(g.path)
	r.mu.Lock()
	unchanged := stamp.valid() && stamp == g.synced
	if unchanged && g.users == 0 {
		g.pending = false
	}
	skip := g.leaving != nil || unchanged
	r.mu.Unlock()
	if skip {
		return
	}
	if err := syncLocal(r.ctx, g.db); err != nil {
		if r.ctx.Err() == nil {
			r.errs.set(filepath.Base(g.path), "sync: "+err.Error())
			r.log.Warn("replication sync failed", "path", g.path, "err", err)
		}
		return
	}
	dropIdleConn(g.db)
	r.mu.Lock()
	g.synced = stamp
	if g.l0Due.IsZero() {
		g.l0Due = time.Now().Add(l0SettleDelay)
	}
	if g.users == 0 {
		g.pending = false
	}
	r.mu.Unlock()
}

// walStamp tells whether a WAL file changed since it was stamped. SQLite
// appends frames, which grows the file, or, after a checkpoint, restarts
// the WAL from its start with new salts in its header, often at the same
// size. File times are too coarse (one kernel tick) to tell on their own.
type walStamp struct {
	size    int64
	modTime time.Time
	header  [32]byte
}

func stampWAL(dbPath string) walStamp {
	f, err := os.Open(dbPath + "-wal")
	if err != nil {
		return walStamp{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return walStamp{}
	}
	s := walStamp{size: fi.Size(), modTime: fi.ModTime()}
	if _, err := f.ReadAt(s.header[:], 0); err != nil {
		return walStamp{}
	}
	return s
}

func (s walStamp) valid() bool { return !s.modTime.IsZero() }

// sync replicates path's pending changes now and waits for the upload.
func (r *replicator) sync(ctx context.Context, path string) (litestream.SyncDBResult, error) {
	if _, err := r.syncPathLocally(ctx, path); err != nil {
		return litestream.SyncDBResult{}, err
	}
	return r.store.SyncDB(ctx, path, true)
}

// syncPathLocally turns path's new WAL frames into LTX files without
// waiting for their upload, and returns the last transaction Litestream
// recorded locally (0 when path is not registered).
func (r *replicator) syncPathLocally(ctx context.Context, path string) (uint64, error) {
	r.mu.Lock()
	g := r.regs[path]
	r.mu.Unlock()
	if g == nil {
		return 0, nil
	}
	// A caller that holds no registration (restore) may find it closed.
	var txid uint64
	var err error
	r.whileLive(g, func() {
		if err = syncLocal(ctx, g.db); err != nil {
			return
		}
		var pos ltx.Pos
		pos, err = g.db.Pos()
		txid = uint64(pos.TXID)
	})
	return txid, err
}

// syncLocal turns db's new WAL frames into LTX files, which the replica
// then uploads. It ignores ctx's cancellation: the first sync of a file
// initialises Litestream's state for it, and an init cancelled half way
// (Litestream v0.5.18, DB.init after setPersistWAL) leaves a DB whose every
// later sync fails with "invalid argument". The work is local and bounded
// by the WAL's size.
func syncLocal(ctx context.Context, db *litestream.DB) error {
	return db.Sync(context.WithoutCancel(ctx))
}

// dropIdleConn closes the connection Litestream's pool keeps idle beside
// the one that holds its read transaction, and any it opens later once it
// is done with it. It saves ~90 KB of SQLite memory per registration
// (BENCHMARKS.md). It also matters when Litestream closes the database:
// only the read transaction's connection has PERSIST_WAL set, so it must be
// the last to close: if the other one did, SQLite would delete the WAL, and
// the next registration would upload a full snapshot of the file (see
// store.openPool for the app's side of this).
func dropIdleConn(db *litestream.DB) {
	if sqlDB := db.SQLDB(); sqlDB != nil {
		sqlDB.SetMaxIdleConns(0)
	}
}

// replicaWhere names one database's place in a replica: the target's
// location and the database's prefix below it.
func replicaWhere(t *replicaTarget, elems []string) string {
	return t.location() + "/" + strings.Join(elems, "/")
}

// mark returns what is remembered of the replica at where.
func (r *replicator) mark(where string) (replicaMark, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mk, ok := r.marks[where]
	return mk, ok
}

// setMark remembers the replica at where, as read from it, unless a newer
// position is known (a slow listing can end after an unregistration).
func (r *replicator) setMark(where string, mk replicaMark) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.marks[where]; !ok || mk.txid > old.txid {
		r.marks[where] = mk
	}
}

// forgetMarks drops what is remembered of every replica under prefix, when
// its objects are deleted.
func (r *replicator) forgetMarks(prefix string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for where := range r.marks {
		if nested(prefix, where) {
			delete(r.marks, where)
		}
	}
}

// registered returns the Litestream DB of path, or nil.
func (r *replicator) registered(path string) *litestream.DB {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.regs[path]; g != nil && g.err == nil && g.leaving == nil && g.db != nil {
		return g.db
	}
	return nil
}

// registeredDBs returns the Litestream DB of each file registered now, by
// path.
func (r *replicator) registeredDBs() map[string]*litestream.DB {
	r.mu.Lock()
	defer r.mu.Unlock()
	dbs := make(map[string]*litestream.DB, len(r.regs))
	for path, g := range r.regs {
		if g.err == nil && g.leaving == nil && g.db != nil {
			dbs[path] = g.db
		}
	}
	return dbs
}

// lingering returns how many registrations have no user now.
func (r *replicator) lingering() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idle.Len()
}

// close syncs every registered database a last time and stops replicating.
// The pending WAL of each is turned into LTX files a few at a time (Close
// skips that for a file Litestream never synced); then Store.Close stops
// the compaction monitors before it uploads and closes each database, so
// no snapshot is reading a database as it closes. It reports whether
// everything replicated cleanly during this run.
func (r *replicator) close(ctx context.Context) (clean bool, err error) {
	close(r.stop)
	r.quit()
	r.wg.Wait()
	r.mu.Lock()
	var gs []*registration
	for _, g := range r.regs {
		if g.db != nil && g.leaving == nil {
			gs = append(gs, g)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, g := range gs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := syncLocal(ctx, g.db)
			if uerr := r.unregisterHoldingWAL(ctx, g.path); err == nil {
				err = uerr
			}
			if err != nil {
				r.log.Error("final replication sync failed; the next start retries it", "path", g.path, "err", err)
				r.mu.Lock()
				r.dirty = true
				r.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	err = r.store.Close(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	clean = !r.dirty && err == nil
	if clean && r.listPath != "" {
		os.Remove(r.listPath)
	}
	r.regs = map[string]*registration{}
	r.idle.Init()
	return clean, err
}
