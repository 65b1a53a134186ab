package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium/tenant"
)

// The tracking benchmark's shape: SPEC.md's figure.
const (
	trackBenchWorkspaces = 100
	trackBenchRate       = 1000 // events per second
	trackBenchClients    = 64   // connections the load goes through
	// trackBenchSecondsEnv sets the load's duration; SPEC.md's figure is
	// 30 s, the default is shorter.
	trackBenchSecondsEnv = "ATRIUM_TRACKING_BENCH_SECONDS"
	trackBenchDefault    = 5 * time.Second
)

// BenchmarkTracking is SPEC.md's tracking figure: 100 workspaces, each with
// a tracked message sent through a local SMTP sink (two links and the
// pixel), then an open-loop load of 1,000 requests a second over real HTTP
// (an httptest server, up to 64 keep-alive connections), spread over the 100
// workspaces in turn, one in three the pixel and two in three a click
// redirect. It reports the p50 and p99 of the requests' round trips
// (p*-ms), of the time from each request's scheduled instant to its
// answer (p*-sched-ms: a server that falls behind shows there, not
// hidden by the pacing) and of the server time (p*-server-ms: the handler
// stack, without the network and the client), the rate reached, and, after the buffer is
// flushed, the events stored in the 100 files against the requests
// answered (lost must be 0: the benchmark fails otherwise).
//
//	go test ./handlers -run '^$' -bench Tracking -benchtime 1x
//	ATRIUM_TRACKING_BENCH_SECONDS=30 go test ./handlers -run '^$' -bench Tracking -benchtime 1x
func BenchmarkTracking(b *testing.B) {
	duration := trackBenchDefault
	if s := os.Getenv(trackBenchSecondsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("%s must be a whole number of seconds", trackBenchSecondsEnv)
		}
		duration = time.Duration(n) * time.Second
	}
	ts := newTrackingServer(b, tenant.Options{})
	setup := time.Now()
	targets := trackBenchTargets(b, ts)
	b.ReportMetric(time.Since(setup).Seconds(), "setup-s")
	ts.offset.Store(int64(time.Minute)) // the events are readers', not prefetches
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: trackBenchClients, MaxConnsPerHost: trackBenchClients},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var rtt, sched []time.Duration
	var elapsed time.Duration
	sent := map[string]int{}
	if path := os.Getenv("ATRIUM_TRACKING_PROFILE"); path != "" {
		// The load alone (go test's -cpuprofile covers the setup too).
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	cpu0 := processCPU()
	server := &serverTiming{}
	ts.timing.Store(server)
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		r, s, n := trackBenchLoad(b, ts.URL, client, targets, duration)
		elapsed += time.Since(began)
		rtt, sched = append(rtt, r...), append(sched, s...)
		for ws, k := range n {
			sent[ws] += k
		}
	}
	b.StopTimer()
	ts.timing.Store(nil)
	cpu := processCPU() - cpu0
	stored := trackBenchStored(b, ts, sent)
	total := len(rtt)
	sort.Slice(rtt, func(i, j int) bool { return rtt[i] < rtt[j] })
	sort.Slice(sched, func(i, j int) bool { return sched[i] < sched[j] })
	sort.Slice(server.ds, func(i, j int) bool { return server.ds[i] < server.ds[j] })
	pct := func(ds []time.Duration, p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(rtt, 0.50), "p50-ms")
	b.ReportMetric(pct(rtt, 0.99), "p99-ms")
	b.ReportMetric(pct(sched, 0.50), "p50-sched-ms")
	b.ReportMetric(pct(sched, 0.99), "p99-sched-ms")
	b.ReportMetric(pct(server.ds, 0.50), "p50-server-ms")
	b.ReportMetric(pct(server.ds, 0.99), "p99-server-ms")
	// Below 1,000 when the machine could not keep the pace: the load took
	// longer than its duration.
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(total), "requests")
	// The share of the machine this process (server and load) took: the
	// rest went to whatever else the machine ran.
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds()/float64(runtime.NumCPU()), "cpu-share")
	b.ReportMetric(machineLoad(), "loadavg-1m")
	b.ReportMetric(float64(stored), "events-stored")
	b.ReportMetric(float64(total-stored), "lost")
}

// trackBenchTarget is one workspace's tracking paths.
type trackBenchTarget struct {
	ws     string
	pixel  string
	clicks []string
}

// trackBenchTargets makes the 100 workspaces and sends their messages.
func trackBenchTargets(b *testing.B, ts *trackingServer) []trackBenchTarget {
	targets := make([]trackBenchTarget, trackBenchWorkspaces)
	for i := range targets {
		targets[i].ws = ts.outreach(b, fmt.Sprintf("Bench%03d", i), true)
	}
	for i := range targets {
		clicks, pixel := trackingPaths(b, ts.send(b, fmt.Sprintf("Bench%03d", i)))
		if len(clicks) != 2 || pixel == "" {
			b.Fatalf("workspace %d: %d links and pixel %q", i, len(clicks), pixel)
		}
		targets[i].clicks, targets[i].pixel = clicks, pixel
	}
	return targets
}

// trackBenchLoad sends trackBenchRate requests a second for duration, open
// loop: request i is due at start + i/rate whatever the answers before it.
// It returns the round trips, the times from the due instants, and the
// requests answered per workspace.
func trackBenchLoad(b *testing.B, base string, client *http.Client, targets []trackBenchTarget, duration time.Duration) (rtt, sched []time.Duration, sent map[string]int) {
	type job struct {
		path, ws string
		due      time.Time
		want     int
	}
	n := int(duration.Seconds() * trackBenchRate)
	jobs := make(chan job, n)
	var mu sync.Mutex
	sent = map[string]int{}
	var failed []string
	var wg sync.WaitGroup
	for range trackBenchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				began := time.Now()
				status, err := trackBenchGet(client, base+j.path)
				end := time.Now()
				mu.Lock()
				if err != nil || status != j.want {
					failed = append(failed, fmt.Sprintf("%s: %d %v", j.path, status, err))
				} else {
					rtt, sched = append(rtt, end.Sub(began)), append(sched, end.Sub(j.due))
					sent[j.ws]++
				}
				mu.Unlock()
			}
		}()
	}
	every := time.Second / trackBenchRate
	start := time.Now()
	for i := range n {
		t := targets[i%len(targets)]
		j := job{ws: t.ws, due: start.Add(time.Duration(i) * every)}
		switch (i / len(targets)) % 3 {
		case 0:
			j.path, j.want = t.pixel, http.StatusOK
		default:
			j.path, j.want = t.clicks[(i/len(targets))%3-1], http.StatusFound
		}
		time.Sleep(time.Until(j.due))
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	if len(failed) > 0 {
		b.Fatalf("%d requests failed, the first: %s", len(failed), failed[0])
	}
	return rtt, sched, sent
}

func trackBenchGet(client *http.Client, url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// trackBenchStored flushes the buffer and checks every workspace's file
// holds one event per request it answered; it returns the events stored.
func trackBenchStored(b *testing.B, ts *trackingServer, sent map[string]int) int {
	ctx := context.Background()
	if err := ts.tenants.FlushTracking(ctx); err != nil {
		b.Fatal(err)
	}
	total := 0
	for ws, want := range sent {
		l, err := ts.tenants.Acquire(ctx, ws)
		if err != nil {
			b.Fatal(err)
		}
		var n int
		err = l.R.Get(&n, `SELECT count(*) FROM tracking_events`)
		l.Release()
		if err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Errorf("workspace %s: %d events stored, %d requests answered", ws, n, want)
		}
		total += n
	}
	return total
}

// machineLoad is the 1-minute load average (Linux), 0 where unknown: the
// benchmark shares the machine, and this says how much.
func machineLoad() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
