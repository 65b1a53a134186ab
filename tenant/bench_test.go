package tenant

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reportPercentiles adds p50 and p99 of the per-operation durations.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	reportPercentilesAs(b, "", ds)
}

// reportPercentilesAs reports the median and p99 of ds, their units
// prefixed with what.
func reportPercentilesAs(b *testing.B, what string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), what+"p50-ms")
	b.ReportMetric(pct(0.99), what+"p99-ms")
}

func BenchmarkCreateWorkspace(b *testing.B) {
	m := MustOpenManager(b, 0)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := m.Create(context.Background(), CreateOptions{Name: "Bench"}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, ds)
}

func BenchmarkAcquireWarm(b *testing.B) {
	m := MustOpenManager(b, 0)
	w := mustCreate(b, m, "Warm")
	l, _ := m.Acquire(context.Background(), w.ID)
	l.Release()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l, err := m.Acquire(context.Background(), w.ID)
			if err != nil {
				b.Fatal(err)
			}
			l.Release()
		}
	})
}

// BenchmarkAcquireCold measures a cache miss as a server meets it: a
// workspace neither open nor registered with Litestream (it has not been used
// for a while) is opened, its schema version checked and a first query run.
// Between two opens the timer stops until the replication work of the last
// one is done, so each open is measured on its own.
func BenchmarkAcquireCold(b *testing.B) {
	benchmarkAcquireCold(b, true)
}

// BenchmarkAcquireColdBackToBack opens workspaces one after the other as
// fast as it can: each open leaves background work (Litestream's first sync
// of the file, the unregistration of the one evicted) that competes with the
// next opens for the two cores.
func BenchmarkAcquireColdBackToBack(b *testing.B) {
	benchmarkAcquireCold(b, false)
}

func benchmarkAcquireCold(b *testing.B, settle bool) {
	m := MustOpenManager(b, 1)
	const n = 200 // more than the handles and lingering registrations
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustCreate(b, m, "Cold").ID
	}
	settleReplication(b, m)
	// The first open of a new workspace also registers it with Litestream
	// for the first time and clears its pristine flag; the later ones
	// re-register it. Reported together and apart.
	ds := make([]time.Duration, 0, b.N)
	var first, again []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if settle {
			b.StopTimer()
			settleReplication(b, m)
			b.StartTimer()
		}
		start := time.Now()
		l, err := m.Acquire(context.Background(), ids[i%n])
		if err != nil {
			b.Fatal(err)
		}
		var count int
		if err := l.R.Get(&count, `SELECT count(*) FROM contacts`); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		ds = append(ds, d)
		if i < n {
			first = append(first, d)
		} else {
			again = append(again, d)
		}
		l.Release()
	}
	b.StopTimer()
	reportPercentiles(b, ds)
	reportPercentilesAs(b, "first-", first)
	reportPercentilesAs(b, "again-", again)
}

// settleReplication waits until every closed workspace has had its last
// sync, so background snapshots of setup work do not run in the timed part.
func settleReplication(tb testing.TB, m *Manager) {
	tb.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		m.repl.syncChanging() // rather than wait for the driver's next tick
		m.repl.mu.Lock()
		busy := 0
		for _, g := range m.repl.regs {
			if g.pending || g.users > 0 || g.leaving != nil {
				busy++
			}
		}
		overflow := m.repl.idle.Len() > m.repl.maxLingering
		m.repl.mu.Unlock()
		if busy <= m.OpenHandles()+1 && !overflow { // the open handles and the catalog
			return
		}
	}
	tb.Fatal("replication did not settle within a minute")
}

// BenchmarkTenThousandWorkspaces creates 10,000 workspaces with the default
// cache size of 256, writes to every one, and reports the process's peak
// RSS and open file descriptors. Run it with -benchtime=1x.
func BenchmarkTenThousandWorkspaces(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		m := MustOpenManager(b, DefaultMaxOpen)
		ctx := context.Background()
		for j := 0; j < n; j++ {
			w, err := m.Create(ctx, CreateOptions{Name: fmt.Sprintf("Tenant %d", j)})
			if err != nil {
				b.Fatal(err)
			}
			l, err := m.Acquire(ctx, w.ID)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`, w.ID, w.Name, time.Now(), time.Now()); err != nil {
				b.Fatal(err)
			}
			l.Release()
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "go-heap-MB")
		b.ReportMetric(float64(procStatusKB("VmRSS"))/1024, "rss-MB")
		b.ReportMetric(float64(procStatusKB("VmHWM"))/1024, "peak-rss-MB")
		b.ReportMetric(float64(openFDs()), "fds")
		b.ReportMetric(float64(m.OpenHandles()), "open-handles")
		m.Close()
	}
}

// procStatusKB reads a kB field of /proc/self/status.
func procStatusKB(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return -1
}

func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
