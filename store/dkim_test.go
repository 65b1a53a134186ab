package store

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"strings"
	"testing"
)

func rsaPEM(tb testing.TB, bits int) string {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestMailboxes_DKIM(t *testing.T) {
	ctx := context.Background()
	t.Run("Generate", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		for _, kind := range []string{DKIMEd25519, DKIMRSA} {
			in := validMailbox()
			in.DKIMGenerate = ptr(kind)
			m := mustMailbox(t, db, in)
			if !m.DKIMSet || m.DKIMSelector != DefaultDKIMSelector || !strings.HasPrefix(m.DKIMRecord, "v=DKIM1; k="+kind+"; p=") {
				t.Fatalf("%s: %+v", kind, m)
			}
			if !strings.HasPrefix(m.DKIMKey, "sealed("+MailboxDKIMPurpose(m.ID)+",-----BEGIN PRIVATE KEY-----") {
				t.Fatalf("%s: the key is not sealed for its purpose: %.60s", kind, m.DKIMKey)
			}
			if got := m.DKIMRecordName(); got != "atrium._domainkey.example.com" {
				t.Errorf("record name %q", got)
			}
		}
	})
	t.Run("PastedKeyKeptAndRemoved", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		key := rsaPEM(t, 2048)
		in := validMailbox()
		in.DKIMSelector, in.DKIMKey = ptr(" S2026 "), ptr(key)
		m := mustMailbox(t, db, in)
		if m.DKIMSelector != "s2026" || !m.DKIMSet || !strings.Contains(m.DKIMRecord, "k=rsa") {
			t.Fatalf("%+v", m)
		}
		// An empty key keeps the one set.
		kept, err := UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{DKIMKey: ptr(""), Name: ptr("Renamed")}, testSeal)
		if err != nil || kept.DKIMKey != m.DKIMKey || kept.DKIMRecord != m.DKIMRecord {
			t.Fatalf("%+v, %v", kept, err)
		}
		// An empty selector turns signing off and forgets the key.
		off, err := UpdateMailbox(ctx, db, tester, m.ID, MailboxInput{DKIMSelector: ptr("")}, testSeal)
		if err != nil || off.DKIMSet || off.DKIMKey != "" || off.DKIMRecord != "" {
			t.Fatalf("%+v, %v", off, err)
		}
		events, _, err := ListAudit(ctx, db, AuditFilter{Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Split(strings.TrimSpace(key), "\n")[1]
		sawChange := false
		for _, e := range events {
			if strings.Contains(e.Changes, body[:40]) || strings.Contains(e.Changes, "sealed(") {
				t.Fatalf("the audit log holds the key: %s", e.Changes)
			}
			sawChange = sawChange || strings.Contains(e.Changes, "dkim_private_key")
		}
		if !sawChange {
			t.Error("the audit log does not say the key changed")
		}
	})
	t.Run("Validation", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		cases := []struct {
			name, field, msg string
			edit             func(*MailboxInput)
		}{
			{"not PEM", "dkim_private_key", "PEM", func(in *MailboxInput) { in.DKIMSelector, in.DKIMKey = ptr("s1"), ptr("hello") }},
			{"broken PEM", "dkim_private_key", "cannot be read", func(in *MailboxInput) {
				in.DKIMSelector, in.DKIMKey = ptr("s1"), ptr("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
			}},
			{"a certificate", "dkim_private_key", "CERTIFICATE", func(in *MailboxInput) {
				in.DKIMSelector, in.DKIMKey = ptr("s1"), ptr("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
			}},
			{"RSA 1024", "dkim_private_key", "1024 bits", func(in *MailboxInput) { in.DKIMSelector, in.DKIMKey = ptr("s1"), ptr(rsaPEM(t, 1024)) }},
			{"key without selector", "dkim_selector", "selector", func(in *MailboxInput) { in.DKIMKey = ptr(rsaPEM(t, 2048)) }},
			{"selector without key", "dkim_private_key", "generate", func(in *MailboxInput) { in.DKIMSelector = ptr("s1") }},
			{"bad selector", "dkim_selector", "DNS name", func(in *MailboxInput) { in.DKIMSelector, in.DKIMGenerate = ptr("a b"), ptr(DKIMEd25519) }},
			{"unknown kind", "dkim_generate", "ed25519", func(in *MailboxInput) { in.DKIMGenerate = ptr("dsa") }},
		}
		for _, c := range cases {
			in := validMailbox()
			c.edit(&in)
			_, err := CreateMailbox(ctx, db, tester, in, testSeal)
			if ErrorField(err) != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: got %v (field %q), want a %s error saying %q", c.name, err, ErrorField(err), c.field, c.msg)
			}
		}
	})
	// Exports and restores as new forget the key with the password: both
	// were sealed with this workspace's key.
	t.Run("ExportAndForget", func(t *testing.T) {
		db := MustOpenWorkspace(t)
		in := validMailbox()
		in.DKIMGenerate = ptr(DKIMEd25519)
		m := mustMailbox(t, db, in)
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
			if bytes.Contains(b, []byte(m.DKIMKey[:40])) || bytes.Contains(b, []byte("PRIVATE KEY")) {
				t.Errorf("%s holds the DKIM key", f.Name)
			}
		}
		if err := ForgetSealedSecrets(ctx, db); err != nil {
			t.Fatal(err)
		}
		got, err := GetMailbox(ctx, db, m.ID)
		if err != nil || got.DKIMSet || got.DKIMRecord != "" || got.DKIMSelector != DefaultDKIMSelector {
			t.Fatalf("after forgetting: %+v, %v", got, err)
		}
	})
}
