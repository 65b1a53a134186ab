package handlers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium/store"
)

// seedCatalogWorkspaces adds n active workspaces to the catalog alone, with
// no file (pristine): a page that opened or looked at one would fail.
// Each has an owner (ownerID for every tenth, otherID for the others) and
// pushed counters.
func seedCatalogWorkspaces(tb testing.TB, ts *testServer, n int, ownerID, otherID string) {
	tb.Helper()
	ctx := tb.Context()
	db := ts.tenants.Catalog()
	if _, err := db.W.ExecContext(ctx, `WITH RECURSIVE w(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM w WHERE i < ? - 1)
		INSERT INTO workspaces (id, name, region, state, created_at, pristine)
		SELECT printf('0192f0c1-0000-7000-8000-%012d', i), printf('Client %05d', i), 'default', 'active', ?, 1 FROM w`, n, time.Now()); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO memberships (user_id, workspace_id, role, created_at)
		SELECT CASE WHEN CAST(substr(id, 25) AS INTEGER) % 10 = 0 THEN ?1 ELSE ?2 END, id, 'owner', ?3 FROM workspaces WHERE pristine = 1`,
		ownerID, otherID, time.Now()); err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	for i := range n {
		r := &store.Rollup{Contacts: int64(i * 7 % 1000), Open: []store.Money{{Currency: "EUR", Count: 1, Minor: int64(i * 13 % 10000)}},
			SentMonth: int64(i % 50), Day: now.UTC().Format(time.DateOnly), Month: now.UTC().Format("2006-01"), LastActivity: now}
		if err := store.PushRollup(ctx, db, fmt.Sprintf("0192f0c1-0000-7000-8000-%012d", i), r, int64(i)<<12, now); err != nil {
			tb.Fatal(err)
		}
	}
}

// cpuTime is the process's CPU time so far (user and system): on a
// shared, loaded machine it measures the work, where wall time measures
// the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The console and /admin read the catalog only: over workspaces that
// have no file, no handle is opened and every page renders.
func TestConsole_OpensNoWorkspaceFile(t *testing.T) {
	ts := newTestServer(t)
	root := ts.mustUser(t, "root@example.com", true)
	agency := ts.mustUser(t, "agency@example.com", false)
	seedCatalogWorkspaces(t, ts, 300, agency.ID, root.ID)
	c := ts.loggedIn(t, "root@example.com")
	for _, path := range []string{"/console", "/console?sort=pipeline&dir=desc&page=2", "/console?sort=owner", "/console/workspaces.csv", "/console/portfolio", "/admin", "/admin?page=3"} {
		r := c.get(path)
		wantStatus(t, path, r, http.StatusOK)
	}
	r := ts.loggedIn(t, "agency@example.com").get("/console/workspaces.csv")
	wantStatus(t, "agency CSV", r, http.StatusOK)
	if n := strings.Count(r.body, "\n") - 1; n != 30 {
		t.Errorf("the agency owner's CSV has %d rows, want 30", n)
	}
	if n := ts.tenants.OpenHandles(); n != 0 {
		t.Errorf("%d workspace files opened", n)
	}
}

// BenchmarkConsolePage: a console page over 10,000 workspaces (the
// request's round trip, an upper bound of its server time) by several
// sorts, and the portfolio; p99-ms over every request, cpu-ms/op the
// process's CPU (client included). No workspace file is opened.
func BenchmarkConsolePage(b *testing.B) {
	ts := newTestServer(b)
	ts.mustUser(b, "root@example.com", true)
	agency := ts.mustUser(b, "agency@example.com", false)
	other := ts.mustUser(b, "other@example.com", false)
	seedCatalogWorkspaces(b, ts, 10_000, agency.ID, other.ID)
	for _, who := range []string{"root@example.com", "agency@example.com"} {
		c := ts.loggedIn(b, who)
		for _, view := range []struct {
			name  string
			paths []string
		}{
			{"table", []string{"/console", "/console?sort=pipeline&dir=desc&page=20", "/console?sort=contacts&q=client%2000", "/console?sort=owner&page=7"}},
			{"portfolio", []string{"/console/portfolio"}},
		} {
			b.Run(strings.Split(who, "@")[0]+"-"+view.name, func(b *testing.B) {
				var times []time.Duration
				cpu0 := cpuTime()
				for i := 0; b.Loop(); i++ {
					t0 := time.Now()
					if r := c.get(view.paths[i%len(view.paths)]); r.status != http.StatusOK {
						b.Fatal(r.status)
					}
					times = append(times, time.Since(t0))
				}
				// Client and server share the process: an upper bound.
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(times)), "cpu-ms/op")
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
	if n := ts.tenants.OpenHandles(); n != 0 {
		b.Errorf("%d workspace files opened", n)
	}
}
