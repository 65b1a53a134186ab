package tenant

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	lsfile "github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"
)

// BenchmarkEncryptedReplica compares, in one run, a region with encrypt:
// true against a plain one, both on the in-process S3 server: the
// replication lag of commits (one row every 50 ms, the shipped sync
// interval) and the time to restore a workspace of ATRIUM_BENCH_MB (50)
// MB as new. The measurements alternate between the two so load on the
// machine falls on both; the ratios (encrypted / plain) are the result.
// Run with -benchtime=1x.
func BenchmarkEncryptedReplica(b *testing.B) {
	mb := 50
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	for i := 0; i < b.N; i++ {
		type side struct {
			m       *Manager
			bigID   string
			lags    []time.Duration
			restore []time.Duration
		}
		open := func(encrypt bool) *side {
			s := newS3(b)
			dataDir := b.TempDir()
			cfg := mustConfig(b, dataDir, "regions:\n  default:\n"+s.replicaYAML("bench")+fmt.Sprintf("      encrypt: %v\n", encrypt))
			m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, VerifyInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			w := mustCreate(b, m, "Big")
			fillMB(b, m, w.ID, mb)
			mustSync(b, m, w.ID)
			return &side{m: m, bigID: w.ID}
		}
		plain, enc := open(false), open(true)
		for round := 0; round < 3; round++ {
			for _, s := range []*side{plain, enc} {
				s.lags = append(s.lags, commitLagRun(b, s.m, 40)...)
				start := time.Now()
				n, err := s.m.Restore(context.Background(), s.bigID, RestoreOptions{AsNew: "Copy"})
				if err != nil {
					b.Fatal(err)
				}
				s.restore = append(s.restore, time.Since(start))
				// The copy's own first upload must not overlap the next
				// measurement.
				mustSync(b, s.m, n.ID)
				if _, err := s.m.Delete(context.Background(), n.ID, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		}
		med := func(ds []time.Duration) time.Duration { ds = slices.Clone(ds); slices.Sort(ds); return ds[len(ds)/2] }
		p99 := func(ds []time.Duration) time.Duration {
			ds = slices.Clone(ds)
			slices.Sort(ds)
			return ds[min(len(ds)-1, len(ds)*99/100)]
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(med(plain.lags)), "lag-p50-plain-ms")
		b.ReportMetric(ms(med(enc.lags)), "lag-p50-enc-ms")
		b.ReportMetric(ms(p99(plain.lags)), "lag-p99-plain-ms")
		b.ReportMetric(ms(p99(enc.lags)), "lag-p99-enc-ms")
		b.ReportMetric(float64(med(enc.lags))/float64(med(plain.lags)), "lag-p50-ratio")
		b.ReportMetric(ms(med(plain.restore)), "restore-plain-ms")
		b.ReportMetric(ms(med(enc.restore)), "restore-enc-ms")
		b.ReportMetric(float64(med(enc.restore))/float64(med(plain.restore)), "restore-ratio")
		b.ReportMetric(float64(fileSize(mustPath(b, plain.m, plain.bigID)))/1e6, "db-MB")
	}
}

// commitLagRun creates a workspace, commits n rows 50 ms apart and
// returns how long each took to reach the replica (see
// BenchmarkReplicationLag).
func commitLagRun(b *testing.B, m *Manager, n int) []time.Duration {
	w := mustCreate(b, m, "Lag")
	path, _ := m.FilePath(w)
	l, err := m.Acquire(context.Background(), w.ID)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	db := m.repl.registered(path)
	samples, stop := sampleReplicaPos(db)
	var commits []commit
	for j := 0; j < n; j++ {
		before, _ := db.Pos()
		if _, err := l.W.Exec(`INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, 'x', 0, 0)`, fmt.Sprint(j)); err != nil {
			b.Fatal(err)
		}
		commits = append(commits, commit{at: time.Now(), before: before.TXID})
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	return commitLags(b, commits, stop(), samples)
}

// BenchmarkReplicaCryptThroughput is the encrypting client's own cost:
// writing and reading back a 16 MiB LTX object on a file replica, with and
// without encryption.
func BenchmarkReplicaCryptThroughput(b *testing.B) {
	plain := fakeLTX(b, 16<<20, 1, 1)
	for _, encrypt := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypt], func(b *testing.B) {
			ctx := context.Background()
			var c interface {
				WriteLTXFile(context.Context, int, ltx.TXID, ltx.TXID, io.Reader) (*ltx.FileInfo, error)
				OpenLTXFile(context.Context, int, ltx.TXID, ltx.TXID, int64, int64) (io.ReadCloser, error)
			} = lsfile.NewReplicaClient(b.TempDir())
			if encrypt {
				c = newCryptClient(lsfile.NewReplicaClient(b.TempDir()), "ws", staticKeys(testKeySet(1)))
			}
			b.SetBytes(int64(len(plain)))
			for i := 0; i < b.N; i++ {
				if _, err := c.WriteLTXFile(ctx, 0, 1, 1, bytes.NewReader(plain)); err != nil {
					b.Fatal(err)
				}
				rc, err := c.OpenLTXFile(ctx, 0, 1, 1, 0, 0)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(plain)) {
					b.Fatal(n, err)
				}
				rc.Close()
			}
		})
	}
}
