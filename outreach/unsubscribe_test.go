package outreach

import (
	"context"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// TestUnsubscribeHeaders: a message with the fields arrives through a real
// SMTP conversation with them as RFC 8058 asks, and with the visible link.
func TestUnsubscribeHeaders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts := smtptest.NewServer(t, smtptest.Options{})
	c, err := Dial(ctx, serverOf(ts, store.TLSStartTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const url = "https://crm.example.com/u/AbC-123_x"
	m := &Message{From: mail.Address{Address: "ana@example.com"}, To: mail.Address{Address: "bo@example.org"}, Subject: "Hello",
		Text: "Hi Bo" + UnsubscribeFooter(url), Headers: UnsubscribeHeaders(url)}
	if err := Send(c, m, nil); err != nil {
		t.Fatal(err)
	}
	msgs := ts.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(msgs[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Header.Get("List-Unsubscribe"); got != "<"+url+">" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if got := parsed.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	if err != nil || !strings.Contains(string(body), url) {
		t.Errorf("the body has no visible link: %q", body)
	}
}
