package tenant

import (
	"container/list"
	"context"
	"sync"

	"atrium/store"
)

// DefaultMaxOpen is how many idle workspace handles stay open by default.
const DefaultMaxOpen = 256

// warmIdle is how many of the idle handles, the most recently used, keep
// all their memory. Each older idle handle is cooled once when it passes
// that rank (see Cache.cool): most of --max-open's handles are of
// workspaces not used for minutes, and their page caches, kept statements
// and reader connections were ~0.15–0.5 MB each (BENCHMARKS.md, session
// 12). A variable so tests can lower it.
var warmIdle = 32

// openFunc opens a workspace's file (migrating it); closeFunc closes it,
// told whether the handle was cooled (see Cache.cool) since its last lease.
type (
	openFunc  func(ctx context.Context, id string) (*store.DB, *store.Workspace, error)
	closeFunc func(db *store.DB, w *store.Workspace, cooled bool)
)

// Cache keeps workspace handles open, at most maxOpen of them once idle.
// A handle is never closed while leased; idle handles beyond maxOpen are
// closed least recently used first, off the caller's path. Opening is
// single-flight: concurrent first leases of a workspace open its file once.
type Cache struct {
	maxOpen int
	open    openFunc
	close   closeFunc

	mu       sync.Mutex
	entries  map[string]*entry
	idle     *list.List               // leaseless entries, least recently used at the front
	closing  map[string]chan struct{} // handles being closed; a re-open waits for them
	takenOut map[string]error         // workspaces being deleted, restored or moved: what a new lease gets
	// takingOut, when set, hears of a workspace being taken out, before
	// its leases are waited for (the Manager stops jobs that give way).
	takingOut func(id string)
	// cool, when set, releases the memory of an idle handle that fell out
	// of the warmIdle most recently used (see Manager.coolWorkspace). It
	// runs on a goroutine of its own (it may wait for a write of a lease
	// taken meanwhile), and the handle is not closed before it returns.
	cool    func(id string, db *store.DB)
	shut    bool
	closers sync.WaitGroup
	// hits, misses and evictions count leases of an open handle, leases
	// that opened the file, and idle handles closed for room (CacheStats).
	hits, misses, evictions uint64
}

type entry struct {
	id      string
	db      *store.DB
	ws      *store.Workspace
	err     error
	ready   chan struct{} // closed once the open finished, with db or err set
	leases  int
	elem    *list.Element  // position in idle while leaseless
	cooled  bool           // cooled since its last lease
	cooling sync.WaitGroup // a cool under way; closing waits for it
	drained chan struct{}  // closed when the last lease ends, for a waiting takeOut
}

// Lease is one user's hold on an open workspace handle. Release it exactly
// once the work is done; the handle stays open until then.
//
// A lease carries only what cannot change while it is held: the id, the
// region and the file (a move or a restore takes the workspace out of the
// cache first). The name and the other mutable facts are read fresh from
// the catalog (Manager.Workspace), so no stale copy travels with it.
type Lease struct {
	*store.DB
	ID     string
	Region string
	cache  *Cache
	entry  *entry
	once   sync.Once
}

// Release ends the lease. Calling it again does nothing.
func (l *Lease) Release() {
	l.once.Do(func() { l.cache.release(l.entry) })
}

func newCache(maxOpen int, open openFunc, close closeFunc) *Cache {
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpen
	}
	return &Cache{
		maxOpen:  maxOpen,
		open:     open,
		close:    close,
		entries:  map[string]*entry{},
		idle:     list.New(),
		closing:  map[string]chan struct{}{},
		takenOut: map[string]error{},
	}
}

// Acquire returns a lease on the open handle of workspace id, opening it if
// needed. id must already be canonical (see ParseID).
func (c *Cache) Acquire(ctx context.Context, id string) (*Lease, error) {
	for {
		c.mu.Lock()
		if c.shut {
			c.mu.Unlock()
			return nil, store.Errorf(store.EUnavailable, "The server is shutting down.")
		}
		if refusal, ok := c.takenOut[id]; ok {
			c.mu.Unlock()
			return nil, refusal
		}
		if e, ok := c.entries[id]; ok {
			c.hits++
			c.addLease(e)
			c.mu.Unlock()
			return c.await(ctx, e)
		}
		if done, ok := c.closing[id]; ok {
			c.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e := &entry{id: id, ready: make(chan struct{}), leases: 1}
		c.entries[id] = e
		c.misses++
		c.mu.Unlock()
		return c.openEntry(ctx, e)
	}
}

// addLease takes a lease on e; c.mu must be held.
func (c *Cache) addLease(e *entry) {
	e.leases++
	e.cooled = false
	if e.elem != nil {
		c.idle.Remove(e.elem)
		e.elem = nil
	}
}

// pushIdle makes leaseless e the most recently used idle handle and returns
// the one it pushed past the warmIdle most recent, if that one is still to
// be cooled; c.mu must be held. Idle handles move away from the recent end
// only here, one rank per push, so each is returned once per idle spell.
func (c *Cache) pushIdle(e *entry) *entry {
	e.elem = c.idle.PushBack(e)
	past := c.idle.Back()
	for i := 0; i < warmIdle && past != nil; i++ {
		past = past.Prev()
	}
	if past == nil {
		return nil
	}
	cold := past.Value.(*entry)
	if cold.cooled || c.cool == nil {
		return nil
	}
	cold.cooled = true
	cold.cooling.Add(1)
	return cold
}

// coolDown starts c.cool on cold, an entry pushIdle returned, if any.
func (c *Cache) coolDown(cold *entry) {
	if cold == nil {
		return
	}
	go func() {
		defer cold.cooling.Done()
		c.cool(cold.id, cold.db)
	}()
}

// closeEntry closes e's handle once a cool of it is over. e is out of the
// cache, so e.cooled no longer changes.
func (c *Cache) closeEntry(e *entry) {
	e.cooling.Wait()
	c.close(e.db, e.ws, e.cooled)
}

// isCool reports whether id's handle is open, leaseless and cooled: its
// file has not changed since the cool, and cannot before its next lease.
func (c *Cache) isCool(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[id]
	return e != nil && e.leases == 0 && e.cooled
}

// await waits for e's open to finish and turns it into a lease.
func (c *Cache) await(ctx context.Context, e *entry) (*Lease, error) {
	select {
	case <-e.ready:
	case <-ctx.Done():
		c.release(e)
		return nil, ctx.Err()
	}
	if e.err != nil {
		c.release(e)
		return nil, e.err
	}
	return &Lease{DB: e.db, ID: e.id, Region: e.ws.Region, cache: c, entry: e}, nil
}

// openEntry opens the file for a new entry. The open does not follow the
// caller's cancellation: other callers may be waiting on the same open.
func (c *Cache) openEntry(ctx context.Context, e *entry) (*Lease, error) {
	db, ws, err := c.open(context.WithoutCancel(ctx), e.id)
	c.mu.Lock()
	e.db, e.ws, e.err = db, ws, err
	if err != nil {
		delete(c.entries, e.id)
	}
	close(e.ready)
	c.mu.Unlock()
	c.evict()
	return c.await(ctx, e)
}

func (c *Cache) release(e *entry) {
	var cold *entry
	c.mu.Lock()
	e.leases--
	if e.leases == 0 {
		switch {
		case e.drained != nil:
			close(e.drained)
			e.drained = nil
		case e.err == nil && c.entries[e.id] == e && !c.isTakenOut(e.id):
			cold = c.pushIdle(e)
		}
	}
	c.mu.Unlock()
	c.evict()
	c.coolDown(cold)
}

// evict closes idle handles, least recently used first, while more than
// maxOpen are open.
func (c *Cache) evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.entries) > c.maxOpen && c.idle.Len() > 0 {
		e := c.idle.Remove(c.idle.Front()).(*entry)
		e.elem = nil
		delete(c.entries, e.id)
		c.evictions++
		done := make(chan struct{})
		c.closing[e.id] = done
		c.closers.Add(1)
		go func() {
			defer c.closers.Done()
			c.closeEntry(e)
			c.mu.Lock()
			delete(c.closing, e.id)
			c.mu.Unlock()
			close(done)
		}()
	}
}

// takeOut refuses new leases of id with refusal, waits until the existing
// ones end, and closes the handle, so a deletion, restore or move can work
// on the file alone. Call putBack when it is over.
func (c *Cache) takeOut(ctx context.Context, id string, refusal error) error {
	c.mu.Lock()
	if _, ok := c.takenOut[id]; ok {
		c.mu.Unlock()
		return store.Errorf(store.EConflict, "Workspace %s is already being deleted, restored or moved.", id)
	}
	c.takenOut[id] = refusal
	e := c.entries[id]
	var drained chan struct{}
	if e != nil && e.leases > 0 {
		drained = make(chan struct{})
		e.drained = drained
	}
	c.mu.Unlock()
	if drained != nil && c.takingOut != nil {
		c.takingOut(id)
	}

	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			c.abortTakeOut(id, e)
			return store.Errorf(store.EUnavailable, "Workspace %s is still in use; the operation was cancelled: %v.", id, ctx.Err())
		}
	}
	c.mu.Lock()
	if e != nil {
		if e.elem != nil {
			c.idle.Remove(e.elem)
			e.elem = nil
		}
		if c.entries[id] == e {
			delete(c.entries, id)
		}
	}
	done := c.closing[id]
	c.mu.Unlock()
	if e != nil && e.err == nil && e.db != nil {
		c.closeEntry(e)
	}
	if done != nil {
		<-done
	}
	return nil
}

func (c *Cache) abortTakeOut(id string, e *entry) {
	var cold *entry
	c.mu.Lock()
	delete(c.takenOut, id)
	if e.drained != nil {
		e.drained = nil
		if e.leases == 0 && c.entries[id] == e {
			cold = c.pushIdle(e)
		}
	}
	c.mu.Unlock()
	c.coolDown(cold)
}

// isTakenOut reports whether id is taken out; c.mu must be held.
func (c *Cache) isTakenOut(id string) bool {
	_, ok := c.takenOut[id]
	return ok
}

// putBack lets id be leased again after takeOut.
func (c *Cache) putBack(id string) {
	c.mu.Lock()
	delete(c.takenOut, id)
	c.mu.Unlock()
}

// Len returns how many handles are open, leased or idle.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// CacheStats counts the handle cache's work since the start.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	// Open is how many handles are open now, leased or idle.
	Open int
}

// Stats returns the cache's counts.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Evictions: c.evictions, Open: len(c.entries)}
}

// Close refuses new leases and closes every handle. Callers stop serving
// requests first, so no lease is held by then.
func (c *Cache) Close() {
	c.mu.Lock()
	c.shut = true
	var open []*entry
	for _, e := range c.entries {
		open = append(open, e)
	}
	c.entries = map[string]*entry{}
	c.idle.Init()
	c.mu.Unlock()
	for _, e := range open {
		<-e.ready
		if e.err == nil {
			c.closeEntry(e)
		}
	}
	c.closers.Wait()
}
