package tenant

import (
	"sync/atomic"
	"time"
)

// Background work paces itself while requests are served. Its threads run
// at a lower priority (background.go), but on two cores that leaves a
// request of workspace A sharing the machine with B's import: the kernel
// still runs the import's threads between a request's own, the collector
// works for the import's allocations, and B's writes keep SQLite and
// Litestream busy. So heavy work calls a Pacer between chunks (an import
// after every 100 rows): while requests are in flight, it waits for them
// to end, out of a rest it earns as it works. The rest is at most
// paceShare of the time worked, so the work keeps at least 1/(1+paceShare)
// of its speed alone however busy the server; with no request in flight it
// never waits.
const (
	// paceShare is the rest earned per unit of work: 0.15 keeps at least
	// 87% of the speed alone (the fairness target is 80%).
	paceShare = 0.15
	// paceMaxRest bounds the rest saved up while no request came, so that
	// work idle-paced for minutes does not stop for long at the first
	// request; it still covers a few page requests in a row.
	paceMaxRest = 50 * time.Millisecond
	// paceStep is how often a resting job looks whether the requests it
	// waits for have ended.
	paceStep = 500 * time.Microsecond
)

// requestGauge counts the requests in flight on the instance, and the time
// heavy work waited for them (JobStats.Paced).
type requestGauge struct {
	n      atomic.Int64
	waited atomic.Int64 // nanoseconds
}

// Serving counts a request as in flight until the returned function is
// called: the request middleware calls it for every request, so that
// background work gives way to them (see Pacer).
func (m *Manager) Serving() (done func()) {
	m.requests.n.Add(1)
	return func() { m.requests.n.Add(-1) }
}

// Pacer paces one piece of heavy work (see paceShare); one goroutine calls
// it. The zero Pacer never waits.
type Pacer struct {
	requests *requestGauge
	since    time.Time     // when the work last went on
	rest     time.Duration // earned and not taken yet; below 0, overslept
	// now and sleep are time.Now and time.Sleep but in tests.
	now   func() time.Time
	sleep func(d time.Duration)
}

// NewPacer returns a Pacer for work that starts now.
func (m *Manager) NewPacer() *Pacer {
	return &Pacer{requests: &m.requests, since: time.Now(), now: time.Now, sleep: time.Sleep}
}

// Pace is called by the work between its chunks: it earns paceShare of
// the time since the last call, and while requests are in flight waits
// for them to end, as long as that rest lasts. It returns how long it
// waited.
func (p *Pacer) Pace() (waited time.Duration) {
	if p == nil || p.requests == nil {
		return 0
	}
	start := p.now()
	p.rest = min(p.rest+time.Duration(paceShare*float64(start.Sub(p.since))), paceMaxRest)
	now := start
	for p.rest > 0 && p.requests.n.Load() > 0 {
		p.sleep(min(p.rest, paceStep))
		later := p.now()
		p.rest -= later.Sub(now)
		now = later
	}
	p.since = now
	waited = now.Sub(start)
	p.requests.waited.Add(int64(waited))
	return waited
}
