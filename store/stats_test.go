package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// putMessage writes a ledger row as the sender leaves it.
func putMessage(t *testing.T, db *DB, e Enrollment, step Step, variant, state string, sentAt time.Time) {
	t.Helper()
	id := fmt.Sprintf("m-%s-%s", e.ID, step.ID)
	_, err := db.W.ExecContext(context.Background(), `INSERT INTO messages (id, enrollment_id, step_id, sequence_id, contact_id, mailbox_id, to_email,
		variant, message_id, state, created_at, updated_at, sent_at)
		SELECT ?, e.id, ?, e.sequence_id, e.contact_id, e.mailbox_id, c.email, ?, ?, ?, ?, ?, ? FROM enrollments e JOIN contacts c ON c.id = e.contact_id
		WHERE e.id = ?`, id, step.ID, variant, "<"+id+"@test>", state, sentAt, sentAt, sentAt, e.ID)
	if err != nil {
		t.Fatal(err)
	}
}

func TestSequenceOutcomes(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t) // email (A/B), wait, task, email
	first, second := s.Steps[0], s.Steps[3]
	var emails []string
	var ids []string
	for i := range 4 {
		email := fmt.Sprintf("p%d@example.com", i)
		emails = append(emails, email)
		ids = append(ids, mustContact(t, f.db, ContactInput{FirstName: ptr("P"), Email: ptr(email)}).ID)
	}
	if _, err := Enroll(ctx, f.db, tester, s.ID, ids, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	ens, _, err := ListEnrollments(ctx, f.db, s.ID, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	putMessage(t, f.db, ens[0], first, "a", MessageSent, day1)
	putMessage(t, f.db, ens[1], first, "b", MessageSent, day1)
	putMessage(t, f.db, ens[2], first, "a", MessageBounced, day1)
	putMessage(t, f.db, ens[3], first, "b", MessageSent, day1.AddDate(0, -2, 0)) // before the period
	putMessage(t, f.db, ens[0], second, "a", MessageSent, day2)
	putMessage(t, f.db, ens[1], second, "b", MessageFailed, day2) // never sent
	// ens[0] opens, clicks and answers the first email; ens[1]'s open is a
	// mail proxy's and its answer an out-of-office: neither counts.
	for _, q := range []string{
		`INSERT INTO tracking_events (message_id, kind, prefetch, created_at) VALUES ('m-` + ens[0].ID + `-` + first.ID + `', 'open', 0, '2026-11-02 11:00:00')`,
		`INSERT INTO tracking_events (message_id, kind, prefetch, created_at) VALUES ('m-` + ens[0].ID + `-` + first.ID + `', 'open', 0, '2026-11-02 12:00:00')`,
		`INSERT INTO tracking_events (message_id, kind, link_index, prefetch, created_at) VALUES ('m-` + ens[0].ID + `-` + first.ID + `', 'click', 0, 0, '2026-11-02 11:00:00')`,
		`INSERT INTO tracking_events (message_id, kind, prefetch, created_at) VALUES ('m-` + ens[1].ID + `-` + first.ID + `', 'open', 1, '2026-11-02 10:00:01')`,
	} {
		if _, err := f.db.W.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for i, kind := range []string{ReplyPerson, ReplyAuto} {
		e := ens[i]
		if _, err := f.db.W.ExecContext(ctx, `INSERT INTO replies (id, mailbox_id, message_id, contact_id, sequence_id, step_id, kind, from_email,
			received_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'x@example.com', ?, ?, ?)`, newID(), e.MailboxID,
			"m-"+e.ID+"-"+first.ID, e.ContactID, s.ID, first.ID, kind, day2, day2, day2); err != nil {
			t.Fatal(err)
		}
	}
	// ens[1]'s person unsubscribes after the first email: it counts there.
	if _, err := Unsubscribe(ctx, f.db, tester, ens[1].ContactID, emails[1]); err != nil {
		t.Fatal(err)
	}

	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	out, err := SequenceOutcomesOf(ctx, f.db, s, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Outcomes{Sent: 4, Delivered: 3, Opened: 1, Clicked: 1, Replied: 1, Bounced: 1, Unsubscribed: 1}); out.Total != want {
		t.Errorf("total = %+v, want %+v", out.Total, want)
	}
	if out.Rates.Bounce != 0.25 || out.Rates.Unsubscribe != 1.0/3 || out.Rates.Reply != 1.0/3 || out.Rates.Open != 1.0/3 {
		t.Errorf("rates = %+v", out.Rates)
	}
	if len(out.Steps) != 2 || out.Steps[0].Position != 1 || out.Steps[0].Sent != 3 || out.Steps[1].Position != 2 || out.Steps[1].Sent != 1 {
		t.Errorf("steps = %+v", out.Steps)
	}
	if out.Steps[0].Unsubscribed != 1 || out.Steps[1].Unsubscribed != 0 {
		t.Errorf("the unsubscribe is not on the last email before it: %+v", out.Steps)
	}
	variants := map[string]Outcomes{}
	for _, v := range out.Variants {
		variants[v.Variant] = v.Outcomes
	}
	if variants["a"].Sent != 2 || variants["a"].Bounced != 1 || variants["a"].Replied != 1 || variants["b"].Sent != 1 || len(out.Variants) != 2 {
		t.Errorf("variants = %+v (only the A/B step has them)", out.Variants)
	}
	if len(out.Days) != 4 || out.Days[1].Day != "2026-11-02" || out.Days[1].Sent != 3 || out.Days[2].Sent != 1 || out.Days[0].Sent != 0 ||
		out.Days[2].Replied != 1 || out.Days[1].Replied != 0 {
		t.Errorf("days = %+v", out.Days)
	}
	// Enrollments count in the period they were made in: today.
	if out.Total.Enrolled != 0 {
		t.Errorf("enrolled in November 2026 = %d, want 0", out.Total.Enrolled)
	}
	now, _ := SequenceOutcomesOf(ctx, f.db, s, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if now.Total.Enrolled != 4 || now.Total.Sent != 0 {
		t.Errorf("this hour: %+v", now.Total)
	}
}
