package tenant

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/google/uuid"

	"atrium/outreach"
	"atrium/store"
)

// A tracking token names a workspace, a message of its ledger and, for a
// click, the index of a link in that message, and is signed with a key
// derived from the workspace's data key:
//
//	base64url( version 1 | 'o' or 'c' | workspace id (16) | message id (16) | [link index (2), clicks only] | HMAC-SHA256 (16) )
//
// Signed, not sealed like an unsubscribe token: it holds no personal data,
// and a signature is deterministic, so a message tried again after a 4xx
// carries the same links. Any byte changed, the workspace id swapped for
// another's, or a token of one kind used as the other fails the signature.
// The destination of a click is never in the token: it is the link at that
// index recorded with the message when it was sent (store.MessageLink),
// so no token redirects anywhere else. As for unsubscribe links, the key
// is in the catalog: a token is checked before any workspace file is
// opened, and a workspace in the trash or deleted answers nothing.
const (
	trackingTokenVersion = 1
	trackingTagBytes     = 16
	openKind, clickKind  = 'o', 'c'
)

// prefetchWithin: an open or click this soon after its message's send is a
// machine's (a scanner, a proxy), not a reader's.
const prefetchWithin = 10 * time.Second

// TrackingClaim is what a valid tracking token says.
type TrackingClaim struct {
	WorkspaceID string
	MessageID   string
	Kind        string // store.TrackOpen or store.TrackClick
	LinkIndex   int    // a click's link
}

// errBadTrackingToken is every failure to read a tracking token: which
// check failed says nothing to whoever tries tokens.
var errBadTrackingToken = store.Errorf(store.ENotFound, "This link is not valid.")

// trackingKey derives a workspace's token key from its data key: the data
// key itself only seals.
func trackingKey(dataKey []byte, workspaceID string) []byte {
	h := hmac.New(sha256.New, dataKey)
	h.Write([]byte("atrium tracking\x00" + workspaceID))
	return h.Sum(nil)
}

func trackingTag(key, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(payload)
	return h.Sum(nil)[:trackingTagBytes]
}

// trackingTokens makes the tokens of one message.
type trackingTokens struct {
	key     []byte
	ws, msg uuid.UUID
}

func (t trackingTokens) token(kind byte, link int) string {
	p := make([]byte, 0, 2+16+16+2+trackingTagBytes)
	p = append(append(append(p, trackingTokenVersion, kind), t.ws[:]...), t.msg[:]...)
	if kind == clickKind {
		p = binary.BigEndian.AppendUint16(p, uint16(link))
	}
	return base64.RawURLEncoding.EncodeToString(append(p, trackingTag(t.key, p)...))
}

// trackMessage rewrites an outgoing message of ledger row messageID for
// tracking (outreach.TrackHTML) and records its links, before it is sent.
func (s *Service) trackMessage(ctx context.Context, m *outreach.Message, messageID string) error {
	msg, err := uuid.Parse(messageID)
	if err != nil {
		return err
	}
	ws, err := uuid.Parse(s.lease.ID)
	if err != nil {
		return err
	}
	k, err := s.m.dataKey(ctx, s.lease.ID, true)
	if err != nil {
		return err
	}
	t := trackingTokens{key: trackingKey(k.key, s.lease.ID), ws: ws, msg: msg}
	base := s.m.publicURL + "/t/"
	body, links := outreach.TrackHTML(m.HTML, s.m.publicURL, func(i int) string { return base + "c/" + t.token(clickKind, i) },
		base+"o/"+t.token(openKind, 0))
	if err := store.SaveMessageLinks(ctx, s.lease.DB, messageID, links); err != nil {
		return err
	}
	m.HTML = body
	return nil
}

func (e senderEnv) Track(ctx context.Context, m *outreach.Message, messageID string) error {
	return e.svc.trackMessage(ctx, m, messageID)
}

// ParseTrackingToken checks a token against the key of the workspace it
// names, which must be active, and returns what it says. It reads at most
// one catalog row and opens no workspace file.
func (m *Manager) ParseTrackingToken(ctx context.Context, token string) (*TrackingClaim, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) < 2 || b[0] != trackingTokenVersion || (b[1] != openKind && b[1] != clickKind) {
		return nil, errBadTrackingToken
	}
	size := 2 + 16 + 16 + trackingTagBytes
	if b[1] == clickKind {
		size += 2
	}
	if len(b) != size {
		return nil, errBadTrackingToken
	}
	ws, _ := uuid.FromBytes(b[2:18])
	msg, _ := uuid.FromBytes(b[18:34])
	wsID := ws.String()
	key, err := m.activeTrackingKey(ctx, wsID)
	if err != nil {
		return nil, err
	}
	payload, tag := b[:len(b)-trackingTagBytes], b[len(b)-trackingTagBytes:]
	if !hmac.Equal(trackingTag(key, payload), tag) {
		return nil, errBadTrackingToken
	}
	c := &TrackingClaim{WorkspaceID: wsID, MessageID: msg.String(), Kind: store.TrackOpen}
	if b[1] == clickKind {
		c.Kind, c.LinkIndex = store.TrackClick, int(binary.BigEndian.Uint16(b[34:36]))
	}
	return c, nil
}

// activeTrackingKey is the token key of a workspace that is active, read
// from the catalog (its state and its data key, one row), or
// errBadTrackingToken. Every tracking request needs it, and the catalog's
// two read connections are shared by every request of the instance, so
// the key is remembered (for at most trackingKeyFor) and used without the
// catalog while the workspace's file is open in the handle cache: only an
// active workspace's can be, and trashing, deleting, restoring or moving
// one closes its file first (Cache.takeOut). Otherwise the catalog is read
// again.
func (m *Manager) activeTrackingKey(ctx context.Context, wsID string) ([]byte, error) {
	if key, ok := m.trackingKeys.get(wsID); ok && m.cache.serving(wsID) {
		return key, nil
	}
	wrapped, ok, err := store.ActiveWorkspaceKey(ctx, m.catalog.R, wsID)
	if err != nil {
		return nil, err
	}
	if !ok {
		m.trackingKeys.forget(wsID)
		return nil, errBadTrackingToken
	}
	dataKey, err := m.master.open(wrapped, wrapAAD(wsID))
	if err != nil {
		return nil, errBadTrackingToken
	}
	key := trackingKey(dataKey, wsID)
	m.trackingKeys.put(wsID, key)
	return key, nil
}

// trackingKeyFor bounds how long a remembered token key is used, and
// maxTrackingKeys how many are (beyond, all are forgotten at once).
const (
	trackingKeyFor  = time.Minute
	maxTrackingKeys = 4096
)

// trackingKeyCache remembers workspaces' token keys (see activeTrackingKey).
type trackingKeyCache struct {
	mu   sync.Mutex
	keys map[string]rememberedKey
}

type rememberedKey struct {
	key []byte
	at  time.Time
}

func (c *trackingKeyCache) get(wsID string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[wsID]
	if !ok || time.Since(k.at) > trackingKeyFor {
		return nil, false
	}
	return k.key, true
}

func (c *trackingKeyCache) put(wsID string, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys) >= maxTrackingKeys {
		c.keys = map[string]rememberedKey{}
	}
	c.keys[wsID] = rememberedKey{key: key, at: time.Now()}
}

func (c *trackingKeyCache) forget(wsID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, wsID)
}

// serving reports whether workspace id's file is open and may be leased:
// opened without error and not taken out.
func (c *Cache) serving(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || c.isTakenOut(id) {
		return false
	}
	select {
	case <-e.ready:
		return e.err == nil
	default:
		return false
	}
}

// TrackOpen records the open a pixel's token names, marked prefetch when
// the request is a mail proxy's. It opens no workspace file: the event
// waits in the buffer. A token that is not valid records nothing.
func (m *Manager) TrackOpen(ctx context.Context, token, userAgent string, ip netip.Addr) error {
	c, err := m.ParseTrackingToken(ctx, token)
	if err != nil {
		return err
	}
	if c.Kind != store.TrackOpen {
		return errBadTrackingToken
	}
	return m.tracking.add(m, c.WorkspaceID, store.TrackingEvent{MessageID: c.MessageID, Kind: store.TrackOpen,
		Prefetch: outreach.MachineFetch(userAgent, ip), UserAgent: userAgent, At: m.now()})
}

// TrackClick records the click a link's token names and returns where it
// goes: the link at its index in the message as sent. A token that is not
// valid, or names no link, records nothing. When the event cannot be
// buffered (the server is stopping) the link is returned with the error:
// the reader still gets where they were going.
func (m *Manager) TrackClick(ctx context.Context, token, userAgent string, ip netip.Addr) (string, error) {
	c, err := m.ParseTrackingToken(ctx, token)
	if err != nil {
		return "", err
	}
	if c.Kind != store.TrackClick {
		return "", errBadTrackingToken
	}
	l, err := m.Acquire(ctx, c.WorkspaceID)
	if err != nil {
		return "", err
	}
	link, err := store.MessageLink(ctx, l.DB, c.MessageID, c.LinkIndex)
	l.Release()
	if err != nil {
		return "", err
	}
	return link, m.tracking.add(m, c.WorkspaceID, store.TrackingEvent{MessageID: c.MessageID, Kind: store.TrackClick,
		LinkIndex: c.LinkIndex, URL: link, Prefetch: outreach.MachineFetch(userAgent, ip), UserAgent: userAgent, At: m.now()})
}

// The tracking buffer: a burst of opens costs few transactions. Requests
// add events in memory; a flusher takes them all every trackingFlushEvery
// (sooner when trackingFlushAt are waiting) and writes each workspace's in
// one transaction, one workspace at a time (a burst of writes must not
// take both cores from the requests; a flush that takes longer than the
// period only makes the next batch larger), through the handle cache.
// Memory is bounded: when trackingMaxPending events wait, requests wait
// for the flusher to take them (backpressure), so at most twice that is
// held. An event is never dropped silently: a workspace gone since the
// request (trashed, deleted) loses its events with a log line; a write
// that fails is tried again, and after trackingWriteAttempts failures in a
// row its events are given up with an error in the log. Close writes what
// is left before the handles close.
const (
	trackingFlushEvery    = 250 * time.Millisecond
	trackingFlushAt       = 2000
	trackingMaxPending    = 20000
	trackingWriters       = 1
	trackingWriteAttempts = 3
	trackingWriteTimeout  = 30 * time.Second
)

var errTrackingClosed = store.Errorf(store.EUnavailable, "The server is shutting down.")

type trackingBuffer struct {
	start   sync.Once
	mu      sync.Mutex
	space   sync.Cond // signalled when the flusher takes the pending events
	pending map[string][]store.TrackingEvent
	n       int
	max     int // trackingMaxPending unless a test sets it first
	closed  bool
	// failures counts, by workspace, the writes that failed in a row; only
	// the flusher's goroutine uses it.
	failures map[string]int
	kick     chan struct{}
	flushes  chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func (b *trackingBuffer) init(m *Manager) {
	b.space.L = &b.mu
	b.pending, b.failures = map[string][]store.TrackingEvent{}, map[string]int{}
	if b.max == 0 {
		b.max = trackingMaxPending
	}
	b.kick, b.flushes = make(chan struct{}, 1), make(chan chan struct{})
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go b.run(m)
}

// add buffers an event of a workspace, waiting while the buffer is full.
func (b *trackingBuffer) add(m *Manager, workspaceID string, ev store.TrackingEvent) error {
	b.start.Do(func() { b.init(m) })
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.n >= b.max && !b.closed {
		b.wake()
		b.space.Wait()
	}
	if b.closed {
		return errTrackingClosed
	}
	b.pending[workspaceID] = append(b.pending[workspaceID], ev)
	b.n++
	if b.n >= trackingFlushAt {
		b.wake()
	}
	return nil
}

func (b *trackingBuffer) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *trackingBuffer) run(m *Manager) {
	defer close(b.done)
	t := time.NewTicker(trackingFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			// A write that fails now is tried again until its attempts
			// are spent.
			for range trackingWriteAttempts {
				if b.flush(m) == 0 {
					break
				}
			}
			return
		case reply := <-b.flushes:
			b.flush(m)
			close(reply)
		case <-b.kick:
			b.flush(m)
		case <-t.C:
			b.flush(m)
		}
	}
}

// flush writes every pending event and returns how many were put back to
// be tried again.
func (b *trackingBuffer) flush(m *Manager) int {
	b.mu.Lock()
	batch := b.pending
	b.pending, b.n = map[string][]store.TrackingEvent{}, 0
	b.space.Broadcast()
	b.mu.Unlock()
	type failure struct {
		id  string
		evs []store.TrackingEvent
		err error
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []failure
		wrote  []string
		slots  = make(chan struct{}, trackingWriters)
	)
	for id, evs := range batch {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := m.writeTracking(id, evs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, failure{id, evs, err})
			} else {
				wrote = append(wrote, id)
			}
		}()
	}
	wg.Wait()
	for _, id := range wrote {
		delete(b.failures, id)
	}
	again := 0
	for _, f := range failed {
		again += b.retry(m, f.id, f.evs, f.err)
	}
	return again
}

// retry puts a workspace's events back after a failed write, unless the
// workspace is gone or its attempts are spent; it returns how many it put
// back.
func (b *trackingBuffer) retry(m *Manager, id string, evs []store.TrackingEvent, err error) int {
	if store.ErrorCode(err) == store.ENotFound {
		m.log.Info("tracking events of a workspace no longer active are not recorded", "workspace", id, "events", len(evs))
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// A workspace taken out for a moment (a move, a restore, a new backup
	// generation) is not an attempt: its events wait for it.
	if store.ErrorCode(err) != store.EUnavailable {
		b.failures[id]++
	}
	if b.failures[id] >= trackingWriteAttempts {
		delete(b.failures, id)
		m.log.Error("tracking events lost: their workspace could not be written", "workspace", id, "events", len(evs), "err", err)
		return 0
	}
	m.log.Warn("tracking events could not be written; they are tried again", "workspace", id, "events", len(evs), "err", err)
	b.pending[id] = append(evs, b.pending[id]...)
	b.n += len(evs)
	return len(evs)
}

func (m *Manager) writeTracking(id string, evs []store.TrackingEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), trackingWriteTimeout)
	defer cancel()
	l, err := m.Acquire(ctx, id)
	if err != nil {
		return err
	}
	defer l.Release()
	_, err = store.RecordTrackingEvents(ctx, l.DB, evs, prefetchWithin)
	return err
}

// close writes what is pending and stops the flusher; later events are
// refused. Manager.Close calls it before the handles close.
func (b *trackingBuffer) close() {
	b.start.Do(func() {}) // never used: nothing to write, nothing to start
	b.mu.Lock()
	b.closed = true
	b.space.Broadcast()
	b.mu.Unlock()
	if b.stop != nil {
		close(b.stop)
		<-b.done
	}
}

// FlushTracking writes the tracking events buffered so far and returns
// when they are written (tests, benchmarks).
func (m *Manager) FlushTracking(ctx context.Context) error {
	b := &m.tracking
	b.start.Do(func() { b.init(m) })
	if b.stop == nil {
		return errTrackingClosed
	}
	reply := make(chan struct{})
	select {
	case b.flushes <- reply:
	case <-b.done:
		return errTrackingClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
