package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recountRollup counts from the rows what the triggers keep: the recount
// the property test holds the counters to.
func recountRollup(tb testing.TB, db *DB, now time.Time) (open, won []Money, contacts, companies int64) {
	tb.Helper()
	ctx := context.Background()
	month := now.UTC().Format("2006-01")
	if err := db.R.SelectContext(ctx, &open, `SELECT currency, count(*) AS n, sum(value_minor) AS value_minor FROM deals
		WHERE status = 'open' GROUP BY currency ORDER BY currency`); err != nil {
		tb.Fatal(err)
	}
	if err := db.R.SelectContext(ctx, &won, `SELECT currency, count(*) AS n, sum(value_minor) AS value_minor FROM deals
		WHERE status = 'won' AND substr(coalesce(closed_at, updated_at), 1, 7) = ? GROUP BY currency ORDER BY currency`, month); err != nil {
		tb.Fatal(err)
	}
	if err := db.R.GetContext(ctx, &contacts, `SELECT count(*) FROM contacts`); err != nil {
		tb.Fatal(err)
	}
	if err := db.R.GetContext(ctx, &companies, `SELECT count(*) FROM companies`); err != nil {
		tb.Fatal(err)
	}
	return open, won, contacts, companies
}

// TestRollup_MatchesRecount: after random creates, updates, closes,
// reopens and deletes of deals, contacts and companies, through the real
// store functions, the counters equal a full recount.
func TestRollup_MatchesRecount(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	rng := rand.New(rand.NewPCG(20, 26))
	currencies := []string{"EUR", "USD", "GBP"}
	var deals, contacts []string
	now := time.Now().UTC()
	for i := range 400 {
		switch op := rng.IntN(8); {
		case op == 0 || len(deals) == 0:
			d, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr(fmt.Sprint("deal ", i)),
				Value: ptr(fmt.Sprintf("%d.%02d", rng.IntN(1000), rng.IntN(100))), Currency: ptr(currencies[rng.IntN(3)])})
			if err != nil {
				t.Fatal(err)
			}
			deals = append(deals, d.ID)
		case op == 1:
			c := mustContact(t, db, ContactInput{FirstName: ptr(fmt.Sprint("c", i)), Email: ptr(fmt.Sprintf("c%d@example.com", i))})
			contacts = append(contacts, c.ID)
		case op == 2 && len(contacts) > 0:
			k := rng.IntN(len(contacts))
			if err := DeleteContact(ctx, db, tester, contacts[k]); err != nil {
				t.Fatal(err)
			}
			contacts = append(contacts[:k], contacts[k+1:]...)
		case op == 3:
			k := rng.IntN(len(deals))
			if err := DeleteDeal(ctx, db, tester, deals[k]); err != nil {
				t.Fatal(err)
			}
			deals = append(deals[:k], deals[k+1:]...)
		case op == 4:
			if _, err := CreateCompany(ctx, db, tester, CompanyInput{Name: ptr(fmt.Sprint("Company ", i))}); err != nil {
				t.Fatal(err)
			}
		default:
			// A status change or a new value or currency, straight in
			// SQL too: closed_at in this month or the last, half each
			// (whatever the day: on the 1st, "40 days back" left none in
			// this month).
			id := deals[rng.IntN(len(deals))]
			status := []string{"open", "won", "lost"}[rng.IntN(3)]
			monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
			closed := monthStart.Add(time.Duration(rng.Int64N(int64(now.Sub(monthStart)) + 1)))
			if rng.IntN(2) == 0 {
				closed = monthStart.Add(-time.Duration(1 + rng.Int64N(int64(27*24*time.Hour))))
			}
			if _, err := db.W.ExecContext(ctx, `UPDATE deals SET status = ?, closed_at = CASE WHEN ? = 'open' THEN NULL ELSE ? END,
				value_minor = ?, currency = ?, updated_at = ? WHERE id = ?`,
				status, status, closed, rng.Int64N(100000), currencies[rng.IntN(3)], now, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := ReadRollup(ctx, db.R, now)
	if err != nil {
		t.Fatal(err)
	}
	open, won, nContacts, nCompanies := recountRollup(t, db, now)
	if !reflect.DeepEqual(r.Open, open) {
		t.Errorf("open deals: got %v, want %v", r.Open, open)
	}
	if !reflect.DeepEqual(r.WonMonth, won) {
		t.Errorf("won this month: got %v, want %v", r.WonMonth, won)
	}
	if r.Contacts != nContacts || r.Companies != nCompanies {
		t.Errorf("contacts, companies: got %d, %d, want %d, %d", r.Contacts, r.Companies, nContacts, nCompanies)
	}
	if r.LastActivity.IsZero() || now.Sub(r.LastActivity) > time.Minute {
		t.Errorf("last activity %v, want about now", r.LastActivity)
	}
	if len(open) == 0 || len(won) == 0 {
		t.Errorf("the random operations left no open (%v) or won (%v) deal: the test proves little", open, won)
	}
}

// TestRollup_Emails: a message that goes out, one that bounces, a reply
// and a person's first open and click count once each, on today's keys;
// a deletion does not uncount.
func TestRollup_Emails(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com")})
	now := time.Now()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.W.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`PRAGMA foreign_keys = OFF`) // no mailbox: the ledger's states are what is tested
	exec(`INSERT INTO sequences (id, name, created_at, updated_at) VALUES ('s1', 'S', ?, ?)`, now, now)
	exec(`INSERT INTO enrollments (id, sequence_id, contact_id, mailbox_id, next_at, created_at, updated_at) VALUES ('e1', 's1', ?, 'mb', 0, ?, ?)`, c.ID, now, now)
	for i, id := range []string{"m1", "m2", "m3"} {
		exec(`INSERT INTO messages (id, enrollment_id, step_id, sequence_id, contact_id, mailbox_id, to_email, message_id, state, created_at, updated_at)
			VALUES (?, 'e1', ?, 's1', ?, 'mb', 'ana@example.com', ?, 'scheduled', ?, ?)`, id, fmt.Sprint("st", i), c.ID, id+"@x", now, now)
	}
	exec(`UPDATE messages SET state = 'sending' WHERE id IN ('m1', 'm2', 'm3')`)
	exec(`UPDATE messages SET state = 'sent', sent_at = ? WHERE id IN ('m1', 'm2')`, now)
	exec(`UPDATE messages SET state = 'sent' WHERE id = 'm1'`) // no change: not counted again
	exec(`UPDATE messages SET state = 'bounced' WHERE id = 'm2'`)
	exec(`UPDATE messages SET state = 'unknown' WHERE id = 'm3'`)
	for i, kind := range []string{"reply", "auto_reply"} {
		exec(`INSERT INTO replies (id, mailbox_id, message_id, contact_id, sequence_id, step_id, kind, from_email, received_at, created_at, updated_at)
			VALUES (?, 'mb', 'm1', ?, 's1', 'st0', ?, 'ana@example.com', ?, ?, ?)`, fmt.Sprint("r", i), c.ID, kind, now, now, now)
	}
	// Opens and clicks: a person's first of each kind per message counts,
	// a second open and a proxy's prefetch do not.
	events := []TrackingEvent{{MessageID: "m1", Kind: TrackOpen, At: now}, {MessageID: "m1", Kind: TrackOpen, At: now},
		{MessageID: "m1", Kind: TrackClick, LinkIndex: 0, URL: "https://example.com", At: now},
		{MessageID: "m2", Kind: TrackOpen, Prefetch: true, At: now}, {MessageID: "m3", Kind: TrackOpen, At: now}}
	if _, err := RecordTrackingEvents(ctx, db, events, 0); err != nil {
		t.Fatal(err)
	}
	exec(`DELETE FROM messages WHERE id = 'm1'`)
	r, err := ReadRollup(ctx, db.R, now)
	if err != nil {
		t.Fatal(err)
	}
	got := [6]int64{r.SentToday, r.SentMonth, r.BouncedToday, r.BouncedMonth, r.RepliedToday, r.RepliedMonth}
	if want := [6]int64{2, 2, 1, 1, 1, 1}; got != want {
		t.Errorf("sent, bounced, replied today and month: got %v, want %v", got, want)
	}
	if r.OpenedMonth != 1 || r.ClickedMonth != 1 {
		t.Errorf("opened, clicked this month: got %d, %d, want 1, 1", r.OpenedMonth, r.ClickedMonth)
	}
	// Tomorrow, today's counts are yesterday's.
	r, err = ReadRollup(ctx, db.R, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.SentToday != 0 {
		t.Errorf("sent today, tomorrow: got %d, want 0", r.SentToday)
	}
}

// TestRollup_Push: the catalog holds what was pushed, per currency, and a
// second push replaces it.
func TestRollup_Push(t *testing.T) {
	ctx := context.Background()
	cat := &Catalog{mustOpenCatalogFile(t)}
	now := time.Now()
	if err := InsertWorkspace(ctx, cat.W, &Workspace{ID: "w1", Name: "One", Region: "eu", State: StateActive, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	r := &Rollup{Version: 3, Contacts: 10, Open: []Money{{"EUR", 2, 500}, {"USD", 1, 70}}, WonMonth: []Money{{"EUR", 1, 9}},
		SentToday: 4, SentMonth: 5, Day: now.UTC().Format(time.DateOnly), Month: now.UTC().Format("2006-01"), LastActivity: now.Truncate(time.Second)}
	if err := PushRollup(ctx, cat, "w1", r, 1234, now); err != nil {
		t.Fatal(err)
	}
	r.Open = r.Open[:1]
	r.Contacts = 11
	if err := PushRollup(ctx, cat, "w1", r, 1234, now); err != nil {
		t.Fatal(err)
	}
	got, err := WorkspaceRollups(ctx, cat.R, []string{"w1", "w2"})
	if err != nil {
		t.Fatal(err)
	}
	w := got["w1"]
	if len(got) != 1 || w == nil {
		t.Fatalf("got %v", got)
	}
	if w.Contacts != 11 || w.OpenDeals != 2 || w.WonDeals != 1 || w.StorageBytes != 1234 || w.SentMonth != 5 ||
		!reflect.DeepEqual(w.Open, []Money{{"EUR", 2, 500}}) || !reflect.DeepEqual(w.Won, []Money{{"EUR", 1, 9}}) {
		t.Errorf("got %+v", w)
	}
	if w.LastActivity == nil || !w.LastActivity.Equal(r.LastActivity) {
		t.Errorf("last activity %v, want %v", w.LastActivity, r.LastActivity)
	}
}

// TestRollup_SurvivesBulkImport: a bulk CSV import drops and restores the
// search and counting triggers only; the rollup triggers stay, and the
// counts the rollup reads are right after it.
func TestRollup_SurvivesBulkImport(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	triggers := func() []string {
		var names []string
		if err := db.R.SelectContext(ctx, &names, `SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name GLOB '*_rollup_*' ORDER BY name`); err != nil {
			t.Fatal(err)
		}
		return names
	}
	before := triggers()
	if len(before) != 7 {
		t.Fatalf("rollup triggers: %v", before)
	}
	var sb strings.Builder
	sb.WriteString("first_name,email,company\n")
	for i := range 5000 { // large enough for the bulk path
		fmt.Fprintf(&sb, "P%d,p%d@example.com,Company %d\n", i, i, i%10)
	}
	if res, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(sb.String()), ImportOptions{}); err != nil || res.Created != 5000 {
		t.Fatalf("%v %+v", err, res)
	}
	if after := triggers(); !reflect.DeepEqual(after, before) {
		t.Errorf("rollup triggers after the import: %v, want %v", after, before)
	}
	r, err := ReadRollup(ctx, db.R, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Contacts != 5000 || r.Companies != 10 {
		t.Errorf("contacts, companies: %d, %d; want 5000, 10", r.Contacts, r.Companies)
	}
	if r.LastActivity.IsZero() {
		t.Error("the import left no last activity")
	}
}
