package handlers

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"

	"atrium/store"
)

// seedContacts inserts n contacts into a workspace in one transaction (the
// FTS triggers run as for any insert), with names drawn from short lists so
// that searches match many rows, as in a real book of contacts.
func seedContacts(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	first := []string{"Ana", "Bo", "Carla", "Dmitri", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kwame", "Lena", "Mateo", "Nora", "Omar", "Priya"}
	last := []string{"Silva", "Berg", "Novak", "Okafor", "Tanaka", "Müller", "García", "Kowalski", "Haddad", "Johansson", "Rossi", "Chen"}
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	tx := db.W.MustBegin()
	defer tx.Rollback()
	stmt, err := tx.Preparex(`INSERT INTO contacts (id, first_name, last_name, email, title, stage, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f, l := first[r.IntN(len(first))], last[r.IntN(len(last))]
		at := now.Add(time.Duration(i-n) * time.Second)
		if _, err := stmt.Exec(fmt.Sprintf("00000000-0000-7000-8000-%012d", i), f, l, fmt.Sprintf("%s.%s.%d@example.com", f, l, i),
			"Buyer", store.Stages[r.IntN(len(store.Stages))], at, at); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// benchWorkspace is a server with one member and a workspace of n contacts.
func benchWorkspace(b *testing.B, n int) (http.Handler, *http.Cookie, string) {
	ts, cookie, ws := benchServer(b, n)
	return ts.Config.Handler, cookie, ws
}

// benchServer is benchWorkspace with the test server, to seed more.
func benchServer(b *testing.B, n int) (*testServer, *http.Cookie, string) {
	b.Helper()
	ts := newTestServer(b)
	ts.mustUser(b, "bench@example.com", false)
	ws := ts.mustWorkspace(b, "Bench", "bench@example.com")
	l, err := ts.tenants.Acquire(b.Context(), ws)
	if err != nil {
		b.Fatal(err)
	}
	seedContacts(b, l.DB, n)
	l.Release()
	c := ts.loggedIn(b, "bench@example.com")
	u, _ := url.Parse(ts.URL)
	c.get("/w/" + ws + "/") // the first visit records the sign-in
	return ts, c.hc.Jar.Cookies(u)[0], ws
}

// serverTimes calls the handler directly (no network) and returns the
// sorted per-request durations: the server time of each page.
func serverTimes(b *testing.B, h http.Handler, cookie *http.Cookie, paths []string) []time.Duration {
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		ds = append(ds, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: status %d", paths[i%len(paths)], rec.Code)
		}
	}
	b.StopTimer()
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

func reportServerTimes(b *testing.B, ds []time.Duration) {
	pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkContactList100k renders the contact list page (50 rows, with
// the total count, tags, members and filters) of a 100,000-contact
// workspace: first pages in each sort and filtered pages.
func BenchmarkContactList100k(b *testing.B) {
	h, cookie, ws := benchWorkspace(b, 100_000)
	base := "/w/" + ws + "/contacts"
	ds := serverTimes(b, h, cookie, []string{base, base + "?sort=name&dir=asc", base + "?stage=customer", base + "?sort=updated"})
	reportServerTimes(b, ds)
}

// BenchmarkSearch100k runs the workspace search page over 100,000 contacts
// with prefixes of different selectivity.
func BenchmarkSearch100k(b *testing.B) {
	h, cookie, ws := benchWorkspace(b, 100_000)
	var paths []string
	for _, q := range []string{"ana", "be", "okafor", "grace tan", "jonas.johansson", "zz"} {
		paths = append(paths, "/w/"+ws+"/search?q="+url.QueryEscape(q))
	}
	ds := serverTimes(b, h, cookie, paths)
	reportServerTimes(b, ds)
}
