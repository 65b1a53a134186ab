package handlers

import (
	"strings"
	"sync"
	"time"
)

// Sign-in limits. An attacker must not be able to lock an account's owner
// out, so nothing counted against an account alone ever refuses an
// address that has not failed on it:
//   - per (account, address): at most maxFailuresPerPair failures in
//     loginWindow, strictly;
//   - per account: after freeFailuresPerEmail failures in the window, each
//     address must wait a growing delay (doubling from a second, capped at
//     maxAccountDelay) between its own attempts on that account; the
//     delay is measured from that address's last attempt, so one address
//     hammering cannot take the turn of another;
//   - per address: at most maxFailuresPerIP failures in the window, across
//     accounts (a spray over many accounts from one place).
const (
	loginWindow          = 15 * time.Minute
	maxFailuresPerPair   = 5
	freeFailuresPerEmail = 3
	maxAccountDelay      = time.Minute
	maxFailuresPerIP     = 20
)

// loginLimiter counts failed sign-ins in a sliding window. It lives in
// memory: a restart forgets, which is acceptable for slowing guessing down.
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time // "email:", "ip:" or "pair:" key → failure times
	last     map[string]time.Time   // "pair:" key → the pair's last attempt
	// swept is when the maps were last swept: at most once a second, or a
	// spray of more live keys than maxTrackedKeys would make every attempt
	// walk them all.
	swept time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{failures: map[string][]time.Time{}, last: map[string]time.Time{}}
}

func limiterKeys(email, ip string) (emailKey, ipKey, pairKey string) {
	email = strings.ToLower(strings.TrimSpace(email))
	return "email:" + email, "ip:" + ip, "pair:" + email + "|" + ip
}

// accountDelay is the wait between two attempts of one address on an
// account that has failed n times in the window.
func accountDelay(n int) time.Duration {
	if n < freeFailuresPerEmail {
		return 0
	}
	shift := n - freeFailuresPerEmail
	if shift > 6 { // 64 s > the cap already
		return maxAccountDelay
	}
	return min(time.Second<<shift, maxAccountDelay)
}

// reserve counts a sign-in attempt as a failure before its password is
// checked, and returns how long this address must wait before it may try
// this account (0 when the attempt may go ahead; a refused attempt is not
// counted). The check and the count are one step under the lock: checking
// first and counting after the slow password comparison let any number of
// concurrent attempts through.
func (l *loginLimiter) reserve(email, ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	emailKey, ipKey, pairKey := limiterKeys(email, ip)
	wait := max(l.waitLocked(pairKey, maxFailuresPerPair, now), l.waitLocked(ipKey, maxFailuresPerIP, now))
	if last, ok := l.last[pairKey]; ok {
		if d := last.Add(accountDelay(len(l.recent(emailKey, now)))).Sub(now); d > wait {
			wait = d
		}
	}
	if wait > 0 {
		return wait
	}
	if (len(l.failures) > maxTrackedKeys || len(l.last) > maxTrackedKeys) && now.Sub(l.swept) >= time.Second {
		l.sweep(now)
	}
	for _, key := range []string{emailKey, ipKey, pairKey} {
		l.failures[key] = append(l.recent(key, now), now)
	}
	l.last[pairKey] = now
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

// sweep forgets every key whose failures are all outside the window, and
// the last attempts older than the longest delay.
func (l *loginLimiter) sweep(now time.Time) {
	l.swept = now
	for key := range l.failures {
		l.recent(key, now)
	}
	for key, at := range l.last {
		if now.Sub(at) >= maxAccountDelay {
			delete(l.last, key)
		}
	}
}

// keyLimit is at most max events under key in loginWindow.
type keyLimit struct {
	key string
	max int
}

// take counts an event under every key, unless one of them has had its
// max in the window: then it counts nothing and returns how long until it
// would be allowed. Password reset requests use it on a limiter of their
// own: every request counts, not only failures.
func (l *loginLimiter) take(now time.Time, limits ...keyLimit) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range limits {
		wait = max(wait, l.waitLocked(k.key, k.max, now))
	}
	if wait > 0 {
		return wait
	}
	if len(l.failures) > maxTrackedKeys && now.Sub(l.swept) >= time.Second {
		l.sweep(now)
	}
	for _, k := range limits {
		l.failures[k.key] = append(l.recent(k.key, now), now)
	}
	return 0
}

// succeed clears the account's and the pair's failures and gives back the
// address's reservation made at the attempt's time: a success is not a
// failure.
func (l *loginLimiter) succeed(email, ip string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	emailKey, ipKey, pairKey := limiterKeys(email, ip)
	delete(l.failures, emailKey)
	delete(l.failures, pairKey)
	delete(l.last, pairKey)
	l.unreserveLocked(ipKey, at)
}

// release gives back the reservations of an attempt that could not be
// checked (an internal error), so it counts as no failure.
func (l *loginLimiter) release(email, ip string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	emailKey, ipKey, pairKey := limiterKeys(email, ip)
	l.unreserveLocked(emailKey, at)
	l.unreserveLocked(ipKey, at)
	l.unreserveLocked(pairKey, at)
	if l.last[pairKey].Equal(at) {
		delete(l.last, pairKey)
	}
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
