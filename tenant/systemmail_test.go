package tenant

import (
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atrium/outreach/smtptest"
	"atrium/store"
)

func TestLoadConfig_Mail(t *testing.T) {
	load := func(t *testing.T, yaml string) (*Config, error) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "atrium.yml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return LoadConfig(path, t.TempDir())
	}
	t.Run("OK", func(t *testing.T) {
		t.Setenv("TEST_SMTP_PASSWORD", "s3cret")
		for _, tc := range []struct {
			smtp     string
			mode     string
			port     int
			user, pw string
		}{
			{"smtp://mailer:${TEST_SMTP_PASSWORD}@smtp.example.com:2525", store.TLSStartTLS, 2525, "mailer", "s3cret"},
			{"smtp://smtp.example.com", store.TLSStartTLS, 587, "", ""},
			{"smtps://mailer:pw@smtp.example.com", store.TLSImplicit, 465, "mailer", "pw"},
			{"smtp://127.0.0.1?tls=none", store.TLSNone, 25, "", ""},
		} {
			cfg, err := load(t, "mail:\n  smtp: "+tc.smtp+"\n  from: \"Atrium <no-reply@example.com>\"\n")
			if err != nil {
				t.Fatalf("%s: %v", tc.smtp, err)
			}
			s := cfg.Mail.server
			if s.TLSMode != tc.mode || s.Port != tc.port || s.Username != tc.user || s.Password != tc.pw || s.Host == "" ||
				cfg.Mail.from != (mail.Address{Name: "Atrium", Address: "no-reply@example.com"}) {
				t.Errorf("%s: %+v from %+v", tc.smtp, s, cfg.Mail.from)
			}
		}
	})
	t.Run("NoMail", func(t *testing.T) {
		cfg, err := load(t, "deletion-grace: 24h\n")
		if err != nil || cfg.Mail != nil {
			t.Fatalf("%+v, %v", cfg.Mail, err)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for yaml, want := range map[string]string{
			"mail:\n  smtp: http://smtp.example.com\n  from: a@example.com\n":          "must start with smtp://",
			"mail:\n  smtp: smtp://smtp.example.com?tls=none\n  from: a@example.com\n": "only for a server on this machine",
			"mail:\n  smtp: smtp://smtp.example.com:99999\n  from: a@example.com\n":    "not a port number",
			"mail:\n  smtp: smtp://u:hidden-pw@smtp.example.com\n  from: nobody\n":     "from \"nobody\" is not an address",
			"mail:\n  from: a@example.com\n":                                           "is not a URL",
			"mail:\n  smtp: smtps://u:hidden-pw@/\n  from: a@example.com\n":            "is not a URL",
		} {
			_, err := load(t, yaml)
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hidden-pw") {
				t.Errorf("%q: %v, want an error saying %q without the password", yaml, err, want)
			}
		}
	})
}

// The instance's own mail goes through the configured server, with a login
// over STARTTLS.
func TestSendSystemMail(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	cfg := &Config{Mail: &MailConfig{SMTP: "smtp://" + srv.Username + ":" + srv.Password + "@" + srv.Addr(), From: "Atrium <no-reply@example.com>"}}
	m, err := Open(t.Context(), Options{DataDir: t.TempDir(), Config: cfg, SMTPTLS: srv.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.SystemMail() {
		t.Fatal("SystemMail is false with a mail server configured")
	}
	if err := m.SendSystemMail(t.Context(), mail.Address{Name: "Ana", Address: "ana@example.org"}, "Hello", "Body text\n"); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].From != "no-reply@example.com" || msgs[0].To[0] != "ana@example.org" || !strings.Contains(string(msgs[0].Data), "Subject: Hello") {
		t.Fatalf("%+v", msgs)
	}
	none, err := Open(t.Context(), Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if none.SystemMail() || none.SendSystemMail(t.Context(), mail.Address{Address: "a@example.org"}, "x", "y") != ErrNoSystemMail {
		t.Error("an instance without mail: says it can send")
	}
}
