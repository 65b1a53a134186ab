package store

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// testSeal stands in for the workspace service's sealing.
func testSeal(purpose, secret string) (string, error) {
	return "sealed(" + purpose + "," + secret + ")", nil
}

func mustMailbox(tb testing.TB, db *DB, in MailboxInput) *Mailbox {
	tb.Helper()
	m, err := CreateMailbox(context.Background(), db, tester, in, testSeal)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func validMailbox() MailboxInput {
	return MailboxInput{Name: ptr("Sales"), FromName: ptr("Ana"), FromEmail: ptr("ana@example.com"), SMTPHost: ptr("smtp.example.com"),
		Username: ptr("ana"), Password: ptr("s3cret")}
}

func TestMailboxes_CreateAndDefaults(t *testing.T) {
	db := MustOpenWorkspace(t)
	m := mustMailbox(t, db, validMailbox())
	if m.TLSMode != TLSStartTLS || m.SMTPPort != 587 || m.DailyLimit != 30 || m.GapMin != 90 || m.GapMax != 180 ||
		m.WindowStart != "09:00" || m.WindowEnd != "17:00" || m.WindowDays.String() != "1,2,3,4,5" || m.TimeZone != "UTC" ||
		m.State != MailboxActive || !m.PasswordSet || m.Password != "sealed("+MailboxPasswordPurpose(m.ID)+",s3cret)" {
		t.Fatalf("%+v", m)
	}
	tls := validMailbox()
	tls.TLSMode = ptr("tls")
	if m := mustMailbox(t, db, tls); m.SMTPPort != 465 {
		t.Fatalf("implicit TLS port %d", m.SMTPPort)
	}
	// The audit log records that a password was set, never the password.
	events, _, err := ListAudit(context.Background(), db, AuditFilter{Limit: 10})
	if err != nil || len(events) == 0 {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.Contains(e.Changes, "s3cret") {
			t.Fatalf("the audit log holds the password: %s", e.Changes)
		}
	}
}

func TestMailboxes_Validation(t *testing.T) {
	db := MustOpenWorkspace(t)
	cases := []struct {
		name  string
		edit  func(*MailboxInput)
		field string
	}{
		{"no name", func(in *MailboxInput) { in.Name = ptr(" ") }, "name"},
		{"header injection in the name", func(in *MailboxInput) { in.FromName = ptr("Ana\r\nBcc: x@evil.example") }, "from_name"},
		{"bad from", func(in *MailboxInput) { in.FromEmail = ptr("ana at example") }, "from_email"},
		{"from with a display name", func(in *MailboxInput) { in.FromEmail = ptr("Ana <ana@example.com>") }, "from_email"},
		{"bad reply-to", func(in *MailboxInput) { in.ReplyTo = ptr("nope") }, "reply_to"},
		{"bad host", func(in *MailboxInput) { in.SMTPHost = ptr("smtp example.com") }, "smtp_host"},
		{"bad tls mode", func(in *MailboxInput) { in.TLSMode = ptr("ssl3") }, "tls_mode"},
		{"no TLS to a remote host", func(in *MailboxInput) { in.TLSMode = ptr("none") }, "tls_mode"},
		{"port 0", func(in *MailboxInput) { in.SMTPPort = ptr(0) }, "smtp_port"},
		{"daily limit 0", func(in *MailboxInput) { in.DailyLimit = ptr(0) }, "daily_limit"},
		{"gap max below min", func(in *MailboxInput) { in.GapMin, in.GapMax = ptr(100), ptr(50) }, "gap_max_seconds"},
		{"bad window time", func(in *MailboxInput) { in.WindowStart = ptr("9am") }, "window_start"},
		{"window ends before it starts", func(in *MailboxInput) { in.WindowStart, in.WindowEnd = ptr("18:00"), ptr("08:00") }, "window_end"},
		{"no days", func(in *MailboxInput) { in.WindowDays = &Weekdays{} }, "window_days"},
		{"day 8", func(in *MailboxInput) { in.WindowDays = &Weekdays{1, 8} }, "window_days"},
		{"bad zone", func(in *MailboxInput) { in.TimeZone = ptr("Mars/Olympus") }, "time_zone"},
		{"ramp above limit", func(in *MailboxInput) { in.RampPerDay = ptr(31) }, "ramp_per_day"},
		{"bad state", func(in *MailboxInput) { in.State = ptr("asleep") }, "state"},
		{"multi-line password", func(in *MailboxInput) { in.Password = ptr("a\nb") }, "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validMailbox()
			tc.edit(&in)
			_, err := CreateMailbox(context.Background(), db, tester, in, testSeal)
			if ErrorCode(err) != EValidation || ErrorField(err) != tc.field {
				t.Fatalf("got %v (field %q), want a validation error on %s", err, ErrorField(err), tc.field)
			}
		})
	}
	local := validMailbox()
	local.SMTPHost, local.TLSMode = ptr("127.0.0.1"), ptr("none")
	if m := mustMailbox(t, db, local); m.SMTPPort != 25 {
		t.Fatalf("no TLS on loopback: port %d", m.SMTPPort)
	}
}

func TestMailboxes_UpdateKeepsPasswordAndRestartsRamp(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	in := validMailbox()
	in.RampPerDay = ptr(5)
	m := mustMailbox(t, db, in)
	paused, err := UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{State: ptr("paused"), Password: ptr("")}, testSeal)
	if err != nil || paused.Password != m.Password || paused.State != MailboxPaused {
		t.Fatalf("%+v, %v", paused, err)
	}
	resumed, err := UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{State: ptr("active")}, testSeal)
	if err != nil || !resumed.RampStart.After(m.RampStart) {
		t.Fatalf("resuming did not restart the ramp: %v → %v, %v", m.RampStart, resumed.RampStart, err)
	}
	changed, err := UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{Password: ptr("new")}, testSeal)
	if err != nil || changed.Password != "sealed("+MailboxPasswordPurpose(m.ID)+",new)" {
		t.Fatalf("%+v, %v", changed, err)
	}
	if err := RecordMailboxHealth(ctx, db, m.ID, "535 authentication failed", resumed.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	RecordMailboxHealth(ctx, db, m.ID, "535 authentication failed", resumed.UpdatedAt)
	if got, _ := GetMailbox(ctx, db, m.ID); got.Failures != 2 || got.LastError == "" {
		t.Fatalf("health %+v", got)
	}
	RecordMailboxHealth(ctx, db, m.ID, "", resumed.UpdatedAt)
	if got, _ := GetMailbox(ctx, db, m.ID); got.Failures != 0 || got.LastError != "" || !got.LastCheckedAt.Valid {
		t.Fatalf("health after a success %+v", got)
	}
	if err := DeleteMailbox(ctx, db, tester, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := GetMailbox(ctx, db, m.ID); ErrorCode(err) != ENotFound {
		t.Fatalf("after delete: %v", err)
	}
}

// An export carries the mailboxes' settings, never their sealed passwords
// (they open with this workspace's key only).
func TestMailboxes_ExportLeavesPasswordsOut(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	m := mustMailbox(t, db, validMailbox())
	var buf bytes.Buffer
	if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w", Name: "W"}, t.TempDir(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	sawMailbox := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte(m.Password)) {
			t.Errorf("%s holds the sealed password", f.Name)
		}
		if f.Name == "data/mailboxes.json" && bytes.Contains(b, []byte("smtp.example.com")) {
			sawMailbox = true
		}
	}
	if !sawMailbox {
		t.Error("the export does not carry the mailbox's settings")
	}
}
