package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoginLimiter_PairIsStrict: five failures of one address on one
// account stop that pair for the window, in any letter case, and nothing
// else; the window's end frees it.
func TestLoginLimiter_PairIsStrict(t *testing.T) {
	l := newLoginLimiter()
	start := time.Now()
	at := start
	for i := 0; i < maxFailuresPerPair; i++ {
		if w := l.reserve("a@example.com", "1.2.3.4", at); w != 0 {
			t.Fatalf("attempt %d refused (wait %s) before the limit", i+1, w)
		}
		at = at.Add(maxAccountDelay) // past any account delay
	}
	if w := l.reserve("A@example.com", "1.2.3.4", at.Add(maxAccountDelay)); w <= maxAccountDelay {
		t.Fatalf("pair over its limit: wait %s, want the rest of the window", w)
	}
	if w := l.reserve("b@example.com", "1.2.3.4", at); w != 0 {
		t.Fatalf("another account from the address: wait %s", w)
	}
	if w := l.reserve("a@example.com", "1.2.3.4", start.Add(loginWindow+5*maxAccountDelay)); w != 0 {
		t.Fatalf("still refused after the window: wait %s", w)
	}
}

// TestLoginLimiter_AccountDelayGrows: an account's failures make each
// address wait longer between its own attempts, doubling up to a minute,
// never more, and an address that has not tried may try at once.
func TestLoginLimiter_AccountDelayGrows(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 0, 2: 0, 3: time.Second, 4: 2 * time.Second, 8: 32 * time.Second, 9: time.Minute, 1000: time.Minute} {
		if got := accountDelay(n); got != want {
			t.Errorf("accountDelay(%d) = %s, want %s", n, got, want)
		}
	}
	l := newLoginLimiter()
	now := time.Now()
	// Many addresses fail once each: the account's count grows.
	for i := 0; i < 10; i++ {
		if w := l.reserve("a@example.com", "10.0.0."+strconv.Itoa(i), now); w != 0 {
			t.Fatalf("first attempt of address %d refused: %s", i, w)
		}
	}
	w := l.reserve("a@example.com", "10.0.0.1", now.Add(time.Second))
	if w <= 0 || w > maxAccountDelay {
		t.Fatalf("second attempt of one address: wait %s, want a delay of at most %s", w, maxAccountDelay)
	}
	if w := l.reserve("a@example.com", "10.0.0.1", now.Add(maxAccountDelay)); w != 0 {
		t.Fatalf("after the longest delay: wait %s", w)
	}
	if w := l.reserve("a@example.com", "192.0.2.1", now.Add(time.Second)); w != 0 {
		t.Fatalf("a new address waits %s", w)
	}
}

// TestLoginLimiter_HammerCannotLockOut: an attacker trying every instant
// from X never delays the owner at Y by more than the longest delay.
func TestLoginLimiter_HammerCannotLockOut(t *testing.T) {
	l := newLoginLimiter()
	now := time.Now()
	// The owner mistypes once from Y, then the attacker hammers from X for
	// ten minutes, trying the instant each refusal says it may.
	l.reserve("a@example.com", "192.0.2.1", now)
	at := now
	for at.Before(now.Add(10 * time.Minute)) {
		if w := l.reserve("a@example.com", "198.51.100.9", at); w > 0 {
			at = at.Add(w)
			continue
		}
		at = at.Add(time.Millisecond)
	}
	if w := l.reserve("a@example.com", "192.0.2.1", at); w > maxAccountDelay {
		t.Fatalf("owner waits %s, more than %s", w, maxAccountDelay)
	} else if w > 0 {
		if w2 := l.reserve("a@example.com", "192.0.2.1", at.Add(w)); w2 != 0 {
			t.Fatalf("owner still refused after waiting %s: %s more", w, w2)
		}
	}
}

func TestLoginLimiter_Reserve(t *testing.T) {
	now := time.Now()
	t.Run("SuccessGivesBackTheAddress", func(t *testing.T) {
		l := newLoginLimiter()
		for i := 0; i < maxFailuresPerIP-1; i++ {
			l.reserve("guess"+strconv.Itoa(i)+"@example.com", "1.2.3.4", now)
		}
		l.reserve("a@example.com", "1.2.3.4", now)
		l.succeed("a@example.com", "1.2.3.4", now)
		if got := len(l.failures["ip:1.2.3.4"]); got != maxFailuresPerIP-1 {
			t.Fatalf("address failures after a success: got %d, want %d", got, maxFailuresPerIP-1)
		}
		if _, ok := l.failures["email:a@example.com"]; ok {
			t.Fatal("a success did not clear the account")
		}
	})
	t.Run("ReleaseGivesBackAll", func(t *testing.T) {
		l := newLoginLimiter()
		l.reserve("a@example.com", "1.2.3.4", now)
		l.release("A@example.com", "1.2.3.4", now)
		if got := len(l.failures) + len(l.last); got != 0 {
			t.Fatalf("keys left after a release: got %d, want 0", got)
		}
	})
	t.Run("RefusedIsNotCounted", func(t *testing.T) {
		l := newLoginLimiter()
		for i := 0; i < maxFailuresPerPair+3; i++ {
			l.reserve("a@example.com", "1.2.3.4", now)
		}
		if got, want := len(l.failures["ip:1.2.3.4"]), freeFailuresPerEmail; got != want {
			t.Fatalf("address failures: got %d, want %d", got, want)
		}
	})
}

// TestLogin_AttackerCannotLockOutOwner: through the web, with addresses
// given by a trusted proxy. An attacker hammering wrong passwords from X
// is refused (the strict pair limit: even the right password from X), and
// the owner at Y signs in at once with the right password.
func TestLogin_AttackerCannotLockOutOwner(t *testing.T) {
	ts := newTestServer(t)
	u := ts.mustUser(t, "ann@example.com", false)
	h, err := New(t.Context(), Config{Tenants: ts.tenants, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS(".."), TrustProxy: true})
	if err != nil {
		t.Fatal(err)
	}
	proxied := &testServer{Server: httptest.NewServer(h), tenants: ts.tenants}
	t.Cleanup(proxied.Close)
	login := func(c *client, password, from string) response {
		form := url.Values{"email": {u.Email}, "password": {password}, "csrf_token": {c.token("/login")}}
		req, _ := http.NewRequest(http.MethodPost, proxied.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		return c.do(req)
	}
	attacker := proxied.newClient(t)
	limited := 0
	for range 30 {
		if login(attacker, "wrong password", "198.51.100.9").status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("30 wrong passwords from one address were never refused")
	}
	r := login(attacker, testPassword, "198.51.100.9")
	wantStatus(t, "the right password from the hammering address", r, http.StatusTooManyRequests)
	if !strings.Contains(r.body, "Too many failed sign-ins") || r.header.Get("Retry-After") == "" {
		t.Fatal("no clear message or no Retry-After")
	}
	owner := proxied.newClient(t)
	r = login(owner, testPassword, "192.0.2.1")
	wantStatus(t, "the owner from another address", r, http.StatusSeeOther)
}
