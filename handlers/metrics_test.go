package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"atrium/tenant"
)

// metricsServer is a test server whose Metrics, handler and log the test
// can reach.
type metricsServer struct {
	*testServer
	metrics *Metrics
	handler http.Handler
	log     *syncBuffer
}

func newMetricsServer(tb testing.TB, cfg Config) *metricsServer {
	tb.Helper()
	m, err := tenant.Open(context.Background(), tenant.Options{DataDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	log := &syncBuffer{}
	cfg.Tenants, cfg.Assets = m, os.DirFS("..")
	cfg.Logger = slog.New(slog.NewJSONHandler(log, nil))
	cfg.Metrics = NewMetrics(m)
	h, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(h), tenants: m}
	tb.Cleanup(func() {
		ts.Close()
		m.Close()
	})
	return &metricsServer{testServer: ts, metrics: cfg.Metrics, handler: h, log: log}
}

// syncBuffer is a log sink the handlers write to from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log records written so far.
func (b *syncBuffer) lines(tb testing.TB) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// scrape reads /metrics over the loopback connection of the test server
// and parses it with Prometheus's own text parser.
func (ts *metricsServer) scrape(tb testing.TB) map[string]*dto.MetricFamily {
	tb.Helper()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// value returns the value of the series of family name whose labels
// include want: a counter's or gauge's value, a histogram's count.
func value(tb testing.TB, families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	tb.Helper()
	f, ok := families[name]
	if !ok {
		tb.Fatalf("no metric %s", name)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		matches := true
		for k, v := range want {
			matches = matches && labels[k] == v
		}
		if !matches {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// The names below are what dashboards and alerts are written against:
// renaming one breaks them, so it must break this test first.
var stableMetricNames = []string{
	"atrium_http_request_duration_seconds",
	"atrium_handle_cache_hits_total",
	"atrium_handle_cache_misses_total",
	"atrium_handle_cache_evictions_total",
	"atrium_handle_cache_open_handles",
	"atrium_jobs",
	"atrium_jobs_paced_seconds_total",
	"atrium_job_duration_seconds",
	"atrium_emails_total",
	"atrium_replication_running",
	"atrium_replication_workspaces_registered",
	"atrium_replication_lag_seconds",
	"atrium_replication_lag_transactions",
	"atrium_replication_catalog_lag_seconds",
	"atrium_requests_refused_total",
	"atrium_disk_free_bytes",
	"atrium_disk_reserve_bytes",
}

func TestMetrics_NamesLabelsAndValues(t *testing.T) {
	ctx := context.Background()
	ts := newMetricsServer(t, Config{})
	ts.mustUser(t, "ana@example.com", false)
	ws := ts.mustWorkspace(t, "Acme", "ana@example.com")
	other := ts.mustWorkspace(t, "Other", "")
	c := ts.loggedIn(t, "ana@example.com")
	wantStatus(t, "contacts", c.get("/w/"+ws+"/contacts"), http.StatusOK)
	wantStatus(t, "contacts", c.get("/w/"+ws+"/contacts"), http.StatusOK)
	wantStatus(t, "no such page", c.get("/no/such/page"), http.StatusNotFound)
	job, err := ts.tenants.StartJob(ctx, tenant.JobSpec{Kind: "test.metrics", Run: func(context.Context, *tenant.JobRun) (any, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.tenants.WaitJob(ctx, "", job); err != nil {
		t.Fatal(err)
	}
	ts.metrics.refused(refusedQuota, "contacts")
	ts.metrics.refused(refusedRateLimited, "")

	before := ts.scrape(t)
	for _, name := range stableMetricNames {
		if _, ok := before[name]; !ok {
			t.Errorf("metric %s is missing", name)
		}
	}
	for name, f := range before {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), ws) || strings.Contains(l.GetValue(), other) {
					t.Errorf("%s has a workspace id in label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	const requests = "atrium_http_request_duration_seconds"
	if n := value(t, before, requests, map[string]string{"route": "/w/{workspace}/contacts", "method": "GET", "status": "2xx"}); n != 2 {
		t.Errorf("%v contacts pages counted under their route pattern, want 2", n)
	}
	if n := value(t, before, requests, map[string]string{"route": unmatchedRoute, "method": "GET", "status": "4xx"}); n != 1 {
		t.Errorf("%v unmatched requests counted, want 1", n)
	}
	if n := value(t, before, "atrium_requests_refused_total", map[string]string{"reason": "quota_exceeded", "quota": "contacts"}); n != 1 {
		t.Errorf("%v quota refusals counted, want 1", n)
	}
	if n := value(t, before, "atrium_requests_refused_total", map[string]string{"reason": "rate_limited"}); n != 1 {
		t.Errorf("%v rate limitings counted, want 1", n)
	}
	if n := value(t, before, "atrium_replication_running", nil); n != 1 {
		t.Errorf("replication running = %v", n)
	}
	for _, state := range []string{"queued", "running"} {
		if !slices.ContainsFunc(before["atrium_jobs"].GetMetric(), func(m *dto.Metric) bool { return m.GetLabel()[0].GetValue() == state }) {
			t.Errorf("no atrium_jobs{state=%q}", state)
		}
	}

	// A first lease of a workspace opens it (a miss), the next finds it open (a hit).
	for range 2 {
		l, err := ts.tenants.Acquire(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	after := ts.scrape(t)
	for name, want := range map[string]float64{"atrium_handle_cache_misses_total": 1, "atrium_handle_cache_hits_total": 1} {
		if got := value(t, after, name, nil) - value(t, before, name, nil); got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
	if n := value(t, before, "atrium_job_duration_seconds", map[string]string{"kind": "test.metrics"}); n != 1 {
		t.Errorf("%v test.metrics jobs timed, want 1", n)
	}
	if n := value(t, after, "atrium_replication_workspaces_registered", nil); n < 2 {
		t.Errorf("%v workspaces registered after two were opened", n)
	}
}

// /metrics answers a client on this machine, or one with the token; a
// request a proxy forwarded is not local even from a loopback peer.
func TestMetrics_Access(t *testing.T) {
	ts := newMetricsServer(t, Config{TrustProxy: true, MetricsToken: "s3cret-token"})
	get := func(remote string, header http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = remote
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		ts.handler.ServeHTTP(rec, req)
		return rec
	}
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	for _, tc := range []struct {
		what   string
		remote string
		header http.Header
		want   int
	}{
		{"loopback", "127.0.0.1:5000", nil, http.StatusOK},
		{"IPv6 loopback", "[::1]:5000", nil, http.StatusOK},
		{"remote", "203.0.113.9:5000", nil, http.StatusNotFound},
		{"remote with the token", "203.0.113.9:5000", bearer("s3cret-token"), http.StatusOK},
		{"remote with a wrong token", "203.0.113.9:5000", bearer("s3cret-tokem"), http.StatusNotFound},
		{"remote with an empty token", "203.0.113.9:5000", bearer(""), http.StatusNotFound},
		{"proxied from a remote client", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, http.StatusNotFound},
		{"proxied, claiming loopback", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"127.0.0.1"}}, http.StatusNotFound},
		{"proxied without X-Forwarded-For", "127.0.0.1:5000", http.Header{"X-Real-Ip": {"203.0.113.9"}}, http.StatusNotFound},
		{"proxied with the token", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.9"}, "Authorization": {"Bearer s3cret-token"}}, http.StatusOK},
	} {
		rec := get(tc.remote, tc.header)
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.what, rec.Code, tc.want)
		}
		if rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), "atrium_handle_cache_open_handles") {
			t.Errorf("%s: no metrics in the body", tc.what)
		}
		if rec.Code != http.StatusOK && strings.Contains(rec.Body.String(), "atrium_") {
			t.Errorf("%s: refused, yet the body shows metrics", tc.what)
		}
	}

	// Without a token configured, no bearer opens it.
	open := newMetricsServer(t, Config{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "203.0.113.9:5000"
	req.Header.Set("Authorization", "Bearer ")
	rec := httptest.NewRecorder()
	open.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("no token configured, empty bearer: status %d", rec.Code)
	}
}

// Metrics served on their own listener need no token.
func TestMetrics_ServeHTTPAlone(t *testing.T) {
	ts := newMetricsServer(t, Config{})
	srv := httptest.NewServer(ts.metrics)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "atrium_handle_cache_open_handles") {
		t.Fatalf("status %d, body %.200s", resp.StatusCode, body)
	}
}

func TestReadyz(t *testing.T) {
	ts := newMetricsServer(t, Config{})
	c := ts.newClient(t)
	r := c.get("/readyz")
	wantStatus(t, "readyz", r, http.StatusOK)
	if !strings.Contains(r.body, `"status":"ok"`) {
		t.Fatalf("readyz: %s", r.body)
	}
	ts.tenants.Close() // the catalog closes: not ready any more
	r = c.get("/readyz")
	wantStatus(t, "readyz after close", r, http.StatusServiceUnavailable)
	if !strings.Contains(r.body, "catalog") {
		t.Fatalf("readyz after close: %s", r.body)
	}
}

// Every request is logged with its id (a sane incoming one kept and
// echoed), route pattern, workspace, status, duration and size.
func TestRequestLog_JSONFields(t *testing.T) {
	ts := newMetricsServer(t, Config{})
	ts.mustUser(t, "ana@example.com", false)
	ws := ts.mustWorkspace(t, "Acme", "ana@example.com")
	c := ts.loggedIn(t, "ana@example.com")
	key, _ := ts.mustAPIKey(t, ws, "read")

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/w/"+ws+"/contacts", nil)
	req.Header.Set("X-Request-Id", "proxy-id-42")
	page := c.do(req)
	wantStatus(t, "contacts", page, http.StatusOK)
	if got := page.header.Get("X-Request-Id"); got != "proxy-id-42" {
		t.Fatalf("X-Request-Id echoed as %q", got)
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/w/"+ws+"/settings", nil)
	req.Header.Set("X-Request-Id", "bad id with spaces")
	settings := c.do(req)
	generated := settings.header.Get("X-Request-Id")
	if generated == "" || generated == "bad id with spaces" {
		t.Fatalf("an insane X-Request-Id came back as %q", generated)
	}
	wantStatus(t, "api", ts.api(t, key, http.MethodGet, "/api/v1/contacts", ""), http.StatusOK)
	wantStatus(t, "no such page", c.get("/no/such/page"), http.StatusNotFound)
	wantStatus(t, "no such API route", ts.api(t, key, http.MethodGet, "/api/v1/no/such/route", ""), http.StatusNotFound)

	var unmatched []map[string]any
	byRoute := map[string]map[string]any{}
	for _, rec := range ts.log.lines(t) {
		if rec["msg"] == "request" {
			byRoute[rec["route"].(string)] = rec
		}
		if rec["route"] == unmatchedRoute {
			unmatched = append(unmatched, rec)
		}
	}
	contacts := byRoute["/w/{workspace}/contacts"]
	if contacts == nil {
		t.Fatalf("no log line of the contacts page among %v", byRoute)
	}
	if contacts["request_id"] != "proxy-id-42" || contacts["workspace"] != ws || contacts["status"] != float64(200) ||
		contacts["method"] != "GET" || contacts["bytes"].(float64) <= 0 || contacts["ms"] == nil {
		t.Errorf("contacts page logged as %v", contacts)
	}
	if rec := byRoute["/w/{workspace}/settings"]; rec == nil || rec["request_id"] != generated {
		t.Errorf("settings page logged as %v, id %q", rec, generated)
	}
	if rec := byRoute["/api/v1/contacts"]; rec == nil || rec["workspace"] != ws {
		t.Errorf("API request logged as %v", rec)
	}
	if len(unmatched) != 2 {
		t.Errorf("unmatched requests logged as %v, want the page's and the API route's", unmatched)
	}
	for _, rec := range unmatched {
		if rec["status"] != float64(404) || rec["workspace"] != nil {
			t.Errorf("unmatched request logged as %v", rec)
		}
	}
}
