package tenant

import (
	"context"
	"encoding/base64"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/uuid"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// sentMessage sends the one enrolled contact's first email of an outreach
// workspace and returns the ledger row's id.
func sentMessage(tb testing.TB, m *Manager, srv *smtptest.Server, wsID string) string {
	tb.Helper()
	ctx := context.Background()
	for len(srv.Messages()) == 0 {
		ids, err := m.RunDue(ctx, m.now())
		if err != nil || len(ids) == 0 {
			tb.Fatalf("no send job: %v", err)
		}
		m.WaitJob(ctx, wsID, ids[0])
	}
	l, err := m.Acquire(ctx, wsID)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	var id string
	if err := l.R.Get(&id, `SELECT id FROM messages WHERE state = 'sent'`); err != nil {
		tb.Fatal(err)
	}
	return id
}

// tokensOf makes the tracking tokens of a message as the sender does.
func tokensOf(tb testing.TB, m *Manager, wsID, messageID string) trackingTokens {
	tb.Helper()
	k, err := m.dataKey(context.Background(), wsID, true)
	if err != nil {
		tb.Fatal(err)
	}
	return trackingTokens{key: trackingKey(k.key, wsID), ws: uuid.MustParse(wsID), msg: uuid.MustParse(messageID)}
}

func countEvents(tb testing.TB, m *Manager, wsID string) int {
	tb.Helper()
	l, err := m.Acquire(context.Background(), wsID)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	var n int
	if err := l.R.Get(&n, `SELECT count(*) FROM tracking_events`); err != nil {
		tb.Fatal(err)
	}
	return n
}

// A token says what it was made for, the same each time; any bit changed,
// another workspace's id, or a workspace in the trash makes it not found.
func TestTrackingTokens(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	m := mustOpenJobManager(t, t.TempDir(), Options{Now: aheadClock()})
	wsID, _ := outreachWorkspace(t, m, srv, 1)
	msg := sentMessage(t, m, srv, wsID)
	other := mustCreate(t, m, "Other")
	tok := tokensOf(t, m, wsID, msg)
	click := tok.token(clickKind, 3)
	if click != tok.token(clickKind, 3) {
		t.Fatal("a token is not deterministic")
	}
	c, err := m.ParseTrackingToken(ctx, click)
	if err != nil || *c != (TrackingClaim{WorkspaceID: wsID, MessageID: msg, Kind: store.TrackClick, LinkIndex: 3}) {
		t.Fatalf("click claim %+v, %v", c, err)
	}
	open := tok.token(openKind, 0)
	if c, err := m.ParseTrackingToken(ctx, open); err != nil || c.Kind != store.TrackOpen || c.MessageID != msg {
		t.Fatalf("open claim %+v, %v", c, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(click)
	for i := range raw {
		for bit := range 8 {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if _, err := m.ParseTrackingToken(ctx, base64.RawURLEncoding.EncodeToString(b)); store.ErrorCode(err) != store.ENotFound {
				t.Fatalf("byte %d bit %d changed: %v", i, bit, err)
			}
		}
	}
	// Another workspace's id in A's token; A's payload signed with B's key.
	otherID := uuid.MustParse(other.ID)
	swapped := append(append(append([]byte(nil), raw[:2]...), otherID[:]...), raw[18:]...)
	forged := tokensOf(t, m, other.ID, msg)
	forged.ws = uuid.MustParse(wsID)
	for name, token := range map[string]string{"swapped": base64.RawURLEncoding.EncodeToString(swapped), "B's key": forged.token(clickKind, 3),
		"empty": "", "garbage": "not-a-token", "cut": click[:len(click)-3]} {
		if _, err := m.ParseTrackingToken(ctx, token); store.ErrorCode(err) != store.ENotFound {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := m.Trash(ctx, wsID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ParseTrackingToken(ctx, click); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("a token of a trashed workspace: %v", err)
	}
}

// Events wait in the buffer; with it full, requests wait for the flusher
// (none dropped); Close writes what is left before the handles close.
func TestTrackingBuffer_BackpressureAndClose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	m := mustOpenJobManager(t, dir, Options{Now: aheadClock()})
	wsID, _ := outreachWorkspace(t, m, srv, 1)
	msg := sentMessage(t, m, srv, wsID)
	open := tokensOf(t, m, wsID, msg).token(openKind, 0)
	m.tracking.max = 7
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 10 {
				errs <- m.TrackOpen(ctx, open, "Thunderbird", netip.MustParseAddr("203.0.113.1"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.TrackOpen(ctx, open, "late", netip.Addr{}); store.ErrorCode(err) == "" {
		t.Fatal("an open after Close was accepted")
	}
	again := mustOpenJobManager(t, dir, Options{Now: aheadClock()})
	if got := countEvents(t, again, wsID); got != n {
		t.Fatalf("%d events stored, want %d", got, n)
	}
}
