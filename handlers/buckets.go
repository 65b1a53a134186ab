package handlers

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"atrium/store"
	"atrium/tenant"
)

// buckets are the token buckets of request rates, by key ("w:" and a
// workspace id, "k:" and an API key id). A bucket that has filled up
// again is idle and is dropped at the next sweep, so memory follows the
// keys in use, not the keys that exist.
type buckets struct {
	mu        sync.Mutex
	limiters  map[string]*rate.Limiter
	lastSweep time.Time
}

// sweepEvery is how often idle buckets are dropped.
const sweepEvery = time.Minute

func newBuckets() *buckets { return &buckets{limiters: map[string]*rate.Limiter{}} }

// quota is what a bucket says of one request.
type quota struct {
	ok        bool
	limit     int           // the bucket's size
	remaining int           // tokens left after this request
	reset     time.Duration // until the bucket is full again
	wait      time.Duration // until a refused request may pass
}

// take takes a token from key's bucket of rate r. A rate of 0 is no limit.
func (b *buckets) take(key string, r tenant.Rate, now time.Time) quota {
	if r.PerSecond <= 0 {
		return quota{ok: true, limit: -1}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastSweep) >= sweepEvery || len(b.limiters) > maxTrackedKeys {
		b.sweep(now)
	}
	l := b.limiters[key]
	if l == nil || l.Limit() != rate.Limit(r.PerSecond) || l.Burst() != r.Burst {
		l = rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)
		b.limiters[key] = l
	}
	res := l.ReserveN(now, 1)
	q := quota{ok: true, limit: r.Burst}
	if d := res.DelayFrom(now); !res.OK() || d > 0 {
		res.CancelAt(now)
		q.ok, q.wait = false, d
	}
	tokens := l.TokensAt(now)
	q.remaining = max(0, int(tokens))
	q.reset = time.Duration((float64(r.Burst) - tokens) / r.PerSecond * float64(time.Second))
	return q
}

// sweep drops the buckets that are full: nobody used them for a while.
func (b *buckets) sweep(now time.Time) {
	b.lastSweep = now
	for key, l := range b.limiters {
		if l.TokensAt(now) >= float64(l.Burst()) {
			delete(b.limiters, key)
		}
	}
}

// len is the number of buckets held.
func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.limiters)
}

// setHeaders writes the RateLimit-* fields (IETF draft) and, for a
// refusal, Retry-After in whole seconds.
func (q quota) setHeaders(h http.Header) {
	if q.limit < 0 {
		return
	}
	h.Set("RateLimit-Limit", strconv.Itoa(q.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(q.remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(q.reset)))
	if !q.ok {
		h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(q.wait))))
	}
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// rateLimited is the refusal of a request over its bucket's rate.
func (q quota) err() error {
	return store.Errorf(store.ERateLimited, "Too many requests for this workspace just now; try again in %d seconds.", max(1, ceilSeconds(q.wait)))
}

// limitRate takes a token from each bucket of a request (its workspace's,
// then its API key's) by the workspace's plan, and writes the headers of
// the tighter one. It returns the refusal when one is empty. It needs only
// the catalog: the web asks it before opening the workspace's file.
func (s *Server) limitRate(w http.ResponseWriter, r *http.Request, workspaceID, keyID string) error {
	plan, err := s.tenants.Plan(r.Context(), workspaceID)
	if err != nil {
		return err
	}
	now := time.Now()
	q := s.buckets.take("w:"+workspaceID, plan.WorkspaceRate(), now)
	if q.ok && keyID != "" {
		if kq := s.buckets.take("k:"+keyID, plan.KeyRate(), now); !kq.ok || (kq.limit >= 0 && kq.remaining < q.remaining) || q.limit < 0 {
			q = kq
		}
	}
	q.setHeaders(w.Header())
	if !q.ok {
		s.metrics.refused(refusedRateLimited, "")
		return q.err()
	}
	return nil
}

// checkStorage refuses a write to a workspace at its storage quota;
// deleting stays possible, to make room.
func checkStorage(r *http.Request, svc *tenant.Service) error {
	if isWrite(r) && !freesSpace(r) {
		return svc.CheckWrite(r.Context())
	}
	return nil
}

func isWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// freesSpace says whether a request removes data, or sets how long data
// is kept: a DELETE, a form posted to a .../delete, .../remove, .../revoke,
// .../erase or .../settings/retention address, or a bulk action that
// deletes.
func freesSpace(r *http.Request) bool {
	if r.Method == http.MethodDelete {
		return true
	}
	last := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	switch last {
	case "delete", "remove", "revoke", "erase", "retention":
		return true
	case "bulk":
		return r.PostFormValue("action") == "delete"
	}
	return false
}
