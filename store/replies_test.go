package store

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Migration 0010 rebuilds the ledger to admit 'bounced': a file of
// version 9 keeps every row, every index and its foreign keys, and the
// new state is allowed only after.
func TestMigration0010_RebuildsTheLedger(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "ws.db"), OpenOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrateTo(ctx, db, WorkspaceSchema, 9); err != nil {
		t.Fatal(err)
	}
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@client.example")})
	now := time.Now().UTC()
	for _, stmt := range []string{
		`INSERT INTO mailboxes (id, name, from_email, smtp_host, smtp_port, tls_mode, ramp_start, created_at, updated_at)
			VALUES ('0192f1d2-0000-7000-8000-000000000001', 'Sales', 'a@x.example', 'smtp.x.example', 587, 'starttls', ?1, ?1, ?1)`,
		`INSERT INTO sequences (id, name, state, created_at, updated_at) VALUES ('0192f1d2-0000-7000-8000-000000000002', 'Launch', 'active', ?1, ?1)`,
		`INSERT INTO enrollments (id, sequence_id, contact_id, mailbox_id, next_at, created_at, updated_at)
			VALUES ('0192f1d2-0000-7000-8000-000000000003', '0192f1d2-0000-7000-8000-000000000002', ?2,
			'0192f1d2-0000-7000-8000-000000000001', 0, ?1, ?1)`,
		`INSERT INTO messages (id, enrollment_id, step_id, sequence_id, contact_id, mailbox_id, to_email, message_id, state, created_at, updated_at, sent_at)
			VALUES ('0192f1d2-0000-7000-8000-000000000004', '0192f1d2-0000-7000-8000-000000000003', 's1', '0192f1d2-0000-7000-8000-000000000002',
			?2, '0192f1d2-0000-7000-8000-000000000001', 'ana@client.example', 'm1@x.example', 'sent', ?1, ?1, ?1),
			('0192f1d2-0000-7000-8000-000000000005', '0192f1d2-0000-7000-8000-000000000003', 's2', '0192f1d2-0000-7000-8000-000000000002',
			?2, '0192f1d2-0000-7000-8000-000000000001', 'ana@client.example', 'm2@x.example', 'unknown', ?1, ?1, NULL)`,
	} {
		if _, err := db.W.Exec(stmt, now, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.W.Exec(`UPDATE messages SET state = 'bounced' WHERE message_id = 'm1@x.example'`); err == nil {
		t.Fatal("version 9 took the state bounced")
	}
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Seq   int64  `db:"seq"`
		State string `db:"state"`
	}
	if err := db.R.Select(&rows, `SELECT seq, state FROM messages ORDER BY seq`); err != nil || len(rows) != 2 || rows[0].State != "sent" || rows[1].State != "unknown" {
		t.Fatalf("after the migration: %+v, %v", rows, err)
	}
	if _, err := db.W.Exec(`UPDATE messages SET state = 'bounced' WHERE message_id = 'm1@x.example'`); err != nil {
		t.Fatalf("the state bounced: %v", err)
	}
	// The table and its indexes are those of a file made at the latest
	// version.
	schemaOf := func(db *DB) string {
		var objs []string
		if err := db.R.Select(&objs, `SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema WHERE tbl_name = 'messages' ORDER BY name`); err != nil {
			t.Fatal(err)
		}
		return strings.Join(objs, "\n")
	}
	if got, want := schemaOf(db), schemaOf(MustOpenWorkspace(t)); got != want || strings.Count(got, "CREATE INDEX") != 4 {
		t.Errorf("the ledger's schema after the migration:\n%s\nwant, with 4 indexes:\n%s", got, want)
	}
	var problems []string
	if err := db.R.Select(&problems, `SELECT "table" FROM pragma_foreign_key_check`); err != nil || len(problems) > 0 {
		t.Fatalf("foreign keys: %v, %v", problems, err)
	}
	// Deleting the contact still takes its ledger with it.
	if _, err := db.W.Exec(`DELETE FROM contacts WHERE id = ?`, c.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.R.Get(&n, `SELECT count(*) FROM messages`); err != nil || n != 0 {
		t.Fatalf("%d messages left after their contact (%v)", n, err)
	}
}

func TestBounceThreshold(t *testing.T) {
	for _, tc := range []struct {
		bounced, sends int
		over           bool
	}{
		{0, 0, false},
		{19, 19, false}, // too few sends to judge
		{2, 20, true},
		{1, 20, false}, // 5 % exactly does not pass
		{5, 100, false},
		{6, 100, true},
		{7, 100, true},
	} {
		if got := overThreshold(tc.bounced, tc.sends); got != tc.over {
			t.Errorf("%d of %d: over %v, want %v", tc.bounced, tc.sends, got, tc.over)
		}
	}
	if got := BounceProtectionReason(7, 100); got != "bounce protection: 7 of the last 100 sends bounced" {
		t.Errorf("reason %q", got)
	}
}

// The IMAP password is sealed, never exported, and forgotten by a restore
// as new like the SMTP one.
func TestMailboxes_IMAPPasswordIsASecret(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	in := validMailbox()
	in.IMAPHost, in.IMAPUsername, in.IMAPPassword = ptr("imap.example.com"), ptr("ana"), ptr("imap-s3cret")
	m := mustMailbox(t, db, in)
	if !m.IMAPPasswordSet || m.IMAPPassword != "sealed("+MailboxIMAPPasswordPurpose(m.ID)+",imap-s3cret)" || m.IMAPPort != 993 ||
		m.IMAPTLS != TLSImplicit || m.IMAPFolder != "INBOX" {
		t.Fatalf("%+v", m.MailboxIMAP)
	}
	// Another password keeps the folder's mark; another folder drops it.
	if _, err := db.W.Exec(`UPDATE mailboxes SET imap_uidvalidity = 7, imap_last_uid = 42`); err != nil {
		t.Fatal(err)
	}
	m, err := UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{IMAPPassword: ptr("other")}, testSeal)
	if err != nil || m.IMAPUIDValidity != 7 || m.IMAPLastUID != 42 {
		t.Fatalf("a new password moved the mark: %+v, %v", m.MailboxIMAP, err)
	}
	m, err = UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{IMAPFolder: ptr("Replies")}, testSeal)
	if err != nil || m.IMAPUIDValidity != 0 || m.IMAPLastUID != 0 {
		t.Fatalf("another folder kept the mark: %+v, %v", m.MailboxIMAP, err)
	}
	var buf bytes.Buffer
	if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w", Name: "W"}, t.TempDir(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte("sealed(mailbox:")) {
			t.Errorf("%s holds a sealed password", f.Name)
		}
	}
	if err := ForgetSealedSecrets(ctx, db); err != nil {
		t.Fatal(err)
	}
	if got, err := GetMailbox(ctx, db, m.ID); err != nil || got.IMAPPasswordSet || got.PasswordSet {
		t.Fatalf("after forgetting: %+v, %v", got.MailboxIMAP, err)
	}
}
