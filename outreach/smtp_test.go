package outreach

import (
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"atrium/outreach/smtptest"
	"atrium/store"
)

func serverOf(ts *smtptest.Server, mode string) Server {
	return Server{Host: ts.Host, Port: ts.Port, TLSMode: mode, Username: ts.Username, Password: ts.Password, TLS: ts.ClientTLS}
}

func testMailbox() *store.Mailbox {
	return &store.Mailbox{Name: "Sales", FromName: "Ana Nuñez", FromEmail: "ana@example.com", ReplyTo: "replies@example.com"}
}

func TestSendTest_EachTLSMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		mode string
		opts smtptest.Options
	}{
		{store.TLSStartTLS, smtptest.Options{}},
		{store.TLSImplicit, smtptest.Options{ImplicitTLS: true}},
		{store.TLSNone, smtptest.Options{NoTLS: true}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ts := smtptest.NewServer(t, tc.opts)
			if err := SendTest(ctx, serverOf(ts, tc.mode), testMailbox(), "client@example.org", nil); err != nil {
				t.Fatal(err)
			}
			msgs := ts.Messages()
			if len(msgs) != 1 || msgs[0].From != "ana@example.com" || msgs[0].To[0] != "client@example.org" {
				t.Fatalf("%+v", msgs)
			}
			parsed, err := mail.ReadMessage(strings.NewReader(string(msgs[0].Data)))
			if err != nil {
				t.Fatal(err)
			}
			from, err := parsed.Header.AddressList("From")
			if err != nil || from[0].Name != "Ana Nuñez" || parsed.Header.Get("Reply-To") != "replies@example.com" ||
				!strings.HasPrefix(parsed.Header.Get("Message-ID"), "<") || parsed.Header.Get("Date") == "" {
				t.Fatalf("header %v, %v", parsed.Header, err)
			}
		})
	}
}

// The connection check says what the server said.
func TestCheck_ShowsTheServersWords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts := smtptest.NewServer(t, smtptest.Options{})
	if err := Check(ctx, serverOf(ts, store.TLSStartTLS)); err != nil {
		t.Fatal(err)
	}
	wrong := serverOf(ts, store.TLSStartTLS)
	wrong.Password = "nope"
	err := Check(ctx, wrong)
	if err == nil || !strings.Contains(err.Error(), "refused the login") || !strings.Contains(err.Error(), "Authentication credentials invalid") {
		t.Fatalf("wrong password: %v", err)
	}
	// Without the test authority, the certificate is not trusted.
	untrusted := serverOf(ts, store.TLSStartTLS)
	untrusted.TLS = nil
	if err := Check(ctx, untrusted); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	// A server that refuses the recipient: its words reach the user.
	ts.Reject(func(stage, value string) error {
		if stage == "rcpt" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
		}
		return nil
	})
	if err := SendTest(ctx, serverOf(ts, store.TLSStartTLS), testMailbox(), "ghost@example.org", nil); err == nil || !strings.Contains(err.Error(), "No such user here") {
		t.Fatalf("refused recipient: %v", err)
	}
	closed := serverOf(ts, store.TLSStartTLS)
	closed.Port = 1
	if err := Check(ctx, closed); err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("closed port: %v", err)
	}
	remote := serverOf(ts, store.TLSNone)
	remote.Host = "192.0.2.1"
	if err := Check(ctx, remote); err == nil {
		t.Fatal("a plain-text connection to another machine was made")
	}
}

func TestMessage_RefusesHeaderInjection(t *testing.T) {
	m := &Message{From: mail.Address{Address: "a@example.com"}, To: mail.Address{Address: "b@example.com"}, Subject: "Hi\r\nBcc: evil@example.com"}
	if _, err := m.Bytes(); err == nil {
		t.Fatal("a subject with a line break was accepted")
	}
}
