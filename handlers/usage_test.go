package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// seedLastMonth gives each workspace the same usage last month (3 seats,
// 1,500 contacts, 1,234 emails) and closes the month in the ledger.
func seedLastMonth(t *testing.T, ts *testServer, ids ...string) string {
	t.Helper()
	ctx := t.Context()
	if err := ts.tenants.Config().SetPrices(tenant.Prices{Currency: "EUR", Seat: "5.00", ThousandContacts: "2.00", ThousandEmailsSent: "1.00"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().AddDate(0, -1, 0)
	start = time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, id := range ids {
		if err := store.RaiseHighWater(ctx, ts.tenants.Catalog().W, id, start.Format(time.DateOnly),
			map[string]int64{store.MeterSeats: 3, store.MeterContacts: 1500}); err != nil {
			t.Fatal(err)
		}
		if err := store.AddUsage(ctx, ts.tenants.Catalog(), []store.UsageCount{{WorkspaceID: id, Day: start.Format(time.DateOnly),
			Meter: store.MeterEmailsSent, Quantity: 1234}}); err != nil {
			t.Fatal(err)
		}
	}
	for d := start; d.Month() == start.Month(); d = d.AddDate(0, 0, 1) {
		if err := store.CloseLedgerDay(ctx, ts.tenants.Catalog(), d.Format(time.DateOnly), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return start.Format("2006-01")
}

func statementOf(t *testing.T, r response) tenant.Statement {
	t.Helper()
	wantStatus(t, "statement", r, http.StatusOK)
	var st tenant.Statement
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return st
}

func statementIDs(st tenant.Statement) []string {
	var ids []string
	for _, w := range st.Workspaces {
		ids = append(ids, w.WorkspaceID)
	}
	return ids
}

// Statements: a superadmin gets every workspace's, an agency owner their
// own (another owner's workspace is 404), a member none, an API key its
// workspace's alone; amounts are exact and the total adds up.
func TestUsage_StatementsAndIsolation(t *testing.T) {
	f := newFixture(t)
	f.ts.mustUser(t, "root@example.com", true)
	outsiderWS := mustUserWorkspaces(t, f, f.outsider.ID)[0]
	month := seedLastMonth(t, f.ts, f.a, f.b, outsiderWS)
	// Per workspace: 3 × 5.00 + 1.5 × 2.00 + 1.234 × 1.00 = 15.00 + 3.00 + 1.23.
	const each = 1500 + 300 + 123

	root := f.ts.loggedIn(t, "root@example.com")
	st := statementOf(t, root.get("/console/usage?format=json&month="+month))
	if len(st.Workspaces) != 3 || st.TotalMinor != 3*each || !st.Closed || st.Currency != "EUR" {
		t.Errorf("the superadmin's statement: %d workspaces, total %d, closed %v", len(st.Workspaces), st.TotalMinor, st.Closed)
	}
	r := root.get("/console/usage?month=" + month)
	wantStatus(t, "printable statement", r, http.StatusOK)
	if !strings.Contains(r.body, "Outsider Inc") || !strings.Contains(r.body, "57.69 EUR") {
		i := strings.Index(r.body, "Total of")
		t.Errorf("the printable statement lacks a workspace or the total 57.69 EUR: %s", r.body[max(i, 0):min(len(r.body), max(i, 0)+300)])
	}
	wantStatus(t, "a bad month", root.get("/console/usage?month=2026-13"), http.StatusBadRequest)

	owner := f.ts.loggedIn(t, f.owner.Email)
	st = statementOf(t, owner.get("/console/usage?format=json&month="+month))
	if ids := statementIDs(st); len(ids) != 2 || st.TotalMinor != 2*each || strings.Contains(strings.Join(ids, " "), outsiderWS) {
		t.Errorf("the agency owner's statement: %v, total %d", ids, st.TotalMinor)
	}
	st = statementOf(t, owner.get("/console/usage/"+f.a+"?format=json&month="+month))
	if ids := statementIDs(st); len(ids) != 1 || ids[0] != f.a || st.TotalMinor != each {
		t.Errorf("Acme's statement: %v, total %d", ids, st.TotalMinor)
	}
	r = owner.get("/console/usage/" + f.a + "?format=csv&month=" + month)
	wantStatus(t, "CSV statement", r, http.StatusOK)
	if !strings.Contains(r.body, ",emails_sent,1234,100,1000,123,") || !strings.Contains(r.body, "all workspaces,total,,,,1923,") {
		t.Errorf("CSV statement:\n%s", r.body)
	}
	for _, id := range []string{outsiderWS, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "not-a-uuid"} {
		wantStatus(t, "owner, another's statement "+id, owner.get("/console/usage/"+id+"?format=json&month="+month), http.StatusNotFound)
	}
	wantStatus(t, "superadmin, no such workspace", root.get("/console/usage/0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"), http.StatusNotFound)
	for _, u := range []string{f.admin.Email, f.member.Email, f.viewer.Email} {
		c := f.ts.loggedIn(t, u)
		wantStatus(t, u+" statement", c.get("/console/usage"), http.StatusNotFound)
		wantStatus(t, u+" Acme's statement", c.get("/console/usage/"+f.a), http.StatusNotFound)
	}

	key, _ := f.ts.mustAPIKey(t, f.a, "read")
	st = statementOf(t, f.ts.api(t, key, "GET", "/api/v1/usage?month="+month, ""))
	if ids := statementIDs(st); len(ids) != 1 || ids[0] != f.a || st.TotalMinor != each {
		t.Errorf("the API statement: %v, total %d", ids, st.TotalMinor)
	}
	wantAPIError(t, "a bad month", f.ts.api(t, key, "GET", "/api/v1/usage?month=last", ""), http.StatusBadRequest, "invalid", "")
}
