package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// Merging Bo into Ana: each field takes the value picked (by default
// Ana's unless empty), Bo's records, tags and timeline move to Ana, Bo is
// gone, and one audit event tells the merge.
func TestContacts_Merge(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	if _, err := CreateCustomField(ctx, db, tester, NewCustomField{Entity: "contact", Label: "Tier", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	ana := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@acme.example"), Stage: ptr("qualified"),
		Tags: &[]string{"vip"}, Custom: map[string]any{"tier": "Gold"}})
	bo := mustContact(t, db, ContactInput{FirstName: ptr("Bo"), LastName: ptr("Berg"), Email: ptr("bo@acme.example"), Phone: ptr("+1 555"),
		Company: ptr("Initech"), Tags: &[]string{"event", "VIP"}, Custom: map[string]any{"tier": "Silver"}})
	note, err := CreateNote(ctx, db, tester, NoteInput{ContactID: bo.ID, Body: "Met at the fair"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := CreateTask(ctx, db, tester, TaskInput{ContactID: &bo.ID, Title: ptr("Call Bo")})
	if err != nil {
		t.Fatal(err)
	}
	deal, err := CreateDeal(ctx, db, tester, DealInput{Title: ptr("Fleet"), ContactID: &bo.ID})
	if err != nil {
		t.Fatal(err)
	}

	m, err := PreviewContactMerge(ctx, db, ana.ID, bo.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	picks := map[string]bool{}
	for _, f := range m.Fields {
		picks[f.Key] = f.TakeOther
	}
	want := map[string]bool{"first_name": false, "last_name": true, "email": false, "phone": true, "company": true, "stage": false, "custom.tier": false}
	if len(picks) != len(want) {
		t.Errorf("fields %v, want %v", picks, want)
	}
	for k, v := range want {
		if got, ok := picks[k]; !ok || got != v {
			t.Errorf("default pick of %s: %v (listed %v), want take other %v", k, got, ok, v)
		}
	}
	if m.Notes != 1 || m.Tasks != 1 || m.Deals != 1 || m.Tags != 1 || m.Refusal != "" {
		t.Errorf("preview %+v", m)
	}

	t.Run("ErrSelfAndOtherWorkspace", func(t *testing.T) {
		if _, err := PreviewContactMerge(ctx, db, ana.ID, ana.ID, nil); ErrorCode(err) != EInvalid {
			t.Errorf("with itself: %v", err)
		}
		other := MustOpenWorkspace(t)
		elsewhere := mustContact(t, other, ContactInput{FirstName: ptr("Cy")})
		if _, err := MergeContacts(ctx, db, tester, ana.ID, elsewhere.ID, nil); ErrorCode(err) != ENotFound {
			t.Errorf("a contact of another workspace: %v", err)
		}
		nameless := mustContact(t, db, ContactInput{Email: ptr("nameless@acme.example")})
		dee := mustContact(t, db, ContactInput{FirstName: ptr("Dee")})
		if _, err := MergeContacts(ctx, db, tester, nameless.ID, dee.ID, map[string]bool{"email": true, "first_name": false}); ErrorCode(err) != EInvalid {
			t.Errorf("keeping no name and no email: %v", err)
		}
		if _, err := GetContact(ctx, db, dee.ID); err != nil {
			t.Errorf("a refused merge deleted Dee: %v", err)
		}
	})

	// Bo's email is taken: the two swap it within the transaction.
	before := time.Now().UTC().Add(-time.Millisecond)
	m, err = MergeContacts(ctx, db, tester, ana.ID, bo.ID, map[string]bool{"email": true, "last_name": true, "custom.tier": true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := GetContact(ctx, db, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstName != "Ana" || got.LastName != "Berg" || got.Email != "bo@acme.example" || got.Phone != "" || got.Company != "" ||
		got.Stage != "qualified" || got.Custom["tier"] != "Silver" || got.Version != ana.Version+1 {
		t.Errorf("merged contact %+v", got)
	}
	if !slices.Equal(got.Tags, []string{"event", "vip"}) {
		t.Errorf("tags %v", got.Tags)
	}
	if _, err := GetContact(ctx, db, bo.ID); ErrorCode(err) != ENotFound {
		t.Errorf("Bo after the merge: %v", err)
	}
	if n, _ := GetNote(ctx, db, note.ID); n == nil || n.ContactID != ana.ID || n.Version != note.Version+1 || !n.UpdatedAt.After(before) {
		t.Errorf("note after the merge: %+v", n)
	}
	if tk, _ := GetTask(ctx, db, task.ID); tk == nil || tk.ContactID != ana.ID {
		t.Errorf("task after the merge: %+v", tk)
	}
	if d, _ := GetDeal(ctx, db, deal.ID); d == nil || d.ContactID != ana.ID || !d.UpdatedAt.After(before) {
		t.Errorf("deal after the merge: %+v", d)
	}
	events, _, err := ListAudit(ctx, db, AuditFilter{Action: "contact.merge"})
	if err != nil || len(events) != 1 || events[0].EntityID != ana.ID {
		t.Fatalf("merge events %+v, %v", events, err)
	}
	items, err := Timeline(ctx, db, KindContact, ana.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := LoadNames(ctx, db, KindContact, nil)
	names.Describe(items)
	var lines []string
	kinds := map[string]int{}
	for _, it := range items {
		lines = append(lines, it.Lines...)
		kinds[it.Kind]++
	}
	if len(lines) == 0 || lines[0] != "Merged Bo Berg <bo@acme.example> into Ana" || !slices.Contains(lines, "Tier changed from Gold to Silver") {
		t.Errorf("timeline lines %q", lines)
	}
	if kinds["created"] != 2 || kinds["note"] != 1 {
		t.Errorf("Ana's timeline lacks Bo's entries: %v", kinds)
	}
	// Bo's own audit trail is now found with Ana's (an erasure finds it).
	var about int
	db.R.GetContext(ctx, &about, `SELECT count(*) FROM audit_log WHERE entity_id = ? AND contact_id = ?`, bo.ID, ana.ID)
	if about == 0 {
		t.Error("Bo's audit events are not linked to Ana")
	}
}

// Enrolments in one sequence: both running is refused; otherwise the one
// further along stays, and the ledger keeps one row per step, so no step
// is sent to the merged contact again; opens move with the rows.
func TestContacts_MergeEnrollments(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t)
	first, second := s.Steps[0], s.Steps[3]
	ana := mustContact(t, f.db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@acme.example")}).ID
	bo := mustContact(t, f.db, ContactInput{FirstName: ptr("Bo"), Email: ptr("bo@acme.example")}).ID
	if _, err := Enroll(ctx, f.db, tester, s.ID, []string{ana, bo}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	ens, _, err := ListEnrollments(ctx, f.db, s.ID, "", "", 10)
	if err != nil || len(ens) != 2 {
		t.Fatal(ens, err)
	}
	byContact := map[string]Enrollment{}
	for _, e := range ens {
		byContact[e.ContactID] = e
	}
	anaEn, boEn := byContact[ana], byContact[bo]
	m, err := PreviewContactMerge(ctx, f.db, ana, bo, nil)
	if err != nil || !strings.Contains(m.Refusal, "both enrolled in the sequence “Launch”") {
		t.Fatalf("both running: refusal %q, %v", m.Refusal, err)
	}
	if _, err := MergeContacts(ctx, f.db, tester, ana, bo, nil); ErrorCode(err) != EConflict {
		t.Fatalf("both running: merge %v", err)
	}

	// Ana got the first step; Bo got both emails and is further along.
	putMessage(t, f.db, anaEn, first, "a", MessageFailed, time.Now())
	putMessage(t, f.db, boEn, first, "a", MessageSent, time.Now())
	putMessage(t, f.db, boEn, second, "a", MessageUnknown, time.Now())
	for _, q := range []string{
		`UPDATE enrollments SET state = 'stopped', stop_reason = 'failed' WHERE id = '` + anaEn.ID + `'`,
		`UPDATE enrollments SET done_position = 3 WHERE id = '` + boEn.ID + `'`,
		`INSERT INTO tracking_events (message_id, kind, prefetch, created_at) VALUES ('m-` + anaEn.ID + `-` + first.ID + `', 'open', 0, datetime())`,
		`INSERT INTO tracking_events (message_id, kind, prefetch, created_at) VALUES ('m-` + boEn.ID + `-` + second.ID + `', 'open', 0, datetime())`,
	} {
		if _, err := f.db.W.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if m, _ := PreviewContactMerge(ctx, f.db, ana, bo, nil); !strings.Contains(m.Refusal, "not known") {
		t.Fatalf("an unsettled email: refusal %q", m.Refusal)
	}
	if _, err := f.db.W.ExecContext(ctx, `UPDATE messages SET state = 'sent' WHERE state = 'unknown'`); err != nil {
		t.Fatal(err)
	}
	m, err = MergeContacts(ctx, f.db, tester, ana, bo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shared) != 1 || !m.Shared[0].KeepOthers || m.Shared[0].Stays.ID != boEn.ID {
		t.Fatalf("shared %+v", m.Shared)
	}
	left, _, _ := ListEnrollments(ctx, f.db, s.ID, "", "", 10)
	if len(left) != 1 || left[0].ID != boEn.ID || left[0].ContactID != ana || left[0].State != EnrollmentActive {
		t.Fatalf("enrolments after the merge: %+v", left)
	}
	var rows []Message
	if err := f.db.R.SelectContext(ctx, &rows, `SELECT * FROM messages ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("ledger %+v", rows)
	}
	for _, r := range rows {
		if r.EnrollmentID != boEn.ID || r.ContactID != ana || r.State != MessageSent {
			t.Errorf("ledger row %+v", r)
		}
	}
	var opens int
	f.db.R.GetContext(ctx, &opens, `SELECT count(*) FROM tracking_events WHERE message_id IN (SELECT id FROM messages)`)
	if opens != 2 {
		t.Errorf("%d opens kept, want 2 (the dropped row's open moves to the kept row of its step)", opens)
	}
	// The sender finds the first step taken: it claims nothing.
	if _, claimed, err := ClaimMessage(ctx, f.db, &Message{ID: newID(), EnrollmentID: boEn.ID, StepID: first.ID, SequenceID: s.ID, ContactID: ana,
		MailboxID: boEn.MailboxID, ToEmail: "bo@acme.example", MessageID: "<x@test>", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil || claimed {
		t.Errorf("the first step could be sent again: claimed %v, %v", claimed, err)
	}
}

// A merge is refused while one contact's enrolment was stopped by a reply
// and the other's still runs: the merged contact would keep being mailed.
func TestContacts_MergeRefusesARepliedAndARunningEnrolment(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	s := f.sequence(t)
	ana := mustContact(t, f.db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@acme.example")}).ID
	bo := mustContact(t, f.db, ContactInput{FirstName: ptr("Bo"), Email: ptr("bo@acme.example")}).ID
	if _, err := Enroll(ctx, f.db, tester, s.ID, []string{ana, bo}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.W.ExecContext(ctx, `UPDATE enrollments SET state = 'stopped', stop_reason = 'replied' WHERE contact_id = ?`, ana); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{ana, bo}, {bo, ana}} {
		m, err := PreviewContactMerge(ctx, f.db, pair[0], pair[1], nil)
		if err != nil || !strings.Contains(m.Refusal, "was stopped (replied)") {
			t.Fatalf("refusal %q, %v", m.Refusal, err)
		}
		if _, err := MergeContacts(ctx, f.db, tester, pair[0], pair[1], nil); ErrorCode(err) != EConflict {
			t.Fatalf("merge: %v", err)
		}
	}
}
