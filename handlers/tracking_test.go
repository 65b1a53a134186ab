package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"atrium/outreach/smtptest"
	"atrium/store"
	"atrium/tenant"
)

// trackingServer is a server whose clock a test moves (the sender's and
// the events' clock), on a weekday noon so the mailboxes' windows are open,
// with an SMTP sink.
type trackingServer struct {
	*testServer
	srv    *smtptest.Server
	offset atomic.Int64 // nanoseconds added to the clock
	// timing, when set, gets the server time of every request (the
	// benchmark's).
	timing atomic.Pointer[serverTiming]
}

// serverTiming collects server times: from the handler's start to its
// return, without the network and the client.
type serverTiming struct {
	mu sync.Mutex
	ds []time.Duration
}

func (st *serverTiming) add(d time.Duration) {
	st.mu.Lock()
	st.ds = append(st.ds, d)
	st.mu.Unlock()
}

const trackingPublicURL = "https://crm.example"

func newTrackingServer(tb testing.TB, opts tenant.Options) *trackingServer {
	tb.Helper()
	ts := &trackingServer{srv: smtptest.NewServer(tb, smtptest.Options{NoTLS: true})}
	now := time.Now()
	noon := time.Date(now.Year(), now.Month(), now.Day()+7, 12, 0, 0, 0, time.UTC)
	for noon.Weekday() != time.Wednesday {
		noon = noon.AddDate(0, 0, 1)
	}
	base := noon.Sub(now)
	opts.DataDir, opts.PublicURL = tb.TempDir(), trackingPublicURL
	opts.Now = func() time.Time { return time.Now().Add(base + time.Duration(ts.offset.Load())) }
	m, err := tenant.Open(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := New(context.Background(), Config{Tenants: m, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS("..")})
	if err != nil {
		tb.Fatal(err)
	}
	timed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		if st := ts.timing.Load(); st != nil {
			st.add(time.Since(start))
		}
	})
	ts.testServer = &testServer{Server: httptest.NewServer(timed), tenants: m}
	tb.Cleanup(func() {
		ts.Close()
		m.Close()
	})
	return ts
}

// The links of the template every tracking test sends.
const (
	linkPricing = "https://acme.example/pricing?plan=pro&ref=mail"
	linkAbout   = "https://acme.example/about"
)

// outreach makes a workspace with a mailbox on the sink, a template with
// two links and an active one-email sequence (tracking as asked) in which
// one contact is enrolled.
func (ts *trackingServer) outreach(tb testing.TB, name string, tracking bool) string {
	tb.Helper()
	ctx := context.Background()
	w, err := ts.tenants.Create(ctx, tenant.CreateOptions{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := ts.tenants.Acquire(ctx, w.ID)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	svc := ts.tenants.Service(l)
	a := store.Actor{Kind: "system", ID: "test"}
	mb, err := svc.CreateMailbox(ctx, a, store.MailboxInput{Name: ptrTo("Sales"), FromEmail: ptrTo("ana@" + strings.ToLower(name) + ".example"),
		SMTPHost: ptrTo(ts.srv.Host), SMTPPort: &ts.srv.Port, TLSMode: ptrTo("none"), Username: ptrTo(ts.srv.Username), Password: ptrTo(ts.srv.Password),
		GapMin: new(int), GapMax: new(int), DailyLimit: ptrTo(10000), WindowDays: &store.Weekdays{1, 2, 3, 4, 5, 6, 7}})
	if err != nil {
		tb.Fatal(err)
	}
	tp, err := store.CreateTemplate(ctx, l.DB, a, store.TemplateInput{Name: ptrTo("Intro"), Subject: ptrTo("Hi {{first_name}}"),
		Body: ptrTo(`<p>Hi {{first_name}}, see <a href="https://acme.example/pricing?plan=pro&amp;ref=mail">pricing</a> and <a href="` + linkAbout + `">us</a>.</p>`)})
	if err != nil {
		tb.Fatal(err)
	}
	seq, err := svc.CreateSequence(ctx, a, store.SequenceInput{Name: ptrTo("Launch"), Tracking: &tracking, MailboxIDs: &[]string{mb.ID},
		Steps: &[]store.StepInput{{Kind: store.StepEmail, TemplateID: tp.ID}}})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := store.CreateContact(ctx, l.DB, a, store.ContactInput{FirstName: ptrTo("Pia"), Email: ptrTo("pia@" + strings.ToLower(name) + "-client.example")})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := store.SetSequenceState(ctx, l.DB, a, seq.ID, store.SequenceActive); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.Enroll(ctx, a, seq.ID, []string{c.ID}); err != nil {
		tb.Fatal(err)
	}
	return w.ID
}

// send runs the due send work until the sink holds a message to the
// contact of workspace name (see outreach), and returns its HTML part.
func (ts *trackingServer) send(tb testing.TB, name string) string {
	tb.Helper()
	ctx := context.Background()
	to := "pia@" + strings.ToLower(name) + "-client.example"
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range ts.srv.Messages() {
			if len(m.To) == 1 && m.To[0] == to && ts.recordedSent(tb, to) {
				return htmlPartOf(tb, m.Data)
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no message to %s after 30 s", to)
		}
		if _, err := ts.tenants.RunDue(ctx, time.Now().Add(30*24*time.Hour)); err != nil {
			tb.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordedSent says whether the message to `to` is recorded as sent in its
// workspace: the sink has it a moment before the send job records it, and
// an open or click before then counts as a machine's (no send time).
func (ts *trackingServer) recordedSent(tb testing.TB, to string) bool {
	tb.Helper()
	ctx := context.Background()
	infos, err := ts.tenants.List(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, w := range infos {
		l, err := ts.tenants.Acquire(ctx, w.ID)
		if err != nil {
			tb.Fatal(err)
		}
		var n int
		err = l.R.GetContext(ctx, &n, `SELECT count(*) FROM messages WHERE to_email = ? AND sent_at IS NOT NULL`, to)
		l.Release()
		if err != nil {
			tb.Fatal(err)
		}
		if n > 0 {
			return true
		}
	}
	return false
}

func htmlPartOf(tb testing.TB, data []byte) string {
	tb.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			tb.Fatalf("no HTML part: %v\n%s", err, data)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

var trackingLinkRe = regexp.MustCompile(regexp.QuoteMeta(trackingPublicURL) + `(/t/[oc]/[A-Za-z0-9_-]+)`)

// trackingPaths are the tracking paths of a message's HTML: clicks in
// order, then the pixel.
func trackingPaths(tb testing.TB, html string) (clicks []string, pixel string) {
	tb.Helper()
	for _, m := range trackingLinkRe.FindAllStringSubmatch(html, -1) {
		if strings.HasPrefix(m[1], "/t/o/") {
			pixel = m[1]
		} else {
			clicks = append(clicks, m[1])
		}
	}
	return clicks, pixel
}

// fetch requests path as a mail program would: no cookie, redirects not
// followed.
func (ts *trackingServer) fetch(tb testing.TB, path, userAgent string) response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// trackingEvent is a row of tracking_events.
type trackingEvent struct {
	Kind      string `db:"kind"`
	LinkIndex *int   `db:"link_index"`
	URL       string `db:"url"`
	Prefetch  bool   `db:"prefetch"`
	UserAgent string `db:"user_agent"`
	MessageID string `db:"message_id"`
}

// events flushes the buffer and reads a workspace's events.
func (ts *trackingServer) events(tb testing.TB, wsID string) []trackingEvent {
	tb.Helper()
	if err := ts.tenants.FlushTracking(context.Background()); err != nil {
		tb.Fatal(err)
	}
	l, err := ts.tenants.Acquire(context.Background(), wsID)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	var evs []trackingEvent
	if err := l.R.Select(&evs, `SELECT kind, link_index, url, prefetch, user_agent, message_id FROM tracking_events ORDER BY seq`); err != nil {
		tb.Fatal(err)
	}
	return evs
}

const readerAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0"

func wantPixel(tb testing.TB, what string, r response) {
	tb.Helper()
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/gif" || !strings.HasPrefix(r.body, "GIF89a") ||
		!strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		tb.Fatalf("%s: status %d, %v, %q", what, r.status, r.header, r.body)
	}
}

// A sequence with tracking on sends its links through the click redirect
// and a pixel; the unsubscribe link and the plain-text part stay as they
// are. Fetching them records an open and the clicks, and each click goes
// to its own original link. With tracking off, nothing is rewritten.
func TestTracking_EndToEnd(t *testing.T) {
	ts := newTrackingServer(t, tenant.Options{})
	on := ts.outreach(t, "Acme", true)
	html := ts.send(t, "Acme")
	clicks, pixel := trackingPaths(t, html)
	if len(clicks) != 2 || pixel == "" || strings.Contains(html, "acme.example/pricing") || strings.Contains(html, linkAbout) ||
		!strings.Contains(html, trackingPublicURL+"/u/") {
		t.Fatalf("the tracked HTML part:\n%s", html)
	}
	if text := string(ts.srv.Messages()[0].Data); !strings.Contains(text, "(https://acme.example/about)") {
		t.Fatalf("the plain-text part lost its link:\n%s", text)
	}

	// A proxy fetches the pixel as the message arrives; the reader opens
	// and clicks a minute later.
	wantPixel(t, "proxy open", ts.fetch(t, pixel, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"))
	ts.offset.Store(int64(time.Minute))
	wantPixel(t, "open", ts.fetch(t, pixel, readerAgent))
	for i, want := range []string{linkPricing, linkAbout} {
		r := ts.fetch(t, clicks[i], readerAgent)
		if r.status != http.StatusFound || r.header.Get("Location") != want {
			t.Fatalf("click %d: %d to %q, want %q", i, r.status, r.header.Get("Location"), want)
		}
	}
	evs := ts.events(t, on)
	if len(evs) != 4 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	if e := evs[0]; e.Kind != "open" || !e.Prefetch || e.LinkIndex != nil {
		t.Fatalf("the proxy's open: %+v", e)
	}
	if e := evs[1]; e.Kind != "open" || e.Prefetch || e.UserAgent != readerAgent {
		t.Fatalf("the reader's open: %+v", e)
	}
	for i, want := range []string{linkPricing, linkAbout} {
		if e := evs[2+i]; e.Kind != "click" || e.Prefetch || e.LinkIndex == nil || *e.LinkIndex != i || e.URL != want {
			t.Fatalf("click %d: %+v", i, e)
		}
	}

	ts.outreach(t, "Globex", false)
	html = ts.send(t, "Globex")
	if clicks, pixel := trackingPaths(t, html); len(clicks) != 0 || pixel != "" ||
		!strings.Contains(html, `href="https://acme.example/pricing?plan=pro&amp;ref=mail"`) || !strings.Contains(html, linkAbout) {
		t.Fatalf("an untracked message was rewritten:\n%s", html)
	}
}

// Tokens of workspace A record nothing and redirect nowhere in B, nor in A
// once changed: A's workspace id swapped for B's, a click's index changed
// (X cannot become Y), a B message id in A's token, an open token used as
// a click, garbage. The pixel answers the same for all; the click is a
// 404 that names nothing.
func TestTracking_TokensAcrossWorkspaces(t *testing.T) {
	ts := newTrackingServer(t, tenant.Options{})
	a, b := ts.outreach(t, "Acme", true), ts.outreach(t, "Globex", true)
	clicksA, pixelA := trackingPaths(t, ts.send(t, "Acme"))
	clicksB, _ := trackingPaths(t, ts.send(t, "Globex"))
	ts.offset.Store(int64(time.Minute))

	decode := func(path string) []byte {
		raw, err := base64.RawURLEncoding.DecodeString(path[len("/t/c/"):])
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	encode := func(prefix string, raw []byte) string { return prefix + base64.RawURLEncoding.EncodeToString(raw) }
	rawA, rawB := decode(clicksA[0]), decode(clicksB[0])
	idB := uuid.MustParse(b)
	swapped := append(append(append([]byte(nil), rawA[:2]...), idB[:]...), rawA[18:]...)
	otherLink := append([]byte(nil), rawA...)
	otherLink[35] = 1 // link 0 → link 1, same signature
	mixed := append(append(append([]byte(nil), rawA[:18]...), rawB[18:34]...), rawA[34:]...)
	pixelSwapped := decode(pixelA)
	copy(pixelSwapped[2:18], idB[:])
	bad := map[string]string{
		"A's token naming B":        encode("/t/c/", swapped),
		"A's link 0 as link 1":      encode("/t/c/", otherLink),
		"B's message in A's token":  encode("/t/c/", mixed),
		"the open token as a click": "/t/c/" + pixelA[len("/t/o/"):],
		"garbage":                   "/t/c/not-a-token",
		"cut":                       clicksA[0][:len(clicksA[0])-2],
	}
	for name, path := range bad {
		r := ts.fetch(t, path, readerAgent)
		wantStatus(t, name, r, http.StatusNotFound)
		if r.header.Get("Location") != "" || strings.Contains(r.body, "Acme") || strings.Contains(r.body, "Globex") || strings.Contains(r.body, "acme.example") {
			t.Fatalf("%s: the 404 leaks: %v %s", name, r.header, r.body)
		}
	}
	for name, path := range map[string]string{"pixel naming B": encode("/t/o/", pixelSwapped), "a click token as pixel": "/t/o/" + clicksA[0][len("/t/c/"):],
		"garbage pixel": "/t/o/garbage"} {
		wantPixel(t, name, ts.fetch(t, path, readerAgent))
	}
	// The genuine tokens still work, each in its own workspace.
	if r := ts.fetch(t, clicksA[1], readerAgent); r.status != http.StatusFound || r.header.Get("Location") != linkAbout {
		t.Fatalf("A's genuine click: %d %q", r.status, r.header.Get("Location"))
	}
	evA, evB := ts.events(t, a), ts.events(t, b)
	if len(evA) != 1 || evA[0].Kind != "click" || *evA[0].LinkIndex != 1 || len(evB) != 0 {
		t.Fatalf("events: A %+v, B %+v", evA, evB)
	}
}

// A workspace in the trash, then deleted: its pixel still answers the
// image and its links are 404, nothing is recorded, and its file is not
// opened for them.
func TestTracking_TrashedAndDeletedWorkspace(t *testing.T) {
	ts := newTrackingServer(t, tenant.Options{})
	a := ts.outreach(t, "Acme", true)
	clicks, pixel := trackingPaths(t, ts.send(t, "Acme"))
	ts.offset.Store(int64(time.Minute))
	ctx := context.Background()
	if _, err := ts.tenants.Trash(ctx, a, "test"); err != nil {
		t.Fatal(err)
	}
	try := func(state string) {
		t.Helper()
		open := ts.tenants.OpenHandles()
		wantPixel(t, state+" pixel", ts.fetch(t, pixel, readerAgent))
		r := ts.fetch(t, clicks[0], readerAgent)
		wantStatus(t, state+" click", r, http.StatusNotFound)
		if r.header.Get("Location") != "" {
			t.Fatalf("%s: redirected to %s", state, r.header.Get("Location"))
		}
		if err := ts.tenants.FlushTracking(ctx); err != nil {
			t.Fatal(err)
		}
		if got := ts.tenants.OpenHandles(); got != open {
			t.Fatalf("%s: open handles %d → %d", state, open, got)
		}
	}
	try("trashed")
	if err := ts.tenants.Untrash(ctx, a, "test"); err != nil {
		t.Fatal(err)
	}
	if evs := ts.events(t, a); len(evs) != 0 {
		t.Fatalf("a trashed workspace recorded %+v", evs)
	}
	if _, err := ts.tenants.Delete(ctx, a, "test"); err != nil {
		t.Fatal(err)
	}
	try("deleted")
	w, err := ts.tenants.Workspace(ctx, a)
	if err == nil {
		if path, _ := ts.tenants.FilePath(w); path != "" {
			if _, err := os.Stat(path); err == nil {
				t.Fatal("the deleted workspace's file is back")
			}
		}
	}
}

// The sequence form and the API set the tracking flag; it is off by
// default.
func TestTracking_SequenceSetting(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	r := c.post("/w/"+f.a+"/sequences", token, url.Values{"name": {"Q4"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	page := r.header.Get("Location")
	id := page[strings.LastIndex(page, "/")+1:]
	if body := c.get(page).body; !strings.Contains(body, `name="tracking" value="1" aria-describedby`) || !strings.Contains(body, "Apple Mail") {
		t.Fatalf("the form has no unchecked tracking box:\n%s", body)
	}
	wantStatus(t, "turn on", c.post(page, token, url.Values{"name": {"Q4"}, "tracking": {"1"}}), http.StatusSeeOther)
	if body := c.get(page).body; !strings.Contains(body, `name="tracking" value="1" checked`) {
		t.Fatal("the box is not checked after turning tracking on")
	}
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := store.GetSequence(t.Context(), l.DB, id)
	l.Release()
	if err != nil || !seq.Tracking {
		t.Fatalf("%+v, %v", seq, err)
	}

	api := newAPIFixture(t)
	r = api.ts.api(t, api.a.key, "POST", "/api/v1/sequences", `{"name":"API"}`)
	wantStatus(t, "API create", r, http.StatusCreated)
	var created store.Sequence
	mustDecode(t, r.body, &created)
	if !strings.Contains(r.body, `"tracking":false`) {
		t.Fatalf("a new sequence: %s", r.body)
	}
	r = api.ts.api(t, api.a.key, "PATCH", "/api/v1/sequences/"+created.ID, `{"tracking":true}`)
	if !strings.Contains(r.body, `"tracking":true`) {
		t.Fatalf("PATCH tracking: %s", r.body)
	}
	wantStatus(t, "B's key on A's sequence", api.ts.api(t, api.b.key, "PATCH", "/api/v1/sequences/"+created.ID, `{"tracking":false}`), http.StatusNotFound)
}
