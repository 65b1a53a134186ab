package handlers

import (
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"atrium/tenant"
)

// Metrics are the instance's Prometheus metrics, in a registry of their
// own (nothing a library registers globally leaks in). Labels never name a
// workspace: with thousands of them, a label each would swamp Prometheus,
// and the metrics are read by people who may not see every workspace.
// ServeHTTP writes them in the text format, with no access check: serve
// it on a private listener, or through the main handler's /metrics.
type Metrics struct {
	registry *prometheus.Registry
	http     http.Handler
	requests *prometheus.HistogramVec
	refusals *prometheus.CounterVec
}

// Reasons a request is refused, as counted by Metrics.refused.
const (
	refusedRateLimited = "rate_limited"
	refusedQuota       = "quota_exceeded"
)

// unmatchedRoute is the route label of requests no route matched.
const unmatchedRoute = "unmatched"

// NewMetrics builds the metrics of the instance m runs, and has m report
// the run time of its jobs to them.
func NewMetrics(m *tenant.Manager) *Metrics {
	reg := prometheus.NewRegistry()
	mt := &Metrics{
		registry: reg,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atrium_http_request_duration_seconds",
			Help:    "Time to serve a request, by route pattern, method and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_requests_refused_total",
			Help: "Requests refused by a rate limit (reason rate_limited) or a quota (reason quota_exceeded, quota its name).",
		}, []string{"reason", "quota"}),
	}
	jobs := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "atrium_job_duration_seconds",
		Help:    "Run time of background jobs (in their slot, not waiting for it), by kind.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms to 45 min
	}, []string{"kind"})
	reg.MustRegister(mt.requests, mt.refusals, jobs, managerCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.ObserveJobs(func(kind string, took time.Duration) { jobs.WithLabelValues(kind).Observe(took.Seconds()) })
	mt.http = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return mt
}

func (mt *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { mt.http.ServeHTTP(w, r) }

// observe counts one request served.
func (mt *Metrics) observe(route, method string, status int, took time.Duration) {
	if route == "" {
		route = unmatchedRoute
	}
	mt.requests.WithLabelValues(route, methodLabel(method), statusClass(status)).Observe(took.Seconds())
}

// refused counts a request refused for reason (refusedRateLimited or
// refusedQuota); quota names the quota, "" for a rate limit.
func (mt *Metrics) refused(reason, quota string) {
	mt.refusals.WithLabelValues(reason, quota).Inc()
}

// methodLabel keeps the method label to the methods Atrium serves, so a
// client sending made-up methods cannot grow the series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// managerCollector reads the workspace manager's counts at each scrape.
type managerCollector struct{ m *tenant.Manager }

var (
	descCacheHits = prometheus.NewDesc("atrium_handle_cache_hits_total",
		"Leases of a workspace whose file was already open.", nil, nil)
	descCacheMisses = prometheus.NewDesc("atrium_handle_cache_misses_total",
		"Leases of a workspace that had to open its file.", nil, nil)
	descCacheEvictions = prometheus.NewDesc("atrium_handle_cache_evictions_total",
		"Idle workspace files closed to stay within --max-open.", nil, nil)
	descCacheOpen = prometheus.NewDesc("atrium_handle_cache_open_handles",
		"Workspace files open now, leased or idle.", nil, nil)
	descJobs = prometheus.NewDesc("atrium_jobs",
		"Background jobs waiting for a slot (state queued) and running (state running).", []string{"state"}, nil)
	descJobsPaced = prometheus.NewDesc("atrium_jobs_paced_seconds_total",
		"Time heavy work (imports, bulk actions) waited for requests in flight, at most 15% of its own.", nil, nil)
	descEmails = prometheus.NewDesc("atrium_emails_total",
		"Sequence emails sent (result sent) and refused for good by the server (result failed).", []string{"result"}, nil)
	descReplicationUp = prometheus.NewDesc("atrium_replication_running",
		"1 when the catalog is being replicated.", nil, nil)
	descReplicated = prometheus.NewDesc("atrium_replication_workspaces_registered",
		"Workspace files registered with Litestream (open, or lingering after they closed).", nil, nil)
	descLagSeconds = prometheus.NewDesc("atrium_replication_lag_seconds",
		"Largest time behind of a region's registered workspace replicas.", []string{"region"}, nil)
	descLagTXIDs = prometheus.NewDesc("atrium_replication_lag_transactions",
		"Largest count of transactions a region's registered workspace replicas are behind.", []string{"region"}, nil)
	descCatalogLag = prometheus.NewDesc("atrium_replication_catalog_lag_seconds",
		"Time the catalog's replica is behind.", nil, nil)
	descDiskFree = prometheus.NewDesc("atrium_disk_free_bytes",
		"Free space on the disk of a region's workspace files.", []string{"region"}, nil)
	descDiskReserve = prometheus.NewDesc("atrium_disk_reserve_bytes",
		"Free space below which heavy work (imports, exports, restores, moves) is refused.", []string{"region"}, nil)
)

func (c managerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCacheHits, descCacheMisses, descCacheEvictions, descCacheOpen, descJobs, descJobsPaced, descEmails,
		descReplicationUp, descReplicated, descLagSeconds, descLagTXIDs, descCatalogLag, descDiskFree, descDiskReserve} {
		ch <- d
	}
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	cache := c.m.CacheStats()
	ch <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(cache.Hits))
	ch <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(cache.Misses))
	ch <- prometheus.MustNewConstMetric(descCacheEvictions, prometheus.CounterValue, float64(cache.Evictions))
	ch <- prometheus.MustNewConstMetric(descCacheOpen, prometheus.GaugeValue, float64(cache.Open))
	jobs := c.m.JobStats()
	ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(jobs.Queued), "queued")
	ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(jobs.Running), "running")
	ch <- prometheus.MustNewConstMetric(descJobsPaced, prometheus.CounterValue, jobs.Paced.Seconds())
	sends := c.m.SendStats()
	ch <- prometheus.MustNewConstMetric(descEmails, prometheus.CounterValue, float64(sends.Sent), "sent")
	ch <- prometheus.MustNewConstMetric(descEmails, prometheus.CounterValue, float64(sends.Failed), "failed")
	repl := c.m.ReplicationStats()
	up := 0.0
	if repl.Running {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descReplicationUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descReplicated, prometheus.GaugeValue, float64(repl.Workspaces))
	for region, lag := range repl.Lag {
		ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, lag.Seconds, region)
		ch <- prometheus.MustNewConstMetric(descLagTXIDs, prometheus.GaugeValue, float64(lag.TXIDs), region)
	}
	ch <- prometheus.MustNewConstMetric(descCatalogLag, prometheus.GaugeValue, repl.CatalogLag.Seconds)
	for _, d := range c.m.DiskSpaces() {
		if d.Err == "" {
			ch <- prometheus.MustNewConstMetric(descDiskFree, prometheus.GaugeValue, float64(d.Free), d.Region)
			ch <- prometheus.MustNewConstMetric(descDiskReserve, prometheus.GaugeValue, float64(d.Reserve), d.Region)
		}
	}
}

// serveMetrics is /metrics on the main listener: to a client on this
// machine, or one with the metrics token from the config. Anyone else gets
// the 404 of a route that does not exist.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.isLocalClient(r) && !s.hasMetricsToken(r) {
		http.NotFound(w, r)
		return
	}
	s.metrics.ServeHTTP(w, r)
}

// isLocalClient reports whether the request comes from this machine
// directly: the peer is a loopback address and no header says the request
// was forwarded. A reverse proxy on this machine is a loopback peer for
// every client it forwards, with or without --trust-proxy: forgetting the
// flag must not open the metrics to the world. (clientIP is no help here:
// without forwarding headers it is the peer, and with them the request is
// refused whatever they say.)
func (s *Server) isLocalClient(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Forwarded"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	addr, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && addr.Addr().Unmap().IsLoopback()
}

// hasMetricsToken reports whether the request carries the metrics token in
// "Authorization: Bearer <token>"; with no token configured, none does.
func (s *Server) hasMetricsToken(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.metricsToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.metricsToken)) == 1
}
