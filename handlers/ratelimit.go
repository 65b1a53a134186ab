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

// reserve counts a sign-in attempt as a failure before its password is
// checked, and returns how long the email or address must wait (0 when the
// attempt may go ahead; a refused attempt is not counted). The check and the
// count are one step under the lock: checking first and counting after the
// slow password comparison let any number of concurrent attempts through.
func (l *loginLimiter) reserve(email, ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	emailKey, ipKey := "email:"+strings.ToLower(email), "ip:"+ip
	wait := max(l.waitLocked(emailKey, maxFailuresPerEmail, now), l.waitLocked(ipKey, maxFailuresPerIP, now))
	if wait > 0 {
		return wait
	}
	if len(l.failures) > maxTrackedKeys {
		l.sweep(now)
	}
	for _, key := range []string{emailKey, ipKey} {
		l.failures[key] = append(l.recent(key, now), now)
	}
	return 0
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

// maxTrackedKeys bounds the limiter's memory under a spray of addresses.
const maxTrackedKeys = 100_000

// sweep forgets every key whose failures are all outside the window.
func (l *loginLimiter) sweep(now time.Time) {
	for key := range l.failures {
		l.recent(key, now)
	}
}

// succeed clears the account's failures and gives back the address's
// reservation made at the attempt's time: a success is not a failure.
func (l *loginLimiter) succeed(email, ip string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "email:"+strings.ToLower(email))
	l.unreserveLocked("ip:"+ip, at)
}

// release gives back both reservations of an attempt that could not be
// checked (an internal error), so it counts as no failure.
func (l *loginLimiter) release(email, ip string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unreserveLocked("email:"+strings.ToLower(email), at)
	l.unreserveLocked("ip:"+ip, at)
}

// unreserveLocked removes one failure recorded at time at, if still there
// (a sweep or a success may have dropped it already).
func (l *loginLimiter) unreserveLocked(key string, at time.Time) {
	times := l.failures[key]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(at) {
			times = append(times[:i:i], times[i+1:]...)
			break
		}
	}
	if len(times) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = times
	}
}
