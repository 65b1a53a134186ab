package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImportCSV1M imports 100,000 new contacts (the upload's columns
// of tenant's BenchmarkBigWorkspace1M) into a copy of BenchmarkSearch1M's
// 1,000,000-contact workspace, and, in the same run, into an empty
// workspace: rows a second of wall time, and CPU (the whole process's, so
// both the reading and the writing goroutine) in µs a row. The copy is
// made with the timer stopped; the file is made by
//
//	go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x
func BenchmarkImportCSV1M(b *testing.B) {
	const rows = 100_000
	src := filepath.Join(os.TempDir(), fmt.Sprintf("atrium-bench-search-%d-v%d.db", 1_000_000, LatestVersion(WorkspaceSchema)))
	if _, err := os.Stat(src); err != nil {
		b.Skipf("no 1M workspace file (%v): run go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x first", err)
	}
	var sb strings.Builder
	sb.WriteString("first_name,last_name,email,company\n")
	for i := range rows {
		fmt.Fprintf(&sb, "P%d,Person,p%d@example.com,Company %d\n", i, i, i%500)
	}
	csv := sb.String()
	for _, size := range []string{"1M", "empty"} {
		b.Run("workspace="+size, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				var db *DB
				if size == "empty" {
					db = MustOpenWorkspace(b)
				} else {
					db = copyBenchWorkspace(b, src)
				}
				before := processCPU()
				b.StartTimer()
				var res *ImportResult
				var err error
				// Labelled for the profile: -tagfocus workspace=1M.
				pprof.Do(context.Background(), pprof.Labels("workspace", size), func(ctx context.Context) {
					res, err = ImportContactsCSV(ctx, db, tester, strings.NewReader(csv), ImportOptions{})
				})
				b.StopTimer()
				cpu += processCPU() - before
				if err != nil || res.Created != rows {
					b.Fatalf("%v %+v", err, res)
				}
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(rows*b.N), "cpu-µs/row")
		})
	}
}

// copyBenchWorkspace copies the workspace file at src into the test's
// temporary directory and opens the copy.
func copyBenchWorkspace(b *testing.B, src string) *DB {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "big.db")
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	// Not transient, as a workspace the tenant replicates and as
	// MustOpenWorkspace's: commits do not checkpoint (Litestream does).
	db, err := Open(dst, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, _, err := Migrate(context.Background(), db, WorkspaceSchema); err != nil {
		b.Fatal(err)
	}
	return db
}

// processCPU is the CPU time, user and system, the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
