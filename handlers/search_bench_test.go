package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// bench1MServer is benchServer with the generated 1,000,000-contact
// workspace of store's BenchmarkSearch1M taken in as the workspace; the
// benchmark is skipped when that file has not been generated.
func bench1MServer(b *testing.B) (*testServer, *http.Cookie, string) {
	b.Helper()
	file := filepath.Join(os.TempDir(), fmt.Sprintf("atrium-bench-search-1000000-v%d.db", store.LatestVersion(store.WorkspaceSchema)))
	if _, err := os.Stat(file); err != nil {
		b.Skipf("%s is missing: run store's BenchmarkSearch1M first (go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x)", file)
	}
	ts := newTestServer(b)
	ts.mustUser(b, "bench@example.com", false)
	w, err := ts.tenants.Create(b.Context(), tenant.CreateOptions{Name: "Big", OwnerEmail: "bench@example.com", From: file})
	if err != nil {
		b.Fatal(err)
	}
	// The replica's first copy of the file is done before the timings
	// start: its compression would take a core from the pages measured.
	if _, err := ts.tenants.Sync(b.Context(), w.ID); err != nil {
		b.Fatal(err)
	}
	c := ts.loggedIn(b, "bench@example.com")
	u, _ := url.Parse(ts.URL)
	c.get("/w/" + w.ID + "/")
	return ts, c.hc.Jar.Cookies(u)[0], w.ID
}

// BenchmarkSearchPages1M runs the search page, GET /api/v1/search and
// GET /api/v1/contacts?q= over the generated 1,000,000-contact workspace
// of store's BenchmarkSearch1M (a long-tailed name distribution: "okafor"
// and "mariko" are each on about 66,000 contacts), which must have been
// generated first under the OS temp dir:
//
//	go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x
//	go test ./handlers -run '^$' -bench SearchPages1M -benchtime 200x
//
// Server time: the handler called directly, without the network. The
// parallel runs report requests per second with as many callers as cores.
func BenchmarkSearchPages1M(b *testing.B) {
	ts, cookie, ws := bench1MServer(b)
	key, _ := ts.mustAPIKey(b, ws, "read")
	h := ts.Config.Handler
	queries := []string{"okafor", "mariko", "mariko okafor", "an", "sil", "jonas.johansson", "cyberdyne", "Müller", "renewal", "zzqx"}
	paths := func(f string) []string {
		var ps []string
		for _, q := range queries {
			ps = append(ps, fmt.Sprintf(f, url.QueryEscape(q)))
		}
		return ps
	}
	serve := func(path string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", "Bearer "+key)
		} else {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, page := range []struct{ name, path string }{
		{"page", "/w/" + ws + "/search?q=%s"},
		{"api-search", "/api/v1/search?q=%s"},
		{"api-contacts", "/api/v1/contacts?q=%s"},
	} {
		ps := paths(page.path)
		b.Run(page.name, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				if code := serve(ps[i%len(ps)]); code != http.StatusOK {
					b.Fatalf("%s: status %d", ps[i%len(ps)], code)
				}
				ds = append(ds, time.Since(start))
			}
			slices.Sort(ds)
			reportServerTimes(b, ds)
		})
		b.Run(page.name+"-parallel", func(b *testing.B) {
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := serve(ps[next.Add(1)%int64(len(ps))]); code != http.StatusOK {
						b.Errorf("%s: status %d", page.name, code)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
