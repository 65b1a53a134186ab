package tenant

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

func TestAmount(t *testing.T) {
	for _, c := range []struct{ q, unit, per, want int64 }{
		{1500, 200, 1000, 300},                        // 1,500 contacts at 2.00 per 1,000
		{1234, 100, 1000, 123},                        // 1.234 rounds down
		{1235, 100, 1000, 124},                        // half up
		{2_500_000_000, 10, bytesPerGB, 25},           // 2.5 GB at 0.10
		{3, 500, 1, 1500},                             // seats
		{0, 500, 1, 0},                                // nothing used
		{1 << 50, 1 << 20, bytesPerGB, 1180591620717}, // passes int64 on the way
	} {
		got, err := Amount(c.q, c.unit, c.per)
		if err != nil || got != c.want {
			t.Errorf("Amount(%d, %d, %d) = %d, %v; want %d", c.q, c.unit, c.per, got, err, c.want)
		}
	}
	if _, err := Amount(1<<62, 1<<40, 1); err == nil {
		t.Error("an amount past int64 was not refused")
	}
}

func TestPrices_Resolve(t *testing.T) {
	p := Prices{Currency: "EUR", Seat: "5.00", ThousandContacts: "2", GB: "0.10", ThousandEmailsSent: "1.00"}
	if err := p.resolve(); err != nil {
		t.Fatal(err)
	}
	if u, per := p.Price(store.MeterStorage); u != 10 || per != bytesPerGB {
		t.Errorf("per GB: %d per %d", u, per)
	}
	for _, bad := range []Prices{{Currency: "euro"}, {Seat: "five"}, {Seat: "-1.00"}, {GB: "0.001"}} {
		if err := bad.resolve(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// A closed month's statement is frozen: the ledger's days priced once,
// the same numbers after the workspace is deleted, the prices change and
// more usage arrives for that month; the total adds up the workspaces.
func TestUsageStatement_ClosedMonthIsFrozen(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	m.cfg.Prices = Prices{Currency: "EUR", Seat: "5.00", ThousandContacts: "2.00", GB: "0.10", ThousandEmailsSent: "1.00"}
	if err := m.cfg.Prices.resolve(); err != nil {
		t.Fatal(err)
	}
	a, b := mustCreate(t, m, "Alpha"), mustCreate(t, m, "Beta")
	start := time.Now().UTC().AddDate(0, -1, 0)
	start = time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC)
	month := start.Format("2006-01")
	day := func(d int) string { return start.AddDate(0, 0, d-1).Format(time.DateOnly) }
	for _, w := range []string{a.ID, b.ID} {
		if err := store.RaiseHighWater(ctx, m.catalog.W, w, day(3), map[string]int64{store.MeterSeats: 3, store.MeterContacts: 1500,
			store.MeterStorage: 2_500_000_000}); err != nil {
			t.Fatal(err)
		}
		if err := store.AddUsage(ctx, m.catalog, []store.UsageCount{{WorkspaceID: w, Day: day(3), Meter: store.MeterEmailsSent, Quantity: 1000},
			{WorkspaceID: w, Day: day(20), Meter: store.MeterEmailsSent, Quantity: 234}, {WorkspaceID: w, Day: day(20), Meter: store.MeterAPICalls, Quantity: 7}}); err != nil {
			t.Fatal(err)
		}
	}
	lastDay := start.AddDate(0, 1, -1).Day()
	for d := 1; d < lastDay; d++ {
		if err := store.CloseLedgerDay(ctx, m.catalog, day(d), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	open, err := m.UsageStatement(ctx, month, nil)
	if err != nil || open.Closed {
		t.Fatalf("a month with a day to close: %+v, %v", open, err)
	}
	if err := store.CloseLedgerDay(ctx, m.catalog, day(lastDay), time.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := m.UsageStatement(ctx, month, nil)
	if err != nil || !st.Closed || len(st.Workspaces) != 2 {
		t.Fatalf("statement: %+v, %v", st, err)
	}
	// Per workspace: 3 seats at 5.00, 1,500 contacts at 2.00 per 1,000,
	// 2.5 GB at 0.10, 1,234 emails at 1.00 per 1,000, API calls free.
	want := map[string]int64{store.MeterSeats: 1500, store.MeterContacts: 300, store.MeterStorage: 25, store.MeterEmailsSent: 123, store.MeterAPICalls: 0}
	for _, w := range st.Workspaces {
		got := map[string]int64{}
		for _, l := range w.Lines {
			got[l.Meter] = l.AmountMinor
		}
		if !reflect.DeepEqual(got, want) || w.TotalMinor != 1948 {
			t.Errorf("%s: %v (total %d), want %v (1948)", w.Name, got, w.TotalMinor, want)
		}
	}
	if st.TotalMinor != 2*1948 || st.Currency != "EUR" {
		t.Errorf("total %d %s, want 3896 EUR", st.TotalMinor, st.Currency)
	}

	// Deleted, repriced, more usage: the same statement.
	if _, err := m.Delete(ctx, b.ID, "test"); err != nil {
		t.Fatal(err)
	}
	m.cfg.Prices = Prices{Currency: "USD", Seat: "50.00"}
	if err := m.cfg.Prices.resolve(); err != nil {
		t.Fatal(err)
	}
	if err := store.AddUsage(ctx, m.catalog, []store.UsageCount{{WorkspaceID: a.ID, Day: day(5), Meter: store.MeterEmailsSent, Quantity: 99999}}); err != nil {
		t.Fatal(err)
	}
	again, err := m.UsageStatement(ctx, month, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, st) {
		t.Errorf("the closed month changed:\n%+v\nwas\n%+v", again, st)
	}
	one, err := m.UsageStatement(ctx, month, []string{b.ID})
	if err != nil || len(one.Workspaces) != 1 || one.Workspaces[0].Name != "Beta" || one.TotalMinor != 1948 {
		t.Errorf("the deleted workspace's statement: %+v, %v", one, err)
	}
}

// CloseUsageDays closes yesterday (and not today), once.
func TestCloseUsageDays(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Alpha")
	now := time.Now().UTC()
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	// It existed yesterday (with no member: 0 seats).
	if _, err := m.catalog.W.ExecContext(ctx, `UPDATE workspaces SET created_at = ? WHERE id = ?`, now.AddDate(0, 0, -1), w.ID); err != nil {
		t.Fatal(err)
	}
	m.CountUsage(w.ID, store.MeterAPICalls, 5)
	if err := store.AddUsage(ctx, m.catalog, []store.UsageCount{{WorkspaceID: w.ID, Day: yesterday, Meter: store.MeterImports, Quantity: 2}}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(now.Year(), now.Month(), now.Day(), 0, 10, 0, 0, time.UTC)
	for range 2 {
		if err := m.CloseUsageDays(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct {
		Day      string `db:"day"`
		Meter    string `db:"meter"`
		Quantity int64  `db:"quantity"`
	}
	if err := m.catalog.R.SelectContext(ctx, &rows, `SELECT day, meter, quantity FROM usage_ledger WHERE workspace_id = ? ORDER BY meter`, w.ID); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		if r.Day != yesterday {
			t.Errorf("closed %s, want only %s", r.Day, yesterday)
		}
		got[r.Meter] = r.Quantity
	}
	if want := map[string]int64{store.MeterImports: 2, store.MeterSeats: 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("ledger of yesterday: %v, want %v", got, want)
	}
}

// BenchmarkUsageStatement: the unified statement of a closed month over
// 10,000 workspaces (30 days × 4 meters each in the ledger), priced and
// frozen on the first call, read back frozen after.
func BenchmarkUsageStatement(b *testing.B) {
	ctx := context.Background()
	m := MustOpenManager(b, 0)
	if err := m.cfg.SetPrices(Prices{Seat: "5.00", ThousandContacts: "2.00", GB: "0.10", ThousandEmailsSent: "1.00"}); err != nil {
		b.Fatal(err)
	}
	const month = "2026-01"
	if _, err := m.catalog.W.ExecContext(ctx, `WITH RECURSIVE
		w(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM w WHERE i < 9999),
		d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 31),
		meters(meter) AS (VALUES ('seats'), ('contacts'), ('storage_bytes'), ('emails_sent'))
		INSERT INTO usage_ledger (workspace_id, day, meter, quantity, recorded_at)
		SELECT printf('w%05d', i), printf('2026-01-%02d', n), meter, (i * 7 + n * 13) % 5000, '2026-02-01' FROM w, d, meters`); err != nil {
		b.Fatal(err)
	}
	if _, err := m.catalog.W.ExecContext(ctx, `INSERT INTO usage_monthly (month, workspace_id, meter, quantity)
		SELECT substr(day, 1, 7), workspace_id, meter, CASE WHEN meter = 'emails_sent' THEN sum(quantity) ELSE max(quantity) END
		FROM usage_ledger GROUP BY 1, 2, 3`); err != nil {
		b.Fatal(err)
	}
	// Every day to yesterday is closed: the background loop has none to close.
	if _, err := m.catalog.W.ExecContext(ctx, `INSERT INTO usage_ledger_days (day, closed_at) VALUES ('2026-01-31', '2026-02-01'), (?, ?)`,
		time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), time.Now()); err != nil {
		b.Fatal(err)
	}
	if _, err := m.catalog.W.ExecContext(ctx, `WITH RECURSIVE w(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM w WHERE i < 9999)
		INSERT INTO workspaces (id, name, region, state, created_at) SELECT printf('w%05d', i), printf('Client %05d', i), 'default', 'active', '2025-01-01' FROM w`); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		st, err := m.UsageStatement(ctx, month, nil)
		if err != nil || len(st.Workspaces) != 10_000 || !st.Closed {
			b.Fatal(err, len(st.Workspaces))
		}
		if i == 0 {
			b.ReportMetric(float64(time.Since(t0).Milliseconds()), "first-ms")
		}
	}
}

// The price table is read from the config file, and a bad price stops
// the load with the key named.
func TestLoadConfig_Prices(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/cfg.yml"
	for _, c := range []struct{ yaml, err string }{
		{`prices: {currency: USD, per_seat: "5.00", per_1000_contacts: "2", per_gb: "0.10", per_1000_emails: "1.00"}`, ""},
		{`prices: {per_seat: "5.001"}`, "per_seat"},
		{`prices: {currency: dollars}`, "currency"},
	} {
		if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path, dir)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one naming %s", c.yaml, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if u, per := cfg.Prices.Price(store.MeterContacts); u != 200 || per != 1000 || cfg.Prices.Currency != "USD" {
			t.Errorf("contacts price %d per %d %s", u, per, cfg.Prices.Currency)
		}
	}
}
