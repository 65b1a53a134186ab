package handlers

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"atrium/outreach/smtptest"
	"atrium/store"
	"atrium/tenant"
)

// The sending benchmark's shape: SPEC.md's sender figure.
const (
	sendBenchWorkspaces = 10_000
	sendBenchSending    = 200 // workspaces with due steps
	sendBenchContacts   = 50  // enrolled per sending workspace: 10,000 due messages
	sendBenchPageRows   = 100_000
	// sendBenchPageEvery paces the contacts-page requests (open loop, the
	// same pace idle and busy), so the measuring client takes a fixed,
	// small share of the two cores instead of competing as hard as it can.
	sendBenchPageEvery = 20 * time.Millisecond
	sendBenchIdleFor   = 15 * time.Second
)

// BenchmarkSending10k is SPEC.md's sender figure: 10,000 workspaces, 200 of
// them with a mailbox on a local SMTP sink and 50 contacts enrolled in a
// one-email sequence (10,000 due messages); of the other 9,800, one has
// 100,000 contacts and serves the page below, the rest are never opened.
// After the setup the server restarts (no workspace file open), and the
// benchmark reports (ns/op is the sending phase):
//
//   - due-*: the scheduler's catalog query (store.DueWork, as RunDue calls
//     it) finding the 200 among 10,000, against a point lookup of one
//     catalog row in the same run;
//   - sends/s: the scheduler and the job runner (default 2 jobs) sending
//     all 10,000 through the sink, first cold opens included; against a
//     bare SMTP client sending the same bytes to a second sink in the same
//     run; the ledgers and the sink are checked (10,000 'sent', no
//     Message-ID twice) and every idle workspace must still be pristine:
//     its file was never opened;
//   - page-*: server time of the contacts list page (50 rows of 100,000,
//     the real handler stack, no network) of another workspace, idle and
//     then while the sending runs; page-p99-ratio is busy over idle
//     (target ≤ 1.5).
//
// It takes minutes; it runs only when -bench names it:
//
//	go test ./handlers -run '^$' -bench Sending10k -benchtime 1x -count 3
func BenchmarkSending10k(b *testing.B) {
	if f := flag.Lookup("test.bench"); f == nil || !strings.Contains(f.Value.String(), "Sending10k") {
		b.Skip("minutes long: run it with -bench Sending10k")
	}
	for i := 0; i < b.N; i++ {
		sendBenchOnce(b)
	}
}

func sendBenchOnce(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	offset := aheadOffset()
	// Background verification is off: after the restart, every workspace
	// opened again is verified a minute later, and the page workspace's
	// verification (all of its 100,000 contacts read and restored aside)
	// would land in the busy phase and not in the idle one.
	opts := tenant.Options{DataDir: dir, Now: func() time.Time { return time.Now().Add(offset) }, VerifyInterval: -1}
	// ATRIUM_SEND_MAX_JOBS=n tries another --max-jobs (default 2).
	opts.MaxJobs, _ = strconv.Atoi(os.Getenv("ATRIUM_SEND_MAX_JOBS"))
	b.ReportMetric(float64(cmp.Or(opts.MaxJobs, tenant.DefaultMaxJobs)), "max-jobs")
	sink := smtptest.NewServer(b, smtptest.Options{NoTLS: true})
	const owner = "owner@example.com"

	// Setup, on a first Manager.
	b.StopTimer()
	m, err := tenant.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	first := m
	b.Cleanup(func() { first.Close() })
	if _, err := store.CreateUser(ctx, m.Catalog(), store.NewUser{Email: owner, Password: testPassword, Verified: true}); err != nil {
		b.Fatal(err)
	}
	page, err := m.Create(ctx, tenant.CreateOptions{Name: "Idle client", OwnerEmail: owner})
	if err != nil {
		b.Fatal(err)
	}
	l, err := m.Acquire(ctx, page.ID)
	if err != nil {
		b.Fatal(err)
	}
	seedContacts(b, l.DB, sendBenchPageRows)
	l.Release()
	sending := map[string]bool{}
	var createTime, outreachTime time.Duration
	every := sendBenchWorkspaces / sendBenchSending
	for j := 1; j < sendBenchWorkspaces; j++ {
		start := time.Now()
		w, err := m.Create(ctx, tenant.CreateOptions{Name: fmt.Sprintf("Client %d", j)})
		if err != nil {
			b.Fatal(err)
		}
		createTime += time.Since(start)
		if (j-1)%every == 0 {
			start = time.Now()
			sendBenchOutreach(b, m, w.ID, sink)
			outreachTime += time.Since(start)
			sending[w.ID] = true
		}
	}
	if len(sending) != sendBenchSending {
		b.Fatalf("%d sending workspaces", len(sending))
	}
	b.ReportMetric(createTime.Seconds(), "setup-create-s")
	b.ReportMetric(outreachTime.Seconds(), "setup-outreach-s")
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}

	// The server starts again: nothing is open.
	m, err = tenant.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	h, err := New(ctx, Config{Tenants: m, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS("..")})
	if err != nil {
		b.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(h), tenants: m}
	defer ts.Close()
	c := ts.loggedIn(b, owner)
	c.get("/w/" + page.ID + "/") // the first visit records the sign-in and opens the file
	u, _ := url.Parse(ts.URL)
	cookie := c.hc.Jar.Cookies(u)[0]
	if n := m.OpenHandles(); n != 1 {
		b.Fatalf("%d workspaces open after the restart and one page, want 1", n)
	}

	// (a) Finding the due work.
	now := opts.Now()
	due, err := store.DueWork(ctx, m.Catalog().R, now, 10*sendBenchSending)
	if err != nil {
		b.Fatal(err)
	}
	if len(due) != sendBenchSending {
		b.Fatalf("%d pieces of due work, want %d", len(due), sendBenchSending)
	}
	for _, d := range due {
		if !sending[d.WorkspaceID] || d.Kind != store.DueSend {
			b.Fatalf("due work %+v is not a sending workspace's", d)
		}
	}
	var dueTimes, lookupTimes []time.Duration
	for range 500 {
		start := time.Now()
		if _, err := store.DueWork(ctx, m.Catalog().R, now, 100); err != nil { // RunDue's batch
			b.Fatal(err)
		}
		dueTimes = append(dueTimes, time.Since(start))
		start = time.Now()
		if _, err := store.GetWorkspace(ctx, m.Catalog().R, page.ID); err != nil {
			b.Fatal(err)
		}
		lookupTimes = append(lookupTimes, time.Since(start))
	}
	duep50, _ := reportPercentilesAs(b, "due-", dueTimes)
	lookp50, _ := reportPercentilesAs(b, "lookup-", lookupTimes)
	b.ReportMetric(duep50/lookp50, "due/lookup")

	// (c) The contacts page, idle.
	base := "/w/" + page.ID + "/contacts"
	paths := []string{base, base + "?sort=name&dir=asc", base + "?stage=customer", base + "?sort=updated"}
	stop := make(chan struct{})
	time.AfterFunc(sendBenchIdleFor, func() { close(stop) })
	idle := pacedPageTimes(b, h, cookie, paths, stop)
	_, idlep99 := reportPercentilesAs(b, "page-idle-", idle)

	// (b) Sending, with (c) the same page requests alongside.
	stop = make(chan struct{})
	var busy []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		busy = pacedPageTimes(b, h, cookie, paths, stop)
	}()
	if path := os.Getenv("ATRIUM_SEND_PROFILE"); path != "" {
		// The sending phase alone (go test's -cpuprofile covers the setup
		// too): ATRIUM_SEND_PROFILE=cpu.out, without -cpuprofile.
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
	start := time.Now()
	b.StartTimer()
	m.StartScheduler()
	maxOpen := 0
	for len(sink.Messages()) < sendBenchSending*sendBenchContacts {
		if time.Since(start) > 20*time.Minute {
			b.Fatalf("%d of %d messages sent after 20 minutes", len(sink.Messages()), sendBenchSending*sendBenchContacts)
		}
		maxOpen = max(maxOpen, m.OpenHandles())
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	pprof.StopCPUProfile()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(sendBenchSending*sendBenchContacts)/elapsed.Seconds(), "sends/s")
	b.ReportMetric(elapsed.Seconds(), "send-s")
	// The process's CPU while sending (jobs, sink, replication, pages), per
	// message, and the share of the machine it got: the machine is shared,
	// and a run that got less of it sends slower.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(sendBenchSending*sendBenchContacts), "cpu-ms/send")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds()/float64(runtime.NumCPU()), "cpu-share")
	_, busyp99 := reportPercentilesAs(b, "page-busy-", busy)
	b.ReportMetric(busyp99/idlep99, "page-p99-ratio")
	b.ReportMetric(float64(len(busy)), "page-busy-n")
	b.ReportMetric(float64(maxOpen), "max-open-handles")

	// The index empties once every last pass recorded its sends.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		due, err := store.DueWork(ctx, m.Catalog().R, opts.Now().Add(time.Minute), 10*sendBenchSending)
		if err != nil {
			b.Fatal(err)
		}
		if len(due) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d pieces of due work left a minute after the last send", len(due))
		}
	}
	// The same page idle again, once the last passes ended: the machine is
	// shared, and a load that changed between the two phases shows here.
	stop = make(chan struct{})
	time.AfterFunc(sendBenchIdleFor, func() { close(stop) })
	after := pacedPageTimes(b, h, cookie, paths, stop)
	reportPercentilesAs(b, "page-idle-after-", after)

	sendBenchCheck(b, m, sink, sending, page.ID)
	b.ReportMetric(float64(procStatusKB("VmHWM"))/1024, "peak-rss-MB")

	// The reference: the same bytes through a bare SMTP client, 20 per
	// conversation as a send job's pass, to a second sink.
	bare := bareSMTPRate(b, sink.Messages()[0].Data)
	b.ReportMetric(bare, "bare-smtp-sends/s")
	b.ReportMetric(float64(sendBenchSending*sendBenchContacts)/elapsed.Seconds()/bare, "sends/bare")
}

// sendBenchOutreach gives a workspace a mailbox on sink (no TLS, no gap, a
// daily limit above its sends), a template, an active one-email sequence,
// and enrolls sendBenchContacts new contacts: as tenant's send tests do.
func sendBenchOutreach(b *testing.B, m *tenant.Manager, id string, sink *smtptest.Server) {
	ctx := context.Background()
	l, err := m.Acquire(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	svc := m.Service(l)
	a := store.Actor{Kind: "system", ID: "bench"}
	p := func(s string) *string { return &s }
	limit, zero := 10_000, 0
	mb, err := svc.CreateMailbox(ctx, a, store.MailboxInput{Name: p("Sales"), FromEmail: p("ana@acme.example"), SMTPHost: p(sink.Host),
		SMTPPort: &sink.Port, TLSMode: p("none"), Username: p(sink.Username), Password: p(sink.Password), GapMin: &zero, GapMax: &zero,
		DailyLimit: &limit, WindowDays: &store.Weekdays{1, 2, 3, 4, 5, 6, 7}})
	if err != nil {
		b.Fatal(err)
	}
	tp, err := store.CreateTemplate(ctx, l.DB, a, store.TemplateInput{Name: p("Intro"), Subject: p("Hi {{first_name}}"),
		Body: p("Hello {{first_name | \"there\"}},\n\nA short note from Acme about the launch next week.\n\nAna")})
	if err != nil {
		b.Fatal(err)
	}
	seq, err := svc.CreateSequence(ctx, a, store.SequenceInput{Name: p("Launch"), MailboxIDs: &[]string{mb.ID},
		Steps: &[]store.StepInput{{Kind: store.StepEmail, TemplateID: tp.ID}}})
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for i := range sendBenchContacts {
		c, err := store.CreateContact(ctx, l.DB, a, store.ContactInput{FirstName: p(fmt.Sprint("P", i)),
			Email: p(fmt.Sprintf("p%d@%s.example.org", i, strings.ToLower(id[:8])))})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := store.SetSequenceState(ctx, l.DB, a, seq.ID, store.SequenceActive); err != nil {
		b.Fatal(err)
	}
	if r, err := svc.Enroll(ctx, a, seq.ID, ids); err != nil || r.Enrolled != len(ids) {
		b.Fatalf("enroll: %+v, %v", r, err)
	}
}

// sendBenchCheck checks the outcome: every message 'sent' in the ledgers,
// each delivered once, and no idle workspace's file ever opened.
func sendBenchCheck(b *testing.B, m *tenant.Manager, sink *smtptest.Server, sending map[string]bool, pageID string) {
	ctx := context.Background()
	want := sendBenchSending * sendBenchContacts
	msgs := sink.Messages()
	seen := make(map[string]bool, len(msgs))
	for _, msg := range msgs {
		id := headerValue(msg.Data, "Message-Id")
		if id == "" || seen[id] {
			b.Fatalf("a delivery with Message-ID %q: missing or twice", id)
		}
		seen[id] = true
	}
	if len(msgs) != want {
		b.Fatalf("%d deliveries, want %d", len(msgs), want)
	}
	states := map[string]int{}
	for id := range sending {
		l, err := m.Acquire(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		var rows []struct {
			State string `db:"state"`
			N     int    `db:"n"`
		}
		err = l.R.SelectContext(ctx, &rows, `SELECT state, count(*) AS n FROM messages GROUP BY state`)
		l.Release()
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			states[r.State] += r.N
		}
	}
	if states[store.MessageSent] != want || len(states) != 1 {
		b.Fatalf("ledgers by state %v, want %d sent", states, want)
	}
	ws, err := store.ListWorkspaces(ctx, m.Catalog().R, store.StateActive)
	if err != nil {
		b.Fatal(err)
	}
	opened := 0
	for _, w := range ws {
		if !w.Pristine && !sending[w.ID] && w.ID != pageID {
			opened++
		}
	}
	if len(ws) != sendBenchWorkspaces || opened > 0 {
		b.Fatalf("%d workspaces, %d idle ones opened", len(ws), opened)
	}
	b.ReportMetric(float64(opened), "idle-files-opened")
}

// headerValue returns a header's value in a raw message ("" when absent).
func headerValue(data []byte, name string) string {
	for _, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), name) {
			return strings.TrimSpace(string(v))
		}
	}
	return ""
}

// pacedPageTimes requests paths in turn, one every sendBenchPageEvery,
// until stop closes, and returns each request's server time.
func pacedPageTimes(b *testing.B, h http.Handler, cookie *http.Cookie, paths []string, stop <-chan struct{}) []time.Duration {
	var ds []time.Duration
	t := time.NewTicker(sendBenchPageEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return ds
		case <-t.C:
		}
		req := httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		ds = append(ds, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Errorf("%s: status %d", paths[i%len(paths)], rec.Code)
			return ds
		}
	}
}

// reportPercentilesAs reports p50 and p99 of ds in ms, prefixed, and
// returns them.
func reportPercentilesAs(b *testing.B, what string, ds []time.Duration) (p50 float64, p99 float64) {
	if len(ds) == 0 {
		b.Fatalf("no %ssamples", what)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	p50, p99 = pct(0.50), pct(0.99)
	b.ReportMetric(p50, what+"p50-ms")
	b.ReportMetric(p99, what+"p99-ms")
	return p50, p99
}

// bareSMTPRate sends data 2,000 times to a fresh sink, 20 messages per
// conversation (PLAIN login, no TLS, as the sender does), and returns the
// messages per second.
func bareSMTPRate(b *testing.B, data []byte) float64 {
	sink := smtptest.NewServer(b, smtptest.Options{NoTLS: true})
	const n, per = 2000, 20
	start := time.Now()
	for i := 0; i < n; i += per {
		c, err := smtp.Dial(sink.Addr())
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Hello("localhost"); err != nil {
			b.Fatal(err)
		}
		if err := c.Auth(sasl.NewPlainClient("", sink.Username, sink.Password)); err != nil {
			b.Fatal(err)
		}
		for range per {
			if err := c.SendMail("ana@acme.example", []string{"p1@example.org"}, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		c.Quit()
		c.Close()
	}
	return n / time.Since(start).Seconds()
}

// aheadOffset puts the clock at a weekday noon a week ahead (tenant's
// send tests do the same): the mailboxes' windows are open, and whatever
// the code stamps with the real time is in its past.
func aheadOffset() time.Duration {
	now := time.Now()
	noon := time.Date(now.Year(), now.Month(), now.Day()+7, 12, 0, 0, 0, time.UTC)
	for noon.Weekday() != time.Wednesday {
		noon = noon.AddDate(0, 0, 1)
	}
	return noon.Sub(now)
}

// procStatusKB reads a kB field of /proc/self/status.
func procStatusKB(field string) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var n int
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &n)
			return n
		}
	}
	return -1
}

// processCPU is the CPU time the process used so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
