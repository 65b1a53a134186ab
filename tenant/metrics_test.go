package tenant

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// The handle cache counts a first lease as a miss, a lease of an open
// handle as a hit, and an idle handle closed for room as an eviction.
func TestCacheStats_CountMissesHitsEvictions(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 1)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	before := m.CacheStats()
	lease := func(id string) {
		l, err := m.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	lease(a.ID)
	lease(a.ID)
	lease(b.ID) // beyond MaxOpen 1: A's idle handle is closed
	got := m.CacheStats()
	if got.Misses-before.Misses != 2 || got.Hits-before.Hits != 1 || got.Evictions-before.Evictions != 1 || got.Open != 1 {
		t.Fatalf("before %+v, after %+v: want 2 misses, 1 hit, 1 eviction more and 1 open", before, got)
	}
}

// The job runner counts jobs waiting and running, and tells the observer
// each job's kind and run time.
func TestJobStats_QueueAndDurations(t *testing.T) {
	ctx := context.Background()
	m := mustOpenJobManager(t, t.TempDir(), Options{MaxJobs: 1})
	var mu sync.Mutex
	took := map[string]time.Duration{}
	m.ObserveJobs(func(kind string, d time.Duration) {
		mu.Lock()
		took[kind] = d
		mu.Unlock()
	})
	release := make(chan struct{})
	run := func(ctx context.Context, _ *JobRun) (any, error) {
		<-release
		return nil, nil
	}
	first, err := m.StartJob(ctx, JobSpec{Kind: "test.first", Run: run})
	if err != nil {
		t.Fatal(err)
	}
	second, err := m.StartJob(ctx, JobSpec{Kind: "test.second", Run: run})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); m.JobStats() != (JobStats{Queued: 1, Running: 1}); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job stats %+v, want one queued behind one running", m.JobStats())
		}
	}
	time.Sleep(20 * time.Millisecond) // the first job's run time is at least this
	close(release)
	for _, id := range []string{first, second} {
		if _, err := m.WaitJob(ctx, "", id); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); m.JobStats() != (JobStats{}); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job stats %+v after the jobs ended", m.JobStats())
		}
	}

	// Heavy work done for a request counts as a job of its kind.
	w := mustCreate(t, m, "A")
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ExportTo(ctx, l, io.Discard, "")
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Whichever job took the slot first waited for the release (on a
	// loaded machine the second can be picked before the first).
	if max(took["test.first"], took["test.second"]) < 20*time.Millisecond || took[HeavyExport] == 0 || len(took) != 3 {
		t.Fatalf("observed %v", took)
	}
}

// Messages a send pass delivers are counted as sent.
func TestSendStats_CountsSent(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{NoTLS: true})
	m := mustOpenJobManager(t, t.TempDir(), Options{Now: aheadClock()})
	m.StartScheduler()
	wsID, _ := outreachWorkspace(t, m, srv, 3)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, due, err := store.DueAt(context.Background(), m.Catalog().R, wsID, store.DueSend)
		if err != nil {
			t.Fatal(err)
		}
		if !due && len(srv.Messages()) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 messages sent after 10 s", len(srv.Messages()))
		}
	}
	if got := m.SendStats(); got != (SendStats{Sent: 3}) {
		t.Fatalf("send stats %+v, want 3 sent", got)
	}
}

// Replication runs for the catalog, and an open workspace is registered
// and counted in its region.
func TestReplicationStats_Registered(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	before := m.ReplicationStats()
	if !before.Running {
		t.Fatal("the catalog is not replicated")
	}
	if _, ok := before.Lag[DefaultRegion]; !ok {
		t.Fatalf("no lag for the default region: %+v", before)
	}
	w := mustCreate(t, m, "A")
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	name := "Ana"
	if _, err := store.CreateContact(ctx, l.DB, store.Actor{Kind: "system", ID: "test"}, store.ContactInput{FirstName: &name}); err != nil {
		t.Fatal(err)
	}
	if got := m.ReplicationStats(); got.Workspaces != before.Workspaces+1 {
		t.Fatalf("%d workspaces registered after opening one, %d before", got.Workspaces, before.Workspaces)
	}
	l.Release()
	m.Close()
	if got := m.ReplicationStats(); got.Running || got.Workspaces != 0 {
		t.Fatalf("after Close: %+v", got)
	}
}
