package tenant

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"time"

	"atrium/store"
)

// ledgerCloseDelay is how long after midnight UTC a day is closed in the
// usage ledger: the day's counted usage is flushed every few seconds, and
// a push that began before midnight has ended.
const ledgerCloseDelay = 2 * time.Minute

// Prices is the config's price table (prices:): what each meter costs,
// as decimal amounts in Currency ("5.00"), any of them zero. Parsed once
// into minor units: statements never see a float.
type Prices struct {
	Currency           string `yaml:"currency"`
	Seat               string `yaml:"per_seat"`
	ThousandContacts   string `yaml:"per_1000_contacts"`
	GB                 string `yaml:"per_gb"`
	ThousandEmailsSent string `yaml:"per_1000_emails"`

	// unit and per are the parsed prices per meter: unit minor units per
	// `per` of the meter's quantity.
	unit, per map[string]int64
}

// bytesPerGB is the GB of the storage price: 10^9 bytes.
const bytesPerGB = 1_000_000_000

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// resolve checks and parses the table; an absent table costs nothing, in
// EUR.
func (p *Prices) resolve() error {
	if p.Currency == "" {
		p.Currency = "EUR"
	}
	if !currencyCode.MatchString(p.Currency) {
		return fmt.Errorf("prices: currency %q is not a three-letter upper-case code such as EUR", p.Currency)
	}
	p.unit, p.per = map[string]int64{}, map[string]int64{}
	for _, f := range []struct {
		key, meter, val string
		per             int64
	}{
		{"per_seat", store.MeterSeats, p.Seat, 1},
		{"per_1000_contacts", store.MeterContacts, p.ThousandContacts, 1000},
		{"per_gb", store.MeterStorage, p.GB, bytesPerGB},
		{"per_1000_emails", store.MeterEmailsSent, p.ThousandEmailsSent, 1000},
	} {
		p.per[f.meter] = f.per
		if f.val == "" {
			continue
		}
		minor, err := store.ParseMoney(f.val, p.Currency)
		if err != nil {
			return fmt.Errorf("prices: %s %q: %v", f.key, f.val, err)
		}
		if minor < 0 {
			return fmt.Errorf("prices: %s must not be negative", f.key)
		}
		p.unit[f.meter] = minor
	}
	return nil
}

// SetPrices checks and replaces the config's price table (a config reload,
// tests). Statements of closed months keep the prices they were frozen at.
func (c *Config) SetPrices(p Prices) error {
	if err := p.resolve(); err != nil {
		return err
	}
	c.Prices = p
	return nil
}

// Price returns a meter's unit price in minor units and the quantity it is
// the price of (1 seat, 1,000 contacts, 10^9 bytes, 1,000 emails); meters
// without a price cost 0 per 1.
func (p *Prices) Price(meter string) (unit, per int64) {
	if per = p.per[meter]; per == 0 {
		per = 1
	}
	return p.unit[meter], per
}

// Amount is quantity × unit / per in minor units, rounded half up, exact
// whatever the sizes (big integers: bytes × a price can pass int64).
func Amount(quantity, unit, per int64) (int64, error) {
	if quantity <= 0 || unit == 0 {
		return 0, nil
	}
	n := new(big.Int).Mul(big.NewInt(quantity), big.NewInt(unit))
	n.Add(n, big.NewInt(per/2))
	n.Quo(n, big.NewInt(per))
	if !n.IsInt64() {
		return 0, fmt.Errorf("amount of %d at %d per %d does not fit", quantity, unit, per)
	}
	return n.Int64(), nil
}

// CloseUsageDays appends to the usage ledger every finished day since the
// last one it holds (only yesterday when it holds none), reading the
// catalog only.
func (m *Manager) CloseUsageDays(ctx context.Context, now time.Time) error {
	last, err := store.LastLedgerDay(ctx, m.catalog.R)
	if err != nil {
		return err
	}
	through := now.UTC().Add(-ledgerCloseDelay).AddDate(0, 0, -1).Format(time.DateOnly)
	day := through
	if last != "" {
		t, err := time.Parse(time.DateOnly, last)
		if err != nil {
			return err
		}
		day = t.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	for ; day <= through; day = nextDay(day) {
		if err := m.flushUsage(ctx); err != nil {
			return err
		}
		if err := store.CloseLedgerDay(ctx, m.catalog, day, now); err != nil {
			return err
		}
		// A month's last day closed: its statement is frozen now, at
		// the prices of now, whether or not anyone looks at it yet.
		if nextDay(day)[:7] != day[:7] {
			if _, err := m.UsageStatement(ctx, day[:7], nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func nextDay(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	return t.AddDate(0, 0, 1).Format(time.DateOnly)
}

// Statement is a month's usage and amounts, per workspace and in total.
type Statement struct {
	Month    string `json:"month"`
	Currency string `json:"currency"`
	// Closed says the month is over and frozen: rendering it again gives
	// the same numbers. An open month shows the days closed so far.
	Closed bool `json:"closed"`
	// FrozenAt is when the closed month's statement was stored.
	FrozenAt   *time.Time           `json:"frozen_at,omitempty"`
	Workspaces []WorkspaceStatement `json:"workspaces"`
	// TotalMinor is the sum of every workspace's amount.
	TotalMinor int64 `json:"total_minor"`
}

// WorkspaceStatement is one workspace's lines of a statement.
type WorkspaceStatement struct {
	WorkspaceID string                `json:"workspace_id"`
	Name        string                `json:"name"`
	Lines       []store.StatementLine `json:"lines"`
	TotalMinor  int64                 `json:"total_minor"`
}

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// ParseMonth checks a month as YYYY-MM; "" is the current UTC month.
func ParseMonth(s string, now time.Time) (string, error) {
	if s == "" {
		return now.UTC().Format("2006-01"), nil
	}
	if !monthPattern.MatchString(s) {
		return "", store.Errorf(store.EInvalid, "The month %q is not a month such as 2026-11.", s)
	}
	return s, nil
}

// UsageStatement returns the statement of a month (YYYY-MM) for the given
// workspaces (nil: every workspace, deleted ones included). A month whose
// last day the ledger has closed is frozen the first time it is asked for
// (for every workspace at once), and read back as stored afterwards.
func (m *Manager) UsageStatement(ctx context.Context, month string, ids []string) (*Statement, error) {
	start, err := time.Parse("2006-01", month)
	if err != nil {
		return nil, store.Errorf(store.EInvalid, "The month %q is not a month such as 2026-11.", month)
	}
	lastDay := start.AddDate(0, 1, -1).Format(time.DateOnly)
	ledgerDay, err := store.LastLedgerDay(ctx, m.catalog.R)
	if err != nil {
		return nil, err
	}
	st := &Statement{Month: month, Currency: m.cfg.Prices.Currency, Closed: ledgerDay >= lastDay}
	lines, frozenAt, frozen, err := store.FrozenStatement(ctx, m.catalog.R, month, ids)
	if err != nil {
		return nil, err
	}
	if !frozen {
		all, err := m.statementLines(ctx, month)
		if err != nil {
			return nil, err
		}
		if st.Closed {
			if err := store.FreezeStatement(ctx, m.catalog, month, st.Currency, all, m.now()); err != nil {
				return nil, err
			}
			// Read back: a freeze that raced this one won.
			if lines, frozenAt, _, err = store.FrozenStatement(ctx, m.catalog.R, month, ids); err != nil {
				return nil, err
			}
		} else {
			lines = keepWorkspaces(all, ids)
		}
	}
	if !frozenAt.IsZero() {
		st.FrozenAt = &frozenAt
	}
	if len(lines) > 0 {
		st.Currency = lines[0].Currency
	}
	sortLines(lines)
	for _, l := range lines {
		n := len(st.Workspaces)
		if n == 0 || st.Workspaces[n-1].WorkspaceID != l.WorkspaceID {
			st.Workspaces = append(st.Workspaces, WorkspaceStatement{WorkspaceID: l.WorkspaceID, Name: l.WorkspaceName})
			n++
		}
		w := &st.Workspaces[n-1]
		w.Lines = append(w.Lines, l)
		w.TotalMinor += l.AmountMinor
		st.TotalMinor += l.AmountMinor
	}
	return st, nil
}

// statementLines prices a month of the ledger for every workspace, in the
// order statements show them.
func (m *Manager) statementLines(ctx context.Context, month string) ([]store.StatementLine, error) {
	rows, err := store.MonthUsage(ctx, m.catalog.R, month)
	if err != nil {
		return nil, err
	}
	names, err := store.WorkspaceNames(ctx, m.catalog.R)
	if err != nil {
		return nil, err
	}
	prices := m.cfg.Prices
	var lines []store.StatementLine
	for _, r := range rows {
		unit, per := prices.Price(r.Meter)
		amount, err := Amount(r.Quantity, unit, per)
		if err != nil {
			return nil, err
		}
		lines = append(lines, store.StatementLine{Month: month, WorkspaceID: r.WorkspaceID, WorkspaceName: names[r.WorkspaceID],
			Meter: r.Meter, Quantity: r.Quantity, UnitMinor: unit, Per: per, AmountMinor: amount, Currency: prices.Currency})
	}
	sortLines(lines)
	return lines, nil
}

// sortLines puts lines in a statement's order: by workspace name, then
// meter as LedgerMeters lists them.
func sortLines(lines []store.StatementLine) {
	order := map[string]int{}
	for i, meter := range store.LedgerMeters {
		order[meter] = i
	}
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.WorkspaceName != b.WorkspaceName {
			return a.WorkspaceName < b.WorkspaceName
		}
		if a.WorkspaceID != b.WorkspaceID {
			return a.WorkspaceID < b.WorkspaceID
		}
		return order[a.Meter] < order[b.Meter]
	})
}

func keepWorkspaces(lines []store.StatementLine, ids []string) []store.StatementLine {
	if ids == nil {
		return lines
	}
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	var out []store.StatementLine
	for _, l := range lines {
		if keep[l.WorkspaceID] {
			out = append(out, l)
		}
	}
	return out
}
