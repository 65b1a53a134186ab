package outreach

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"atrium/outreach/smtptest"
	"atrium/store"
)

// verifyDKIM checks a message's one DKIM signature against the record
// published (in a map: no network) and returns its verification.
func verifyDKIM(t *testing.T, data []byte, records map[string]string) (*dkim.Verification, error) {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if r, ok := records[name]; ok {
			return []string{r}, nil
		}
		return nil, fmt.Errorf("no TXT record at %s", name)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures, want 1:\n%s", len(vs), data)
	}
	return vs[0], vs[0].Err
}

// signedHeaders is the h= tag of a message's DKIM signature, lower case.
func signedHeaders(t *testing.T, data []byte) []string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sig := strings.Join(strings.Fields(msg.Header.Get("DKIM-Signature")), "")
	for _, tag := range strings.Split(sig, ";") {
		if h, ok := strings.CutPrefix(tag, "h="); ok {
			return strings.Split(strings.ToLower(h), ":")
		}
	}
	t.Fatalf("no h= tag in %q", sig)
	return nil
}

func TestSender_DKIM(t *testing.T) {
	for _, kind := range []string{store.DKIMEd25519, store.DKIMRSA} {
		t.Run(kind, func(t *testing.T) {
			key, err := store.GenerateDKIMKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0), DKIMSelector: ptr("s1"), DKIMKey: ptr(key)}, 2)
			f.env.dkimKey = key
			f.env.headers = [][2]string{{"List-Unsubscribe", "<https://crm.example/u/tok>"}, {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}
			if p := f.run(t); p.Sent != 2 {
				t.Fatalf("pass %+v", p)
			}
			mb, err := store.GetMailbox(context.Background(), f.db, f.mailbox)
			if err != nil {
				t.Fatal(err)
			}
			records := map[string]string{"s1._domainkey.acme.example": mb.DKIMRecord}
			for _, m := range f.srv.Messages() {
				v, err := verifyDKIM(t, m.Data, records)
				if err != nil {
					t.Fatalf("the signature does not verify: %v\n%s", err, m.Data)
				}
				if v.Domain != "acme.example" {
					t.Errorf("signed for %q, want the from address's domain", v.Domain)
				}
				h := signedHeaders(t, m.Data)
				for _, want := range []string{"list-unsubscribe", "list-unsubscribe-post", "subject", "to", "message-id", "content-type"} {
					if !strings.Contains(":"+strings.Join(h, ":")+":", ":"+want+":") {
						t.Errorf("h= %v lacks %s", h, want)
					}
				}
				if strings.Count(strings.Join(h, ":"), "from") != 2 {
					t.Errorf("h= %v: From is not oversigned", h)
				}
				// Changed on the way, it no longer verifies: the unsubscribe
				// address pointed elsewhere, or a word of the body.
				for what, tamper := range map[string]func([]byte) []byte{
					"List-Unsubscribe": func(b []byte) []byte {
						return bytes.Replace(b, []byte("https://crm.example/u/tok"), []byte("https://evil.example/u/tok"), 1)
					},
					"body":          func(b []byte) []byte { return bytes.Replace(b, []byte("Hello"), []byte("Hullo"), 1) },
					"an added From": func(b []byte) []byte { return append([]byte("From: Mallory <m@evil.example>\r\n"), b...) },
					"List-Unsubscribe-Post": func(b []byte) []byte {
						return bytes.Replace(b, []byte("List-Unsubscribe=One-Click"), []byte("List-Unsubscribe=Never"), 1)
					},
				} {
					changed := tamper(bytes.Clone(m.Data))
					if bytes.Equal(changed, m.Data) {
						t.Fatalf("%s: nothing to change in\n%s", what, m.Data)
					}
					if _, err := verifyDKIM(t, changed, records); err == nil {
						t.Errorf("a message whose %s changed after signing still verifies", what)
					}
				}
			}
		})
	}
	t.Run("NoKeySendsUnsigned", func(t *testing.T) {
		f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 1)
		if p := f.run(t); p.Sent != 1 {
			t.Fatalf("pass %+v", p)
		}
		for _, m := range f.srv.Messages() {
			if bytes.Contains(bytes.ToLower(m.Data), []byte("dkim-signature")) {
				t.Fatalf("a mailbox without a key signed:\n%s", m.Data)
			}
		}
	})
	// A key that cannot be read holds the message back, in the mailbox's
	// health, as an unreadable password does; nothing goes out unsigned.
	t.Run("UnreadableKeyWaits", func(t *testing.T) {
		f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 1)
		f.env.dkimKey = "not a key"
		if p := f.run(t); p.Sent != 0 || p.Retried != 1 {
			t.Fatalf("pass %+v", p)
		}
		if n := len(f.srv.Messages()); n != 0 {
			t.Fatalf("%d messages went out", n)
		}
		mb, _ := store.GetMailbox(context.Background(), f.db, f.mailbox)
		if !strings.Contains(mb.LastError, "DKIM") {
			t.Fatalf("health %q", mb.LastError)
		}
	})
}

func TestSendTest_DKIM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts := smtptest.NewServer(t, smtptest.Options{})
	key, err := store.GenerateDKIMKey(store.DKIMEd25519)
	if err != nil {
		t.Fatal(err)
	}
	mb := testMailbox()
	mb.DKIMSelector = "mail"
	opts, err := DKIMOptions(mb, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := SendTest(ctx, serverOf(ts, store.TLSStartTLS), mb, "client@example.org", opts); err != nil {
		t.Fatal(err)
	}
	signer, _ := store.ParseDKIMKey(key)
	msgs := ts.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if _, err := verifyDKIM(t, msgs[0].Data, map[string]string{"mail._domainkey.example.com": store.DKIMRecordOf(signer)}); err != nil {
		t.Fatalf("the test message's signature does not verify: %v\n%s", err, msgs[0].Data)
	}
}
