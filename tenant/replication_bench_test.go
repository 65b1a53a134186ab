package tenant

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"atrium/store"
)

// The replication benchmarks report their own metrics; run each with
// -benchtime=1x (see the report commands in BENCHMARKS.md).

// BenchmarkReplicationLag commits one row every 100ms for 20s to a workspace
// replicating to the in-process S3 server with the shipped intervals, and
// reports how long each commit took to reach the replica: from the commit
// until the replica's position passed the local position read just before
// it. A poller samples the replica position every 5ms.
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
		samples, stop := sampleReplicaPos(db)
		var commits []commit
		for j := 0; j < 200; j++ {
			before, _ := db.Pos()
			if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, 'x', 0, 0)`, fmt.Sprint(j)); err != nil {
				b.Fatal(err)
			}
			commits = append(commits, commit{at: time.Now(), before: before.TXID})
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		lags := commitLags(b, commits, stop(), samples)
		l.Release()
		m.Close()
		reportPercentiles(b, lags)
		b.ReportMetric(float64(maxDuration(lags).Milliseconds()), "max-ms")
	}
}

type commit struct {
	at     time.Time
	before ltx.TXID
}

type posSample struct {
	at   time.Time
	txid ltx.TXID
}

// sampleReplicaPos records the replica position every 5ms until stop.
func sampleReplicaPos(db *litestream.DB) (*[]posSample, func() []posSample) {
	var out []posSample
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
				out = append(out, posSample{time.Now(), db.Replica.Pos().TXID})
			}
		}
	}()
	return &out, func() []posSample { close(done); <-finished; return out }
}

func commitLags(b *testing.B, commits []commit, samples []posSample, _ *[]posSample) []time.Duration {
	var lags []time.Duration
	for _, c := range commits {
		found := false
		for _, s := range samples {
			if !s.at.Before(c.at) && s.txid > c.before {
				lags = append(lags, s.at.Sub(c.at))
				found = true
				break
			}
		}
		if !found {
			b.Fatalf("a commit never reached the replica")
		}
	}
	return lags
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
	benchmarkBigWorkspace(b, func(m *Manager, w *store.Workspace) error {
		_, err := m.Restore(context.Background(), w.ID, RestoreOptions{AsNew: "Copy"})
		return err
	})
}

// benchmarkBigWorkspace times op on a workspace of 100 MB replicated to the
// in-process S3 server and to a file replica, and reports its percentiles
// and the file's size.
func benchmarkBigWorkspace(b *testing.B, op func(m *Manager, w *store.Workspace) error) {
	for _, kind := range []string{"s3", "file"} {
		b.Run(kind, func(b *testing.B) {
			m, w := openBigWorkspace(b, kind)
			var ds []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := op(m, w); err != nil {
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

// openBigWorkspace opens a Manager replicating to the in-process S3 server
// or to a file replica, with one workspace of 100 MB, replicated.
func openBigWorkspace(b *testing.B, kind string) (*Manager, *store.Workspace) {
	dataDir := b.TempDir()
	var cfg *Config
	if kind == "s3" {
		cfg = mustConfig(b, dataDir, "regions:\n  default:\n"+newS3(b).replicaYAML("big"))
	} else {
		cfg, _ = fileReplicaConfig(b, dataDir)
	}
	m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, VerifyInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	w := mustCreate(b, m, "Big")
	fillMB(b, m, w.ID, 100)
	mustSync(b, m, w.ID)
	return m, w
}

// BenchmarkVerifyReplica100MB verifies the replica of a workspace holding
// 100 MB (sync, read every live page, restore aside, integrity_check,
// compare), from the in-process S3 server and from a file replica. Compare
// with BenchmarkRestore100MB in the same run.
func BenchmarkVerifyReplica100MB(b *testing.B) {
	benchmarkBigWorkspace(b, func(m *Manager, w *store.Workspace) error {
		v, err := m.VerifyReplica(context.Background(), w.ID)
		if err == nil && v.Failure != "" {
			err = fmt.Errorf("the verification failed: %s", v.Failure)
		}
		return err
	})
}

// fillMB writes about mb megabytes of incompressible audit entries (a
// table without a search index) into workspace id.
func fillMB(tb testing.TB, m *Manager, id string, mb int) {
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	blob := make([]byte, 32<<10)
	for i := 0; i < mb*16; i++ {
		rand.Read(blob)
		if _, err := l.W.Exec(`INSERT INTO audit_log (at, actor, action, changes) VALUES (0, 'bench', 'fill', ?)`, fmt.Sprintf("%x", blob)); err != nil {
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

// BenchmarkIdleRequests writes to 100 workspaces on the in-process S3
// server and closes their handles (the cache holds one), so they stay
// registered but idle. After a settling period (the checkpoint a minute
// after the last write, and the L1 compaction, are one-off costs of that
// write) it counts the object-storage requests over a window. Set
// ATRIUM_BENCH_L0_CHECK (e.g. 5s) to shorten the L0 retention check, the
// one periodic LIST per registered database, and measure its cost per check.
func BenchmarkIdleRequests(b *testing.B) {
	const n = 100
	settle, window := envDuration("ATRIUM_BENCH_SETTLE", 90*time.Second), envDuration("ATRIUM_BENCH_WINDOW", 180*time.Second)
	l0RetentionCheckInterval = envDuration("ATRIUM_BENCH_L0_CHECK", defaultL0RetentionCheckInterval)
	defer func() { l0RetentionCheckInterval = defaultL0RetentionCheckInterval }()
	for i := 0; i < b.N; i++ {
		s := newS3(b)
		dataDir := b.TempDir()
		cfg := mustConfig(b, dataDir, "regions:\n  default:\n"+s.replicaYAML("idle"))
		m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, MaxOpen: 1})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			w := mustCreate(b, m, "Idle")
			addCompany(b, m, w.ID, "x")
			mustSync(b, m, w.ID)
		}
		time.Sleep(settle)
		before, lists := s.requests.Load(), s.lists.Load()
		time.Sleep(window)
		reqs, listed := s.requests.Load()-before, s.lists.Load()-lists
		b.ReportMetric(float64(reqs), "requests")
		b.ReportMetric(float64(listed), "lists")
		b.ReportMetric(float64(reqs)/n*float64(time.Hour)/float64(window), "req/ws/h")
		b.ReportMetric(float64(m.repl.lingering()), "registered-idle")
		m.Close()
	}
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

// BenchmarkRSSThousandWritten creates and writes 1,000 workspaces with the
// default cache (256 open handles) and reports RSS, goroutines and file
// descriptors once replication has settled. ATRIUM_BENCH_MAX_LINGERING
// overrides how many closed workspaces stay registered (default
// DefaultMaxLingering; 1000 keeps every one written this hour registered).
func BenchmarkRSSThousandWritten(b *testing.B) {
	maxLingering, _ := strconv.Atoi(os.Getenv("ATRIUM_BENCH_MAX_LINGERING"))
	for i := 0; i < b.N; i++ {
		dataDir := b.TempDir()
		cfg, _ := fileReplicaConfig(b, dataDir)
		m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, MaxLingering: maxLingering})
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 1000; j++ {
			w := mustCreate(b, m, "Tenant")
			addCompany(b, m, w.ID, "x")
		}
		time.Sleep(5 * time.Second)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "go-heap-MB")
		b.ReportMetric(float64(procStatusKB("VmRSS"))/1024, "rss-MB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		b.ReportMetric(float64(openFDs()), "fds")
		b.ReportMetric(float64(m.repl.lingering()), "registered-idle")
		b.ReportMetric(float64(m.OpenHandles()), "open-handles")
		m.Close()
	}
}

// BenchmarkWritesDuringVerify measures what a verification costs the
// writers of the workspace it verifies (it holds the write lock while it
// syncs and starts reading): a writer commits one row at a time to a
// 100 MB workspace for 10 s, first alone, then while verifications run
// back to back, and the latencies of each phase are reported.
func BenchmarkWritesDuringVerify(b *testing.B) {
	m, w := openBigWorkspace(b, "file")
	write := func(stop <-chan struct{}) []time.Duration {
		var ds []time.Duration
		for i := 0; ; i++ {
			select {
			case <-stop:
				return ds
			default:
			}
			start := time.Now()
			mustExec(b, m, w.ID, `INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, 'x', 0, 0)`, fmt.Sprintf("%d-%d", len(ds), time.Now().UnixNano()))
			ds = append(ds, time.Since(start))
			time.Sleep(5 * time.Millisecond)
		}
	}
	phase := func(verifying bool) []time.Duration {
		stop := make(chan struct{})
		done := make(chan struct{})
		if verifying {
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if v, err := m.VerifyReplica(context.Background(), w.ID); err != nil || v.Failure != "" {
						b.Errorf("%+v, %v", v, err)
						return
					}
				}
			}()
		} else {
			close(done)
		}
		time.AfterFunc(envDuration("ATRIUM_BENCH_PHASE", 10*time.Second), func() { close(stop) })
		ds := write(stop)
		<-done
		return ds
	}
	for i := 0; i < b.N; i++ {
		alone := phase(false)
		during := phase(true)
		reportPercentilesAs(b, "alone-", alone)
		reportPercentilesAs(b, "verifying-", during)
		b.ReportMetric(float64(maxDuration(during))/1e6, "verifying-max-ms")
	}
}
