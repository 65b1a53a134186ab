package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// seedConsole adds n active workspaces, owned in turn by owners users
// (o0, o1, ...), each with a member, pushed counters and an open pipeline
// in EUR (and USD for every third).
func seedConsole(tb testing.TB, db *Catalog, n, owners int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		for i := range owners {
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, '', 'x', ?)`,
				fmt.Sprint("o", i), fmt.Sprintf("owner%d@example.com", i), now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('m', 'm@example.com', '', 'x', ?)`, now); err != nil {
			return err
		}
		for i := range n {
			w := &Workspace{ID: fmt.Sprintf("w%05d", i), Name: fmt.Sprintf("Client %05d", i), Region: []string{"eu", "us"}[i%2], State: StateActive, CreatedAt: now}
			if err := InsertWorkspace(ctx, tx, w); err != nil {
				return err
			}
			for _, m := range [][2]string{{fmt.Sprint("o", i%owners), "owner"}, {"m", "member"}} {
				if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (user_id, workspace_id, role, created_at) VALUES (?, ?, ?, ?)`, m[0], w.ID, m[1], now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		r := &Rollup{Contacts: int64(i * 7 % 1000), Open: []Money{{"EUR", 1, int64(i * 13 % 10000)}}, SentMonth: int64(i % 50),
			Day: now.UTC().Format(time.DateOnly), Month: now.UTC().Format("2006-01")}
		if i%3 == 0 {
			r.Open = append(r.Open, Money{"USD", 2, 99})
		}
		if err := PushRollup(ctx, db, fmt.Sprintf("w%05d", i), r, int64(i)<<10, now); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestConsoleWorkspaces(t *testing.T) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(t)}
	now := time.Now()
	seedConsole(t, db, 250, 3, now)
	base := ConsoleFilter{Currency: "EUR", Day: now.UTC().Format(time.DateOnly), Month: now.UTC().Format("2006-01"), Limit: 100}

	t.Run("SortAndPage", func(t *testing.T) {
		f := base
		f.Sort, f.Desc = "pipeline", true
		var all []int64
		for f.Offset = 0; f.Offset < 300; f.Offset += 100 {
			rows, total, err := ConsoleWorkspaces(ctx, db.R, f)
			if err != nil || total != 250 {
				t.Fatalf("%v, total %d", err, total)
			}
			for _, r := range rows {
				all = append(all, r.Pipeline)
			}
		}
		if len(all) != 250 || !sort.SliceIsSorted(all, func(i, j int) bool { return all[i] > all[j] }) {
			t.Errorf("pipeline values not sorted down over the pages (%d rows)", len(all))
		}
	})
	t.Run("Row", func(t *testing.T) {
		f := base
		f.Query = "CLIENT 00003"
		rows, total, err := ConsoleWorkspaces(ctx, db.R, f)
		if err != nil || total != 1 || len(rows) != 1 {
			t.Fatalf("%v, %d, %+v", err, total, rows)
		}
		r := rows[0]
		if r.OwnerEmail != "owner0@example.com" || r.Members != 2 || r.Contacts != 21 || r.Pipeline != 39 || r.SentMonth != 3 ||
			r.StorageBytes != 3<<10 || len(r.Open) != 2 || r.Region != "us" {
			t.Errorf("row: %+v", r)
		}
		// Next month, this month's counts are last month's.
		f.Month = now.AddDate(0, 1, 0).UTC().Format("2006-01")
		rows, _, _ = ConsoleWorkspaces(ctx, db.R, f)
		if rows[0].SentMonth != 0 {
			t.Errorf("sent next month: %d", rows[0].SentMonth)
		}
	})
	t.Run("OwnerSeesOwnOnly", func(t *testing.T) {
		f := base
		f.OwnerID, f.Limit = "o1", 0
		rows, total, err := ConsoleWorkspaces(ctx, db.R, f)
		if err != nil || total != 83 || len(rows) != 83 {
			t.Fatalf("%v: %d of %d", err, len(rows), total)
		}
		for _, r := range rows {
			if r.OwnerEmail != "owner1@example.com" {
				t.Errorf("owner o1 sees %s of %s", r.ID, r.OwnerEmail)
			}
		}
		// A sort whose key has parameters, with a filter that has some.
		f.Sort, f.Desc, f.Query = "sent", true, "client"
		rows, total, err = ConsoleWorkspaces(ctx, db.R, f)
		if err != nil || total != 83 || !sort.SliceIsSorted(rows, func(i, j int) bool { return rows[i].SentMonth > rows[j].SentMonth }) ||
			slices.ContainsFunc(rows, func(r ConsoleRow) bool { return r.OwnerEmail != "owner1@example.com" }) {
			t.Errorf("o1 by sent: %v, %d rows of %d", err, len(rows), total)
		}
		f.Sort, f.Desc, f.Query = "", false, ""
		f.OwnerID = "m" // a member everywhere, owner nowhere
		if _, total, _ := ConsoleWorkspaces(ctx, db.R, f); total != 0 {
			t.Errorf("a member sees %d workspaces", total)
		}
		if ok, _ := OwnsAnyWorkspace(ctx, db.R, "m"); ok {
			t.Error("the member owns a workspace")
		}
		if ok, _ := OwnsAnyWorkspace(ctx, db.R, "o2"); !ok {
			t.Error("o2 owns no workspace")
		}
		if ok, _ := OwnsWorkspace(ctx, db.R, "o1", "w00000"); ok {
			t.Error("o1 owns o0's workspace")
		}
	})
	t.Run("Filters", func(t *testing.T) {
		f := base
		f.Region, f.Limit = "eu", 0
		rows, total, _ := ConsoleWorkspaces(ctx, db.R, f)
		if total != 125 || slices.ContainsFunc(rows, func(r ConsoleRow) bool { return r.Region != "eu" }) {
			t.Errorf("region eu: %d", total)
		}
		f.Sort = "bogus'; DROP TABLE users; --"
		if _, _, err := ConsoleWorkspaces(ctx, db.R, f); err != nil {
			t.Errorf("an unknown sort: %v", err)
		}
	})
}

// cpuTime is the process's CPU time so far (user and system): on a
// shared, loaded machine it measures the work, where wall time measures
// the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConsoleWorkspaces: a page of the console over 10,000
// workspaces, by the sort, reading the catalog only; p99-ms is the 99th
// percentile of one page's time.
func BenchmarkConsoleWorkspaces(b *testing.B) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(b)}
	now := time.Now()
	seedConsole(b, db, 10_000, 20, now)
	for _, sort := range []string{"name", "pipeline", "members", "owner"} {
		b.Run(sort, func(b *testing.B) {
			f := ConsoleFilter{Currency: "EUR", Day: now.UTC().Format(time.DateOnly), Month: now.UTC().Format("2006-01"), Limit: 100,
				Sort: sort, Desc: true, Offset: 5000}
			var times []time.Duration
			cpu0 := cpuTime()
			for b.Loop() {
				t0 := time.Now()
				if rows, _, err := ConsoleWorkspaces(ctx, db.R, f); err != nil || len(rows) != 100 {
					b.Fatal(err, len(rows))
				}
				times = append(times, time.Since(t0))
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(times)), "cpu-ms/op")
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// The name order goes both ways, ties by id.
func TestConsoleWorkspaces_NameOrder(t *testing.T) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(t)}
	now := time.Now()
	seedConsole(t, db, 30, 2, now)
	for _, desc := range []bool{false, true} {
		rows, _, err := ConsoleWorkspaces(ctx, db.R, ConsoleFilter{Sort: "name", Desc: desc, Limit: 10, Offset: 5})
		if err != nil || len(rows) != 10 {
			t.Fatal(err, len(rows))
		}
		want := fmt.Sprintf("Client %05d", 5)
		if desc {
			want = fmt.Sprintf("Client %05d", 24)
		}
		if rows[0].Name != want || (rows[1].Name > rows[0].Name) != !desc {
			t.Errorf("desc %v: starts with %s, %s; want %s", desc, rows[0].Name, rows[1].Name, want)
		}
	}
}

func TestPortfolio(t *testing.T) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(t)}
	now := time.Now()
	seedConsole(t, db, 30, 3, now)
	f := ConsoleFilter{Currency: "EUR", Month: now.UTC().Format("2006-01"), OwnerID: "o1"}
	p, err := PortfolioTotals(ctx, db.R, f)
	if err != nil {
		t.Fatal(err)
	}
	// o1 owns w1, w4, ..., w28: ten workspaces of two members each.
	var contacts, sent, eur int64
	for i := 1; i < 30; i += 3 {
		contacts, sent, eur = contacts+int64(i*7%1000), sent+int64(i%50), eur+int64(i*13%10000)
	}
	if p.Workspaces != 10 || p.Members != 20 || p.Contacts != contacts || p.SentMonth != sent ||
		len(p.Open) != 1 || p.Open[0] != (Money{"EUR", 10, eur}) { // USD only for every third from w0
		t.Errorf("portfolio: %+v", p)
	}
	for _, day := range []string{"2026-01-05", "2026-01-06", "2026-02-01"} {
		if _, err := db.W.ExecContext(ctx, `INSERT INTO usage_ledger (workspace_id, day, meter, quantity, recorded_at)
			SELECT id, ?, 'emails_sent', 10, ? FROM workspaces`, day, now); err != nil {
			t.Fatal(err)
		}
		if err := CloseLedgerDay(ctx, db, day, now); err != nil {
			t.Fatal(err)
		}
	}
	trend, err := PortfolioTrend(ctx, db.R, "o1", "2026-01")
	if err != nil || len(trend) != 2 || trend[0].EmailsSent != 200 || trend[1].EmailsSent != 100 || trend[0].Seats != 0 {
		t.Errorf("trend: %+v, %v", trend, err)
	}
}

// workspace_people, which catalog triggers keep, matches a recount from
// memberships and users after random joins, departures, role and email
// changes, and deletions of users and workspaces.
func TestWorkspacePeople_MatchesARecount(t *testing.T) {
	ctx := context.Background()
	db, _ := twoFactorCatalog(t)
	now := time.Now().UTC()
	seedConsole(t, db, 12, 3, now)
	r := rand.New(rand.NewPCG(7, 8))
	var users []string
	for i := range 8 {
		u, err := CreateUser(ctx, db, NewUser{Email: fmt.Sprintf("u%d@example.com", i), Password: "a long password"})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	ws := func() string { return fmt.Sprintf("w%05d", r.IntN(12)) }
	user := func() string { return users[r.IntN(len(users))] }
	roles := []string{"owner", "admin", "member", "viewer"}
	for i := range 400 {
		var err error
		switch r.IntN(6) {
		case 0, 1:
			_, err = db.W.ExecContext(ctx, `INSERT OR IGNORE INTO memberships (user_id, workspace_id, role, created_at) VALUES (?, ?, ?, ?)`,
				user(), ws(), roles[r.IntN(4)], now.Add(time.Duration(i)*time.Second))
		case 2:
			_, err = db.W.ExecContext(ctx, `DELETE FROM memberships WHERE user_id = ? AND workspace_id = ?`, user(), ws())
		case 3:
			_, err = db.W.ExecContext(ctx, `UPDATE memberships SET role = ? WHERE user_id = ? AND workspace_id = ?`, roles[r.IntN(4)], user(), ws())
		case 4:
			_, err = db.W.ExecContext(ctx, `UPDATE users SET email = ? WHERE id = ?`, fmt.Sprintf("e%d@example.com", i), user())
		case 5:
			if r.IntN(10) == 0 && len(users) > 1 {
				_, err = db.W.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, users[0])
				users = users[1:]
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// A workspace deleted with its memberships leaves no row.
	gone := &Workspace{ID: "gone", Name: "Gone", Region: "eu", State: StateActive, CreatedAt: now}
	if err := InsertWorkspace(ctx, db.W, gone); err != nil {
		t.Fatal(err)
	}
	for _, u := range users[:2] {
		if err := AddMember(ctx, db.W, u, gone.ID, "owner"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.W.ExecContext(ctx, `DELETE FROM workspaces WHERE id = ?`, gone.ID); err != nil {
		t.Fatal(err)
	}
	var diff []string
	if err := db.R.SelectContext(ctx, &diff, `SELECT w.id || ': kept ' || coalesce(p.owner_email, '-') || '/' || coalesce(p.members, '-') ||
			', counted ' || x.owner_email || '/' || x.members
		FROM workspaces w LEFT JOIN workspace_people p ON p.workspace_id = w.id
		JOIN (SELECT w.id, coalesce((SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
				WHERE m.workspace_id = w.id AND m.role = 'owner' ORDER BY m.created_at LIMIT 1), '') AS owner_email,
			(SELECT count(*) FROM memberships m WHERE m.workspace_id = w.id) AS members FROM workspaces w) x ON x.id = w.id
		WHERE p.workspace_id IS NULL OR p.owner_email IS NOT x.owner_email OR p.members <> x.members`); err != nil {
		t.Fatal(err)
	}
	if len(diff) > 0 {
		t.Fatalf("workspace_people differs from a recount:\n%s", strings.Join(diff, "\n"))
	}
	var orphans int
	if err := db.R.GetContext(ctx, &orphans, `SELECT count(*) FROM workspace_people WHERE workspace_id NOT IN (SELECT id FROM workspaces)`); err != nil || orphans > 0 {
		t.Fatalf("%d rows of deleted workspaces (%v)", orphans, err)
	}
}

// BenchmarkPortfolioTotals: the superadmin's portfolio totals over
// 10,000 workspaces, and an agency owner's over 1,000 of them.
func BenchmarkPortfolioTotals(b *testing.B) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(b)}
	now := time.Now()
	seedConsole(b, db, 10_000, 10, now)
	for _, owner := range []string{"", "o1"} {
		b.Run("owner="+owner, func(b *testing.B) {
			f := ConsoleFilter{OwnerID: owner, Currency: "EUR", Month: now.UTC().Format("2006-01")}
			for b.Loop() {
				if _, err := PortfolioTotals(ctx, db.R, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The whole instance's totals (the counters' tables scanned, the
// workspaces that are not live skipped) are the sum of its regions'
// (joined workspace by workspace), trashed workspaces counted, deleted
// and unfinished ones not, won money of this month only.
func TestPortfolio_WholeInstanceAddsUpItsRegions(t *testing.T) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(t)}
	now := time.Now()
	month := now.UTC().Format("2006-01")
	seedConsole(t, db, 40, 3, now)
	for i, state := range map[int]string{3: StateTrashed, 4: StateDeleted, 5: StateCreating, 6: StateDeleting} {
		if _, err := db.W.ExecContext(ctx, `UPDATE workspaces SET state = ? WHERE id = ?`, state, fmt.Sprintf("w%05d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range map[int]string{7: month, 8: "2001-01", 4: month} {
		r := &Rollup{Contacts: 5, WonMonth: []Money{{"EUR", 1, int64(100 * i)}}, Month: m}
		if err := PushRollup(ctx, db, fmt.Sprintf("w%05d", i), r, 10, now); err != nil {
			t.Fatal(err)
		}
	}
	total := func(f ConsoleFilter) *Portfolio {
		f.Month, f.Currency = month, "EUR"
		p, err := PortfolioTotals(ctx, db.R, f)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	all, eu, us := total(ConsoleFilter{}), total(ConsoleFilter{Region: "eu"}), total(ConsoleFilter{Region: "us"})
	sum := Portfolio{Workspaces: eu.Workspaces + us.Workspaces, Members: eu.Members + us.Members, Contacts: eu.Contacts + us.Contacts,
		OpenDeals: eu.OpenDeals + us.OpenDeals, SentMonth: eu.SentMonth + us.SentMonth, RepliedMonth: eu.RepliedMonth + us.RepliedMonth,
		StorageBytes: eu.StorageBytes + us.StorageBytes, Open: addMoney(eu.Open, us.Open), WonMonth: addMoney(eu.WonMonth, us.WonMonth)}
	if !reflect.DeepEqual(*all, sum) {
		t.Errorf("whole instance %+v,\nits regions added up %+v", *all, sum)
	}
	if all.Workspaces != 37 || !reflect.DeepEqual(all.WonMonth, []Money{{"EUR", 1, 700}}) {
		t.Errorf("whole instance: %d workspaces, won %v; want 37 and only w00007's", all.Workspaces, all.WonMonth)
	}
}

// addMoney adds two lists of sums per currency (sorted by currency).
func addMoney(a, b []Money) []Money {
	by := map[string]Money{}
	for _, m := range append(a, b...) {
		s := by[m.Currency]
		by[m.Currency] = Money{m.Currency, s.Count + m.Count, s.Minor + m.Minor}
	}
	var out []Money
	for _, m := range by {
		out = append(out, m)
	}
	slices.SortFunc(out, func(x, y Money) int { return strings.Compare(x.Currency, y.Currency) })
	return out
}

// Counters belong to a workspace row: a push for an unknown workspace is
// dropped, and a failed creation's row takes its counters along.
func TestRollup_CountersBelongToWorkspaces(t *testing.T) {
	ctx := context.Background()
	db := &Catalog{mustOpenCatalogFile(t)}
	now := time.Now()
	if err := InsertWorkspace(ctx, db.W, &Workspace{ID: "new", Name: "New", Region: "eu", State: StateCreating, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	r := &Rollup{Contacts: 3, Open: []Money{{"EUR", 1, 5}}, Month: now.UTC().Format("2006-01")}
	for _, id := range []string{"new", "unknown"} {
		if err := PushRollup(ctx, db, id, r, 10, now); err != nil {
			t.Fatal(err)
		}
	}
	counters := func() (n int) {
		if err := db.R.GetContext(ctx, &n, `SELECT (SELECT count(*) FROM workspace_rollups) + (SELECT count(*) FROM workspace_rollup_money)`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := counters(); n != 2 {
		t.Fatalf("%d counter rows, want new's two", n)
	}
	if err := DeleteWorkspaceRow(ctx, db.W, "new"); err != nil {
		t.Fatal(err)
	}
	if n := counters(); n != 0 {
		t.Errorf("%d counter rows left after the workspace row went", n)
	}
}
