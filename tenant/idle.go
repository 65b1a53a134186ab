package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"atrium/outreach"
	"atrium/store"
)

// IMAP IDLE: a mailbox whose server offers it is listened to by a watcher,
// a goroutine holding one connection in IDLE on its folder. When mail
// arrives, the watcher makes the mailbox's poll due now, and the poll job
// reads and records it: the watcher never records a message, so the poll
// keeps the one high-water mark. Watchers are started by a poll that went
// well (so a server restart brings them back with the first polls) and
// stopped by the poll job after the mailbox changed (store makes a poll
// due on each change that matters), by a sweep when the workspace is no
// longer active where it was, and by Close.
const (
	// DefaultMaxIdleWatchers bounds the watchers of the instance, each an
	// open connection and a goroutine; beyond it mailboxes are polled.
	DefaultMaxIdleWatchers = 200
	// idleRenew is how long one IDLE command lasts: RFC 2177 servers may
	// drop a client idle for 30 minutes.
	idleRenew = 25 * time.Minute
	// pollWatchedEvery is how often a mailbox that is listened to is
	// polled all the same: a safety net for an arrival the server did not
	// announce or a connection lost without a word. The poll also catches
	// what came while a watcher reconnected.
	pollWatchedEvery = 10 * time.Minute
	// A watcher whose connection fails tries again after idleRetryMin,
	// doubling up to idleRetryCap; a connection that lasted idleHealthy
	// starts the doubling over.
	idleRetryMin = 30 * time.Second
	idleRetryCap = 30 * time.Minute
	idleHealthy  = 5 * time.Minute
	// idleSweepEvery is how often the watchers of workspaces trashed,
	// deleted or moved are looked for (one catalog read each).
	idleSweepEvery = 30 * time.Second
	// idleCloseWait bounds how long Close waits for the watchers: their
	// connections are closed, so they end at once.
	idleCloseWait = 5 * time.Second
)

// errStopWatching ends a watcher whose workspace or mailbox is gone.
var errStopWatching = errors.New("the mailbox is no longer watched")

// idleWatchers are the instance's watchers, by workspace and mailbox.
type idleWatchers struct {
	max int
	mu  sync.Mutex
	// byKey holds the running watchers; noIdle the settings (by
	// fingerprint) of mailboxes whose server has no IDLE, not tried again.
	byKey    map[string]*idleWatcher
	noIdle   map[string]string
	sweeping bool
	closed   bool
	wg       sync.WaitGroup
}

// idleWatcher listens to one mailbox's folder, with the settings whose
// fingerprint it has, in the region the workspace was in.
type idleWatcher struct {
	workspaceID, region, mailboxID, fingerprint string
	cancel                                      context.CancelFunc
	listening                                   atomic.Bool  // IDLE runs now
	heard                                       atomic.Int64 // when mail last arrived, unix nanoseconds
}

func newIdleWatchers(max int) idleWatchers {
	return idleWatchers{max: orDefault(max, DefaultMaxIdleWatchers), byKey: map[string]*idleWatcher{}, noIdle: map[string]string{}}
}

func idleKey(workspaceID, mailboxID string) string { return workspaceID + "/" + mailboxID }

func (w *idleWatcher) key() string { return idleKey(w.workspaceID, w.mailboxID) }

// imapFingerprint names a mailbox's IMAP settings: another fingerprint,
// another connection. The password is the sealed one, never in clear.
func imapFingerprint(mb *store.Mailbox) string {
	h := sha256.Sum256([]byte(strings.Join([]string{mb.IMAPHost, strconv.Itoa(mb.IMAPPort), mb.IMAPTLS, mb.IMAPUsername,
		mb.IMAPPassword, mb.IMAPFolder}, "\x00")))
	return hex.EncodeToString(h[:])
}

// listensIDLE says whether a mailbox is to be listened to: a paused one
// is polled now and then, as answers to what it sent still come.
func listensIDLE(mb *store.Mailbox) bool { return mb.PollsIMAP() && mb.State == store.MailboxActive }

// watchIdle starts listening to a mailbox just polled well, with srv,
// unless it is listened to with these settings already, its server has no
// IDLE, or the instance has its most watchers. A watcher with other
// settings is replaced.
func (s *Service) watchIdle(mb *store.Mailbox, srv outreach.IMAPServer) {
	m, ws := s.m, &s.m.idle
	w := &idleWatcher{workspaceID: s.lease.ID, region: s.lease.Region, mailboxID: mb.ID, fingerprint: imapFingerprint(mb)}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed || !listensIDLE(mb) || ws.noIdle[w.key()] == w.fingerprint {
		return
	}
	if old := ws.byKey[w.key()]; old != nil {
		if old.fingerprint == w.fingerprint && old.region == w.region {
			return
		}
		old.cancel()
		delete(ws.byKey, w.key())
	}
	if len(ws.byKey) >= ws.max {
		return
	}
	ctx, cancel := context.WithCancel(m.bgCtx)
	w.cancel = cancel
	ws.byKey[w.key()] = w
	ws.goWatch(func() { m.runWatcher(ctx, w, srv) })
	if !ws.sweeping {
		ws.sweeping = true
		ws.goWatch(func() { m.sweepIdleLoop(m.bgCtx) })
	}
}

func (ws *idleWatchers) goWatch(fn func()) {
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		fn()
	}()
}

// runWatcher listens until its context ends, the server turns out to have
// no IDLE, or the mailbox or its workspace is gone; a lost connection is
// made again after a backoff.
func (m *Manager) runWatcher(ctx context.Context, w *idleWatcher, srv outreach.IMAPServer) {
	defer m.idle.forget(w)
	var wait time.Duration
	for {
		began := time.Now()
		err := outreach.Idle(ctx, srv, outreach.IdleWatch{Renew: idleRenew,
			Listening: func() { w.listening.Store(true) },
			NewMail: func(ctx context.Context) error {
				w.heard.Store(time.Now().UnixNano()) // before the poll is due: see Service.recordPoll
				return m.pollNow(ctx, w)
			}})
		wasListening := w.listening.Swap(false)
		switch {
		case ctx.Err() != nil || errors.Is(err, errStopWatching):
			return
		case errors.Is(err, outreach.ErrNoIdle):
			m.idle.markNoIdle(w)
			return
		}
		if wasListening {
			// What comes while it is down is the poll's, no longer
			// relaxed: it looks now, then every pollEvery.
			if err := m.pollNow(ctx, w); errors.Is(err, errStopWatching) {
				return
			}
		}
		wait = idleRetryAfter(wait, time.Since(began))
		m.log.Info("IMAP IDLE stopped; listening again later", "workspace", w.workspaceID, "mailbox", w.mailboxID, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait + rand.N(wait/4)): // the watchers of a server that came back do not all knock at once
		}
	}
}

// idleRetryAfter is how long a watcher waits before it connects again,
// after waiting prev (0 the first time) for a connection that lasted
// lasted: idleRetryMin, doubling with each failure up to idleRetryCap; a
// connection that lasted idleHealthy starts over.
func idleRetryAfter(prev, lasted time.Duration) time.Duration {
	if prev == 0 || lasted >= idleHealthy {
		return idleRetryMin
	}
	return min(2*prev, idleRetryCap)
}

// pollNow makes a watched mailbox's poll due now through a short lease:
// a watcher holds none while it listens, so the cache may close the
// workspace meanwhile. errStopWatching when the workspace or the mailbox
// is gone, or the workspace moved.
func (m *Manager) pollNow(ctx context.Context, w *idleWatcher) error {
	l, err := m.Acquire(ctx, w.workspaceID)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", errStopWatching, err)
	}
	defer l.Release()
	if l.Region != w.region {
		return errStopWatching
	}
	err = store.PollNow(ctx, l.DB, w.mailboxID, m.now())
	if store.ErrorCode(err) == store.ENotFound {
		return errStopWatching
	}
	return err
}

// reconcileIdle stops the leased workspace's watchers whose mailbox is
// gone, paused, or reads its folder with other settings. The poll job
// calls it: store makes a poll due after each such change.
func (m *Manager) reconcileIdle(ctx context.Context, l *Lease) error {
	for _, w := range m.idle.of(l.ID) {
		mb, err := store.GetMailbox(ctx, l.DB, w.mailboxID)
		if err != nil && store.ErrorCode(err) != store.ENotFound {
			return err
		}
		if err != nil || !listensIDLE(mb) || imapFingerprint(mb) != w.fingerprint || l.Region != w.region {
			m.idle.stop(w)
		}
	}
	return nil
}

// sweepIdleLoop stops, every idleSweepEvery, the watchers of workspaces
// no longer active in their region: no poll job runs for those.
func (m *Manager) sweepIdleLoop(ctx context.Context) {
	t := time.NewTicker(idleSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sweepIdle(ctx)
		}
	}
}

func (m *Manager) sweepIdle(ctx context.Context) {
	for _, w := range m.idle.of("") {
		ws, err := m.Workspace(ctx, w.workspaceID)
		if store.ErrorCode(err) == store.ENotFound || (err == nil && (ws.State != store.StateActive || ws.Region != w.region)) {
			m.idle.stop(w)
		}
	}
}

// IdleListening says whether a mailbox's folder is listened to now (IMAP
// IDLE) with its current settings.
func (m *Manager) IdleListening(workspaceID string, mb *store.Mailbox) bool {
	m.idle.mu.Lock()
	defer m.idle.mu.Unlock()
	w := m.idle.byKey[idleKey(workspaceID, mb.ID)]
	return w != nil && w.fingerprint == imapFingerprint(mb) && w.listening.Load()
}

// idleHeardSince says whether a mailbox's watcher heard mail arrive since
// t.
func (m *Manager) idleHeardSince(workspaceID, mailboxID string, t time.Time) bool {
	m.idle.mu.Lock()
	defer m.idle.mu.Unlock()
	w := m.idle.byKey[idleKey(workspaceID, mailboxID)]
	return w != nil && w.heard.Load() >= t.UnixNano()
}

// of returns the watchers of a workspace ("" for all).
func (ws *idleWatchers) of(workspaceID string) []*idleWatcher {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var out []*idleWatcher
	for _, w := range ws.byKey {
		if workspaceID == "" || w.workspaceID == workspaceID {
			out = append(out, w)
		}
	}
	return out
}

// stop ends a watcher; its connection closes at once.
func (ws *idleWatchers) stop(w *idleWatcher) {
	w.cancel()
	ws.forget(w)
}

// forget removes a watcher that ended, unless another replaced it.
func (ws *idleWatchers) forget(w *idleWatcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.byKey[w.key()] == w {
		delete(ws.byKey, w.key())
	}
}

func (ws *idleWatchers) markNoIdle(w *idleWatcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.noIdle[w.key()] = w.fingerprint
}

// running is how many watchers run.
func (ws *idleWatchers) running() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.byKey)
}

// close ends every watcher and waits for them, at most wait.
func (ws *idleWatchers) close(wait time.Duration) bool {
	ws.mu.Lock()
	ws.closed = true
	for _, w := range ws.byKey {
		w.cancel()
	}
	ws.mu.Unlock()
	done := make(chan struct{})
	go func() {
		ws.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}
