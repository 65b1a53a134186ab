package tenant

import (
	"context"
	"testing"
	"time"

	"atrium/store"
)

// fakePacer is a Pacer of m on a clock that moves only when told to or
// when the pacer sleeps; each sleep calls onSleep.
func fakePacer(m *Manager, onSleep func(d time.Duration)) (p *Pacer, work func(d time.Duration)) {
	t := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	p = m.NewPacer()
	p.since = t
	p.now = func() time.Time { return t }
	p.sleep = func(d time.Duration) {
		t = t.Add(d)
		onSleep(d)
	}
	return p, func(d time.Duration) { t = t.Add(d) }
}

func TestPacer_NeverWaitsWithoutRequests(t *testing.T) {
	m := &Manager{}
	sleeps := 0
	p, work := fakePacer(m, func(time.Duration) { sleeps++ })
	for range 100 {
		work(10 * time.Millisecond)
		if waited := p.Pace(); waited != 0 {
			t.Fatalf("waited %v with no request in flight", waited)
		}
	}
	// A request that came and went leaves nothing to wait for.
	m.Serving()()
	work(time.Second)
	if p.Pace() != 0 || sleeps != 0 {
		t.Fatalf("slept %d times after the request ended", sleeps)
	}
}

func TestPacer_WaitsForARequestToEnd(t *testing.T) {
	m := &Manager{}
	done := m.Serving()
	sleeps := 0
	p, work := fakePacer(m, func(d time.Duration) {
		if d > paceStep {
			t.Errorf("slept %v at once, more than a step", d)
		}
		if sleeps++; sleeps == 3 {
			done() // the request ends during the third step
		}
	})
	work(100 * time.Millisecond) // earns 15 ms of rest
	if waited := p.Pace(); sleeps != 3 || waited != 3*paceStep {
		t.Fatalf("waited %v in %d steps, want 3 steps of %v", waited, sleeps, paceStep)
	}
	// The rest not taken is kept for the next request.
	defer m.Serving()()
	work(0)
	if waited, want := p.Pace(), 15*time.Millisecond-3*paceStep; waited != want {
		t.Fatalf("next request: waited %v, want the rest left, %v", waited, want)
	}
}

func TestPacer_RestIsBoundedByTheWork(t *testing.T) {
	m := &Manager{}
	defer m.Serving()() // a request in flight throughout
	p, work := fakePacer(m, func(time.Duration) {})
	var worked, waited time.Duration
	for range 1000 {
		work(2 * time.Millisecond)
		worked += 2 * time.Millisecond
		waited += p.Pace()
	}
	// However long requests last, the work rests paceShare of its time.
	if want := time.Duration(paceShare * float64(worked)); waited > want || waited < want-paceStep {
		t.Fatalf("worked %v, waited %v: want about %v", worked, waited, want)
	}
	// Rest saved up while idle is capped.
	idle := &Manager{}
	p, work = fakePacer(idle, func(time.Duration) {})
	work(time.Hour)
	if p.Pace() != 0 {
		t.Fatal("waited with no request in flight")
	}
	defer idle.Serving()()
	if waited := p.Pace(); waited != paceMaxRest {
		t.Fatalf("after an hour's work alone, waited %v at the first request, want the cap %v", waited, paceMaxRest)
	}
	// Sleeping too long (a loaded machine) is a debt taken from the next rests.
	over := &Manager{}
	defer over.Serving()()
	p, work = fakePacer(over, func(d time.Duration) { work(d) }) // each step lasts twice as long
	work(10 * time.Millisecond)
	if waited := p.Pace(); waited != 2*time.Millisecond { // 1.5 ms earned; 2 steps of 0.5 ms, slept as 1 ms each
		t.Fatalf("waited %v, want 2ms", waited)
	}
	work(2 * time.Millisecond) // earns 0.3 ms, less than the 0.5 ms overslept
	if waited := p.Pace(); waited != 0 {
		t.Fatalf("waited %v while in debt", waited)
	}
}

func TestPacer_ZeroNeverWaits(t *testing.T) {
	var p *Pacer
	if p.Pace() != 0 || (&Pacer{}).Pace() != 0 {
		t.Fatal("a zero pacer waited")
	}
}

// An import (its job) and a bulk action wait for a request in flight, and
// never wait with none: JobStats.Paced counts what they waited.
func TestHeavyWork_PacesForRequestsInFlight(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	header := []string{"first_name", "last_name", "email", "company"}
	const rows = 3000 // batched, paced every 100 rows
	importInto := func(name string) string {
		w := mustCreate(t, m, name)
		id, err := m.StartContactImport(ctx, ContactImport{WorkspaceID: w.ID, Actor: store.Actor{Kind: "system", ID: "test"},
			Path: writeContactsCSV(t, t.TempDir(), rows), Header: header, Rows: rows})
		if err != nil {
			t.Fatal(err)
		}
		if j, err := m.WaitJob(ctx, w.ID, id); err != nil || j.State != store.JobDone {
			t.Fatalf("%+v, %v", j, err)
		}
		return w.ID
	}
	bulk := func(id string) {
		l, err := m.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		res, err := m.Service(l).BulkContactsMatching(ctx, store.Actor{Kind: "system", ID: "test"}, store.ContactFilter{},
			store.BulkAction{Kind: "tag", Value: "paced"}, nil)
		if err != nil || res.Changed != rows {
			t.Fatalf("%+v, %v", res, err)
		}
	}

	bulk(importInto("Alone"))
	if paced := m.JobStats().Paced; paced != 0 {
		t.Fatalf("an import and a bulk action with no request in flight waited %v", paced)
	}

	done := m.Serving() // a request of another workspace, in flight throughout
	id := importInto("Beside a request")
	afterImport := m.JobStats().Paced
	if afterImport <= 0 {
		t.Fatal("an import beside a request in flight never waited")
	}
	bulk(id)
	if m.JobStats().Paced <= afterImport {
		t.Fatal("a bulk action beside a request in flight never waited")
	}
	done()
}
