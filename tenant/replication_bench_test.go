package tenant

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// The replication benchmarks report their own metrics; run each with
// -benchtime=1x (see the report commands in BENCHMARKS.md).

// BenchmarkReplicationLag commits one row every 100ms for 20s to a workspace
// replicating to the in-process S3 server with default intervals, and
// reports how long each commit took to reach the replica: from commit until
// the replica's position covers the first LTX file written after it.
func BenchmarkReplicationLag(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := newS3(b)
		dataDir := b.TempDir()
		cfg := mustConfig(b, dataDir, "regions:\n  default:\n"+s.replicaYAML("lag"))
		m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg})
		if err != nil {
			b.Fatal(err)
		}
		w := mustCreate(b, m, "Lag")
		path, _ := m.FilePath(w)
		l, err := m.Acquire(context.Background(), w.ID)
		if err != nil {
			b.Fatal(err)
		}
		db := m.repl.registered(path)
		var lags []time.Duration
		for j := 0; j < 200; j++ {
			before, _ := db.Pos()
			if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, 'x', 0, 0)`, fmt.Sprint(j)); err != nil {
				b.Fatal(err)
			}
			committed := time.Now()
			lags = append(lags, waitReplicated(b, db, before.TXID, committed))
			time.Sleep(time.Until(committed.Add(100 * time.Millisecond)))
		}
		l.Release()
		m.Close()
		reportPercentiles(b, lags)
		b.ReportMetric(float64(maxDuration(lags).Milliseconds()), "max-ms")
	}
}

// waitReplicated waits until a sync after txid has reached the replica and
// returns the time since committed.
func waitReplicated(b *testing.B, db *litestream.DB, txid ltx.TXID, committed time.Time) time.Duration {
	deadline := committed.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pos, err := db.Pos()
		if err == nil && pos.TXID > txid && db.Replica.Pos().TXID >= pos.TXID {
			return time.Since(committed)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("a commit did not reach the replica within 30s")
	return 0
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// BenchmarkRestore100MB restores a workspace holding 100 MB of rows, as a
// new workspace (download, integrity_check, rename, register), from the
// in-process S3 server and from a file replica.
func BenchmarkRestore100MB(b *testing.B) {
	for _, kind := range []string{"s3", "file"} {
		b.Run(kind, func(b *testing.B) {
			dataDir := b.TempDir()
			var cfg *Config
			if kind == "s3" {
				cfg = mustConfig(b, dataDir, "regions:\n  default:\n"+newS3(b).replicaYAML("big"))
			} else {
				cfg, _ = fileReplicaConfig(b, dataDir)
			}
			m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			w := mustCreate(b, m, "Big")
			fillMB(b, m, w.ID, 100)
			mustSync(b, m, w.ID)
			var ds []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := m.Restore(context.Background(), w.ID, RestoreOptions{AsNew: "Copy"}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			b.StopTimer()
			reportPercentiles(b, ds)
			b.ReportMetric(float64(fileSize(mustPath(b, m, w.ID)))/1e6, "db-MB")
		})
	}
}

// fillMB writes about mb megabytes of incompressible notes into workspace id.
func fillMB(tb testing.TB, m *Manager, id string, mb int) {
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	blob := make([]byte, 64<<10)
	for i := 0; i < mb*16; i++ {
		rand.Read(blob)
		if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, fmt.Sprint(i), fmt.Sprintf("%x", blob[:32<<10])); err != nil {
			tb.Fatal(err)
		}
	}
}

func mustPath(tb testing.TB, m *Manager, id string) string {
	w, path, err := m.activeWorkspace(context.Background(), id)
	if err != nil || w == nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkIdleRequests registers 100 workspaces on the in-process S3
// server, lets them go idle (handles closed, still registered), and counts
// the object-storage requests over a window. It runs twice: with the
// shipped intervals, and with the L0 retention check (the one periodic
// LIST per registered database) shortened to 5s, to measure its cost per
// check; per hour that cost recurs 3600/900 = 4 times.
func BenchmarkIdleRequests(b *testing.B) {
	const n = 100
	window := 60 * time.Second
	for _, check := range []time.Duration{defaultL0RetentionCheckInterval, 5 * time.Second} {
		b.Run("check="+check.String(), func(b *testing.B) {
			l0RetentionCheckInterval = check
			defer func() { l0RetentionCheckInterval = defaultL0RetentionCheckInterval }()
			s := newS3(b)
			dataDir := b.TempDir()
			cfg := mustConfig(b, dataDir, "regions:\n  default:\n"+s.replicaYAML("idle"))
			m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			for i := 0; i < n; i++ {
				w := mustCreate(b, m, "Idle")
				addCompany(b, m, w.ID, "x")
				mustSync(b, m, w.ID)
			}
			if err := m.SyncCatalog(context.Background()); err != nil {
				b.Fatal(err)
			}
			time.Sleep(3 * time.Second) // let the last uploads settle
			before, lists := s.requests.Load(), s.lists.Load()
			time.Sleep(window)
			reqs, listed := s.requests.Load()-before, s.lists.Load()-lists
			b.ReportMetric(float64(reqs), "requests")
			b.ReportMetric(float64(listed), "lists")
			b.ReportMetric(float64(reqs)/n*float64(time.Hour/window), "req/ws/h-at-this-rate")
			b.ReportMetric(float64(m.repl.lingering()), "registered-idle")
		})
	}
}

// BenchmarkRSSThousandWritten creates and writes 1,000 workspaces, which
// all stay registered with Litestream (the linger is an hour), and reports
// RSS, goroutines and file descriptors once replication has settled.
func BenchmarkRSSThousandWritten(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dataDir := b.TempDir()
		cfg, _ := fileReplicaConfig(b, dataDir)
		m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg})
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 1000; j++ {
			w := mustCreate(b, m, "Tenant")
			addCompany(b, m, w.ID, "x")
		}
		time.Sleep(5 * time.Second)
		runtime.GC()
		b.ReportMetric(float64(procStatusKB("VmRSS"))/1024, "rss-MB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		b.ReportMetric(float64(openFDs()), "fds")
		b.ReportMetric(float64(m.repl.lingering()), "registered-idle")
		b.ReportMetric(float64(m.OpenHandles()), "open-handles")
		m.Close()
	}
}
