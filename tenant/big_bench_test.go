package tenant

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"atrium/store"
)

// BenchmarkBigWorkspace1M takes in the generated 1,000,000-contact
// workspace of store's BenchmarkSearch1M (about 800 MB) as a new workspace
// replicated to a file replica, and measures what a big client costs, once
// per iteration (run it with -benchtime 1x):
//
//   - create-s: the take-in (a copy of the file), first-sync-s: its first
//     replication (a full snapshot);
//   - rest-ratio: the workspace's local disk (file, -wal, -shm and
//     Litestream's state beside it) over the file's size, with its handle
//     released and replication synced; replica-MB: its replica directory;
//   - open-s: a cold acquire after a restart (neither open nor
//     registered), with a first query;
//   - export-s and export-rss-MB: tenant.Manager.ExportTo to nowhere, and
//     the process's peak RSS during it above the RSS before it;
//   - import-empty-rows/s and import-1M-rows/s: 100,000 new contacts by
//     StartContactImport (the upload's path) into an empty workspace, then
//     into the 1M one; rest-after-import-ratio and replica-after-import-MB
//     as above once replication has settled after the import;
//   - with ATRIUM_BENCH_REST_WAIT set (e.g. 7m), rest-later-ratio and replica-later-MB that long after;
//   - restore-s (as a new workspace, from the file replica), move-s (to
//     another region) and delete-s (hard delete, replica included).
//
// The file must have been generated first under the OS temp dir:
//
//	go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x
//	go test ./tenant -run '^$' -bench BigWorkspace1M -benchtime 1x
func BenchmarkBigWorkspace1M(b *testing.B) {
	file := filepath.Join(os.TempDir(), fmt.Sprintf("atrium-bench-search-1000000-v%d.db", store.LatestVersion(store.WorkspaceSchema)))
	if _, err := os.Stat(file); err != nil {
		b.Skipf("%s is missing: run store's BenchmarkSearch1M first (go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x)", file)
	}
	for i := 0; i < b.N; i++ {
		bigWorkspaceOnce(b, file)
	}
}

// BenchmarkRestore1M measures only the restore of BenchmarkBigWorkspace1M's
// file (same setup: taken in as a new workspace, synced to a file replica)
// as a new workspace, once per iteration, and where its time goes:
// restore-s (wall), restore-cpu-s (the process's user+system CPU over it,
// Litestream's background work included), ltx-restore-s (the replica's
// LTX files into the file), check-s (quick_check, with the file's sync to
// disk beside it), take-back-s, register-s (the rest: rename, catalog,
// registration with Litestream); then, not in restore-s,
// bg-check-s and bg-check-cpu-s, the full integrity_check's job from the
// restore's return to its end. Each copy is deleted after it is measured.
// After the iterations, move-s and move-cpu-s: one Move of the workspace
// to the other region.
//
//	go test ./tenant -run '^$' -bench Restore1M -benchtime 3x
func BenchmarkRestore1M(b *testing.B) {
	file := filepath.Join(os.TempDir(), fmt.Sprintf("atrium-bench-search-1000000-v%d.db", store.LatestVersion(store.WorkspaceSchema)))
	if _, err := os.Stat(file); err != nil {
		b.Skipf("%s is missing: run store's BenchmarkSearch1M first (go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x)", file)
	}
	b.StopTimer()
	ctx := context.Background()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	dataDir := b.TempDir()
	cfg, _ := twoRegionConfig(b, dataDir)
	steps := newRestoreSteps(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := Open(ctx, Options{DataDir: dataDir, Config: cfg, VerifyInterval: -1, Logger: slog.New(steps)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	w, err := m.Create(ctx, CreateOptions{Name: "Big", From: file})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fileSize(mustPath(b, m, w.ID)))/1e6, "db-MB")
	mustSync(b, m, w.ID)
	var wall, cpu, ltx, takeBack, check, bgWall, bgCPU float64
	for i := 0; i < b.N; i++ {
		cpu0 := cpuSeconds()
		b.StartTimer()
		start := time.Now()
		restored, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy"})
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		wall += took.Seconds()
		cpu += cpuSeconds() - cpu0
		s := steps.last()
		ltx, takeBack, check = ltx+s["restore_s"], takeBack+s["take_back_s"], check+s["check_s"]
		// The full check, afterwards, as a job.
		cpu0, start = cpuSeconds(), time.Now()
		j := waitCheckRestored(b, m, restored.ID)
		if j.State != store.JobDone {
			b.Fatalf("the full check of the copy: %+v", j)
		}
		bgWall += time.Since(start).Seconds()
		bgCPU += cpuSeconds() - cpu0
		if _, err := m.Delete(ctx, restored.ID, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	// Then once a move to the other region: the same restore, plus the
	// first snapshot into the new region's replica.
	cpu0 := cpuSeconds()
	start := time.Now()
	if _, err := m.Move(ctx, w.ID, "eu", "bench"); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "move-s")
	b.ReportMetric(cpuSeconds()-cpu0, "move-cpu-s")
	if j := waitCheckRestored(b, m, w.ID); j.State != store.JobDone {
		b.Fatalf("the full check after the move: %+v", j)
	}
	n := float64(b.N)
	b.ReportMetric(wall/n, "restore-s")
	b.ReportMetric(cpu/n, "restore-cpu-s")
	b.ReportMetric(ltx/n, "ltx-restore-s")
	b.ReportMetric(takeBack/n, "take-back-s")
	b.ReportMetric(check/n, "check-s")
	b.ReportMetric((wall-ltx-takeBack-check)/n, "register-s")
	b.ReportMetric(bgWall/n, "bg-check-s")
	b.ReportMetric(bgCPU/n, "bg-check-cpu-s")
	reportLoad(b)
}

// restoreSteps is a log handler that keeps the step times of the last
// restore logged (restoredMessage) and passes the rest on.
type restoreSteps struct {
	slog.Handler
	times *stepTimes
}

type stepTimes struct {
	mu   sync.Mutex
	last map[string]float64
}

func newRestoreSteps(next slog.Handler) *restoreSteps {
	return &restoreSteps{Handler: next, times: &stepTimes{}}
}

func (h *restoreSteps) Enabled(context.Context, slog.Level) bool { return true }

func (h *restoreSteps) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == restoredMessage {
		times := map[string]float64{}
		r.Attrs(func(a slog.Attr) bool {
			if a.Value.Kind() == slog.KindFloat64 {
				times[a.Key] = a.Value.Float64()
			}
			return true
		})
		h.times.mu.Lock()
		h.times.last = times
		h.times.mu.Unlock()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *restoreSteps) WithAttrs(as []slog.Attr) slog.Handler {
	return &restoreSteps{Handler: h.Handler.WithAttrs(as), times: h.times}
}

func (h *restoreSteps) WithGroup(name string) slog.Handler {
	return &restoreSteps{Handler: h.Handler.WithGroup(name), times: h.times}
}

func (h *restoreSteps) last() map[string]float64 {
	h.times.mu.Lock()
	defer h.times.mu.Unlock()
	return h.times.last
}

// cpuSeconds is the user and system CPU time the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func bigWorkspaceOnce(b *testing.B, file string) {
	b.StopTimer()
	ctx := context.Background()
	// tenant.Open raises GOMAXPROCS for background threads, as in serve.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	// As in BenchmarkIdleRequests: a shorter L0 retention check lets
	// ATRIUM_BENCH_REST_WAIT see Litestream drop its local L0 files.
	l0RetentionCheckInterval = envDuration("ATRIUM_BENCH_L0_CHECK", defaultL0RetentionCheckInterval)
	defer func() { l0RetentionCheckInterval = defaultL0RetentionCheckInterval }()
	dataDir := b.TempDir()
	cfg, other := twoRegionConfig(b, dataDir)
	replicas := filepath.Join(other, "default-replica")
	opts := Options{DataDir: dataDir, Config: cfg, VerifyInterval: -1}
	m, err := Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	open := true
	defer func() {
		if open {
			m.Close()
		}
	}()
	timed := func(metric string, fn func() error) {
		b.StartTimer()
		start := time.Now()
		err := fn()
		d := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%s: %v", metric, err)
		}
		b.ReportMetric(d.Seconds(), metric)
	}

	var w *store.Workspace
	timed("create-s", func() (err error) {
		w, err = m.Create(ctx, CreateOptions{Name: "Big", From: file})
		return err
	})
	path := mustPath(b, m, w.ID)
	size := fileSize(path)
	b.ReportMetric(float64(size)/1e6, "db-MB")
	timed("first-sync-s", func() error { _, err := m.Sync(ctx, w.ID); return err })
	b.ReportMetric(float64(localBytes(path))/float64(size), "rest-ratio")
	b.ReportMetric(float64(dirBytes(filepath.Join(replicas, w.ID)))/1e6, "replica-MB")

	// A restart: the next acquire finds the workspace neither open nor
	// registered with Litestream.
	open = false
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	if m, err = Open(ctx, opts); err != nil {
		b.Fatal(err)
	}
	open = true
	var l *Lease
	timed("open-s", func() (err error) {
		if l, err = m.Acquire(ctx, w.ID); err != nil {
			return err
		}
		var id string
		return l.R.Get(&id, `SELECT id FROM contacts ORDER BY seq DESC LIMIT 1`)
	})

	runtime.GC()
	debug.FreeOSMemory()
	idle := procStatusKB("VmRSS")
	peak := watchPeakRSS()
	var exported int64
	timed("export-s", func() error {
		_, err := m.ExportTo(ctx, l, countWriter{&exported}, "")
		return err
	})
	l.Release()
	b.ReportMetric(float64(peak()-idle)/1024, "export-rss-MB")
	b.ReportMetric(float64(exported)/1e6, "export-MB")

	const rows = 100_000
	empty := mustCreate(b, m, "Empty")
	b.ReportMetric(importRate(b, m, empty.ID, rows), "import-empty-rows/s")
	b.ReportMetric(importRate(b, m, w.ID, rows), "import-1M-rows/s")
	// At rest: replication has copied the import and checkpointed.
	for range 3 {
		mustSync(b, m, w.ID)
		time.Sleep(2 * time.Second)
	}
	b.ReportMetric(float64(localBytes(path))/float64(fileSize(path)), "rest-after-import-ratio")
	b.ReportMetric(float64(fileSize(path+"-wal"))/1e6, "wal-after-import-MB")
	b.ReportMetric(float64(dirBytes(filepath.Join(replicas, w.ID)))/1e6, "replica-after-import-MB")
	if wait := envDuration("ATRIUM_BENCH_REST_WAIT", 0); wait > 0 {
		// Litestream keeps its L0 files (the first snapshot among them)
		// beside the file until they are compacted into L1 and older than
		// its L0 retention (5 minutes), which the driver checks for a written
		// file l0SettleDelay after the write (and the store for every file
		// every l0RetentionCheckInterval). The newest L0 file always stays.
		time.Sleep(wait)
		b.ReportMetric(float64(localBytes(path))/float64(fileSize(path)), "rest-later-ratio")
		b.ReportMetric(float64(dirBytes(filepath.Join(replicas, w.ID)))/1e6, "replica-later-MB")
	}

	var restored *store.Workspace
	timed("restore-s", func() (err error) {
		restored, err = m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Copy"})
		return err
	})
	if _, err := m.Delete(ctx, restored.ID, "bench"); err != nil { // only its disk
		b.Fatal(err)
	}
	timed("move-s", func() error { _, err := m.Move(ctx, w.ID, "eu", "bench"); return err })
	timed("delete-s", func() error { _, err := m.Delete(ctx, w.ID, "bench"); return err })
	reportLoad(b)
}

// importRate imports n new contacts into workspace id as a job and returns
// its rate in rows per second, from the job's start to its end.
func importRate(b *testing.B, m *Manager, id string, n int) float64 {
	ctx := context.Background()
	path := writeContactsCSV(b, b.TempDir(), n)
	b.StartTimer()
	start := time.Now()
	job, err := m.StartContactImport(ctx, ContactImport{WorkspaceID: id, Actor: store.Actor{Kind: "system", ID: "bench"},
		Path: path, Header: []string{"first_name", "last_name", "email", "company"}, Rows: n})
	if err != nil {
		b.Fatal(err)
	}
	j, err := m.WaitJob(ctx, id, job)
	elapsed := time.Since(start)
	b.StopTimer()
	if want := fmt.Sprintf(`{"read":%d,"created":%d,`, n, n); err != nil || j.State != store.JobDone || len(j.Result) < len(want) || j.Result[:len(want)] != want {
		b.Fatalf("import job: %+v, %v", j, err)
	}
	return float64(n) / elapsed.Seconds()
}

// localBytes is what a workspace holds on its data directory's disk: the
// file, its -wal and -shm, and Litestream's state directory beside it.
func localBytes(path string) int64 {
	return fileSize(path) + fileSize(path+"-wal") + fileSize(path+"-shm") + dirBytes(metaPath(path))
}

// dirBytes sums the sizes of the files under dir (0 if it does not exist).
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

type countWriter struct{ n *int64 }

func (w countWriter) Write(p []byte) (int, error) { *w.n += int64(len(p)); return len(p), nil }

// watchPeakRSS samples the process's RSS every 10 ms until the returned
// function is called, which returns the highest, in kB. (VmHWM cannot be
// used: it holds the peak of everything before.)
func watchPeakRSS() func() int {
	var peak atomic.Int64
	peak.Store(int64(procStatusKB("VmRSS")))
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if kb := int64(procStatusKB("VmRSS")); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() int { close(done); <-stopped; return int(peak.Load()) }
}

// reportLoad reports the machine's 5-minute load average: the machine may
// be shared, and it says how much else ran meanwhile.
func reportLoad(b *testing.B) {
	if avg, err := os.ReadFile("/proc/loadavg"); err == nil {
		var load1, load5 float64
		fmt.Sscan(string(avg), &load1, &load5)
		b.ReportMetric(load5, "loadavg-5m")
	}
}
