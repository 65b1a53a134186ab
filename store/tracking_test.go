package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// trackedMessage enrolls a contact in a new sequence and records its first
// email as sent at sentAt; it returns the contact and the ledger row.
func trackedMessage(t *testing.T, f *sequenceFixture, sentAt time.Time) (*Contact, *Message) {
	t.Helper()
	ctx := context.Background()
	s := f.sequence(t)
	c := mustContact(t, f.db, ContactInput{FirstName: ptr("Pia"), Email: ptr("pia@example.org")})
	if _, err := SetSequenceState(ctx, f.db, tester, s.ID, SequenceActive); err != nil {
		t.Fatal(err)
	}
	if _, err := Enroll(ctx, f.db, tester, s.ID, []string{c.ID}, nil, sentAt); err != nil {
		t.Fatal(err)
	}
	due, err := DueEnrollments(ctx, f.db, sentAt, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("%+v, %v", due, err)
	}
	m := &Message{ID: NewID(), EnrollmentID: due[0].ID, StepID: s.Steps[0].ID, SequenceID: s.ID, ContactID: c.ID, MailboxID: due[0].MailboxID,
		ToEmail: c.Email, Variant: "a", MessageID: "x@acme.example", CreatedAt: sentAt, UpdatedAt: sentAt}
	if _, claimed, err := ClaimMessage(ctx, f.db, m); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	if err := MessageSentAndAdvance(ctx, f.db, m, s.Steps[0].Position, sentAt, sentAt); err != nil {
		t.Fatal(err)
	}
	return c, m
}

func TestTracking_LinksAndEvents(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	sent := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c, m := trackedMessage(t, f, sent)
	if on, err := SequenceTracking(ctx, f.db, m.SequenceID); err != nil || on {
		t.Fatalf("tracking of a new sequence: %v, %v", on, err)
	}

	// A retry's links replace the first try's.
	if err := SaveMessageLinks(ctx, f.db, m.ID, []string{"https://a.example/old", "https://a.example/older", "https://a.example/oldest"}); err != nil {
		t.Fatal(err)
	}
	if err := SaveMessageLinks(ctx, f.db, m.ID, []string{"https://a.example/x", "https://a.example/y"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"https://a.example/x", "https://a.example/y"} {
		if got, err := MessageLink(ctx, f.db, m.ID, i); err != nil || got != want {
			t.Fatalf("link %d: %q, %v", i, got, err)
		}
	}
	for _, bad := range []struct {
		msg string
		i   int
	}{{m.ID, 2}, {m.ID, -1}, {NewID(), 0}} {
		if _, err := MessageLink(ctx, f.db, bad.msg, bad.i); ErrorCode(err) != ENotFound {
			t.Fatalf("link %d of %s: %v", bad.i, bad.msg, err)
		}
	}

	long := "Mozilla/5.0 \x00\n" + strings.Repeat("é", 300)
	evs := []TrackingEvent{
		{MessageID: m.ID, Kind: TrackOpen, UserAgent: "scanner", At: sent.Add(2 * time.Second)},         // too soon: prefetch
		{MessageID: m.ID, Kind: TrackOpen, UserAgent: long, At: sent.Add(time.Hour)},                    // a reader
		{MessageID: m.ID, Kind: TrackOpen, Prefetch: true, UserAgent: "proxy", At: sent.Add(time.Hour)}, // a proxy
		{MessageID: m.ID, Kind: TrackClick, LinkIndex: 1, URL: "https://a.example/y", At: sent.Add(time.Hour)},
		{MessageID: NewID(), Kind: TrackOpen, At: sent.Add(time.Hour)}, // no such message: left out
	}
	n, err := RecordTrackingEvents(ctx, f.db, evs, 10*time.Second)
	if err != nil || n != 4 {
		t.Fatalf("wrote %d, %v", n, err)
	}
	var rows []struct {
		Kind      string `db:"kind"`
		LinkIndex *int   `db:"link_index"`
		Prefetch  bool   `db:"prefetch"`
		UserAgent string `db:"user_agent"`
	}
	if err := f.db.R.Select(&rows, `SELECT kind, link_index, prefetch, user_agent FROM tracking_events ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || !rows[0].Prefetch || rows[1].Prefetch || !rows[2].Prefetch || rows[3].Prefetch || rows[3].Kind != TrackClick ||
		rows[3].LinkIndex == nil || *rows[3].LinkIndex != 1 || rows[0].LinkIndex != nil {
		t.Fatalf("rows %+v", rows)
	}
	if ua := rows[1].UserAgent; len([]rune(ua)) != maxTrackedUserAgent || strings.ContainsAny(ua, "\x00\n") {
		t.Fatalf("the user agent kept: %q", ua)
	}

	// An erasure of the contact takes their links and events with the
	// message.
	if err := EraseContact(ctx, f.db, tester, c.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"message_links", "tracking_events"} {
		var left int
		if err := f.db.R.Get(&left, `SELECT count(*) FROM `+table); err != nil || left != 0 {
			t.Fatalf("%s after the erasure: %d, %v", table, left, err)
		}
	}
}

// An export carries the links and the events, and its file passes the
// import's row checks; a link that is not http(s) in an imported file is
// refused.
func TestTracking_ExportAndImport(t *testing.T) {
	ctx := context.Background()
	f := newSequenceFixture(t)
	sent := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	_, m := trackedMessage(t, f, sent)
	if err := SaveMessageLinks(ctx, f.db, m.ID, []string{"https://a.example/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := RecordTrackingEvents(ctx, f.db, []TrackingEvent{{MessageID: m.ID, Kind: TrackOpen, UserAgent: "Thunderbird", At: sent.Add(time.Hour)},
		{MessageID: m.ID, Kind: TrackClick, URL: "https://a.example/x", At: sent.Add(time.Hour)}}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "export.zip")
	out, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExportWorkspace(ctx, f.db, ExportMeta{ID: "w", Name: "W"}, t.TempDir(), out, nil); err != nil {
		t.Fatal(err)
	}
	out.Close()
	p, manifest, err := ExtractArchive(archive, t.TempDir())
	if err != nil || manifest.Counts["message_links"] != 1 || manifest.Counts["tracking_events"] != 2 {
		t.Fatalf("extract: %v, counts %v", err, manifest.Counts)
	}
	if err := ValidateImport(ctx, p); err != nil {
		t.Fatal(err)
	}
	db, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`UPDATE message_links SET url = 'javascript:alert(1)'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := ValidateImport(ctx, p); err == nil || !strings.Contains(err.Error(), "message_links") {
		t.Fatalf("a javascript: link came in: %v", err)
	}
}
