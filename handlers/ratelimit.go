package handlers

import (
	"strings"
	"sync"
	"time"
)

// Failed sign-ins allowed per window, per account and per client address.
const (
	loginWindow         = 15 * time.Minute
	maxFailuresPerEmail = 5
	maxFailuresPerIP    = 20
)

// loginLimiter counts failed sign-ins in a sliding window. It lives in
// memory: a restart forgets, which is acceptable for slowing guessing down.
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time // "email:" or "ip:" key → failure times
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{failures: map[string][]time.Time{}}
}

// blocked returns how long the email or address must wait; 0 if not blocked.
func (l *loginLimiter) blocked(email, ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := l.waitLocked("email:"+strings.ToLower(email), maxFailuresPerEmail, now)
	return max(wait, l.waitLocked("ip:"+ip, maxFailuresPerIP, now))
}

func (l *loginLimiter) waitLocked(key string, limit int, now time.Time) time.Duration {
	times := l.recent(key, now)
	if len(times) < limit {
		return 0
	}
	return times[len(times)-limit].Add(loginWindow).Sub(now)
}

// recent drops failures older than the window and returns the rest.
func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	times := l.failures[key]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= loginWindow {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = times
	}
	return times
}

func (l *loginLimiter) fail(email, ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > maxTrackedKeys {
		l.sweep(now)
	}
	for _, key := range []string{"email:" + strings.ToLower(email), "ip:" + ip} {
		l.failures[key] = append(l.recent(key, now), now)
	}
}

// maxTrackedKeys bounds the limiter's memory under a spray of addresses.
const maxTrackedKeys = 100_000

// sweep forgets every key whose failures are all outside the window.
func (l *loginLimiter) sweep(now time.Time) {
	for key := range l.failures {
		l.recent(key, now)
	}
}

// succeed clears the account's failures (not the address's).
func (l *loginLimiter) succeed(email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "email:"+strings.ToLower(email))
}
