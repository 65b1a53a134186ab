package outreach

import (
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	sampleMessageID = "1a2b3c4d.9f8e7d6c5b4a3928@sender.example"
	sampleRecipient = "jane.doe@example.org"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseInbound_DSNSamples: each sender's bounce is a bounce of the
// right recipient, status and returned message, hard or soft.
func TestParseInbound_DSNSamples(t *testing.T) {
	for _, tc := range []struct {
		file, status, action, diag, text string
		hard                             bool
	}{
		{"dsn/gmail_hard.eml", "5.1.1", "failed", "The email account that you tried to reach does not exist", "Address not found", true},
		{"dsn/outlook_hard.eml", "5.1.10", "failed", "RESOLVER.ADR.RecipientNotFound", "couldn't be delivered", true},
		{"dsn/postfix_hard.eml", "5.1.1", "failed", "User unknown in virtual mailbox table", "This is the mail system", true},
		{"dsn/exim_hard.eml", "5.0.0", "failed", "User unknown in local recipient table", "permanent error", true},
		{"dsn/postfix_delayed.eml", "4.4.1", "delayed", "Connection timed out", "THIS IS A WARNING ONLY", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := ParseInbound(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != InboundBounce || in.Bounce == nil {
				t.Fatalf("kind %q, want a bounce", in.Kind)
			}
			b := in.Bounce
			if b.Recipient != sampleRecipient || b.Status != tc.status || b.Action != tc.action || b.Hard() != tc.hard {
				t.Errorf("got %+v, want %s %s %s hard=%v", b, sampleRecipient, tc.status, tc.action, tc.hard)
			}
			if b.OriginalMessageID != sampleMessageID {
				t.Errorf("original Message-ID %q, want %q", b.OriginalMessageID, sampleMessageID)
			}
			if !strings.Contains(b.Diagnostic, tc.diag) || strings.Contains(b.Diagnostic, "\n") {
				t.Errorf("diagnostic %q, want one line with %q", b.Diagnostic, tc.diag)
			}
			if !strings.Contains(in.Text, tc.text) {
				t.Errorf("text %q, want the human part with %q", in.Text, tc.text)
			}
		})
	}
}

// TestParseInbound_DSNWithoutReturnedMessage: a report that returns no
// message names it by the reporter's X-Original-Message-ID, else by
// nothing (the store then goes by the recipient).
func TestParseInbound_DSNWithoutReturnedMessage(t *testing.T) {
	raw := string(readSample(t, "dsn/gmail_hard.eml"))
	cut := raw[:strings.Index(raw, "--000000000000f4a7c50627f1e9b3\nContent-Type: message/rfc822")] + "--000000000000f4a7c50627f1e9b3--\n"
	in, err := ParseInbound([]byte(cut))
	if err != nil || in.Bounce == nil || in.Bounce.OriginalMessageID != sampleMessageID {
		t.Fatalf("got %+v, %v; want the X-Original-Message-ID", in, err)
	}
	cut = strings.Replace(cut, "X-Original-Message-ID: <"+sampleMessageID+">\n", "", 1)
	in, err = ParseInbound([]byte(cut))
	if err != nil || in.Bounce == nil || in.Bounce.OriginalMessageID != "" || in.Bounce.Recipient != sampleRecipient {
		t.Fatalf("got %+v, %v; want a bounce of the recipient naming no message", in.Bounce, err)
	}
}

// TestParseInbound_Answers: a person's answer is a reply with its text;
// an automatic one is not.
func TestParseInbound_Answers(t *testing.T) {
	for _, tc := range []struct {
		file, kind, from, subject string
		want, notWant             []string
	}{
		{"inbound/reply.eml", InboundReply, "jane.doe@example.org", "Re: Quick question",
			[]string{"Sure — Thursday at 10:00 works for me.", "> Do you have ten minutes"}, []string{"<div", "=E2"}},
		{"inbound/ooo.eml", InboundAutoReply, "jane.doe@example.org", "Automatic reply: Quick question",
			[]string{"out of the office until Monday 7 December"}, nil},
		{"inbound/reply_html_only.eml", InboundReply, "jane.doe@example.org", "RE: Quick question à propos",
			[]string{"Bonjour Sam,", "Rappelez-moi en février & bonne journée.", "Jane"}, []string{"<", "alert", "margin", "&amp;", "&nbsp;"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := ParseInbound(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != tc.kind || in.From.Address != tc.from || in.Subject != tc.subject {
				t.Errorf("got %s from %s %q, want %s from %s %q", in.Kind, in.From.Address, in.Subject, tc.kind, tc.from, tc.subject)
			}
			if len(in.Refs) == 0 || in.Refs[0] != sampleMessageID {
				t.Errorf("refs %v, want %s first", in.Refs, sampleMessageID)
			}
			for _, w := range tc.want {
				if !strings.Contains(in.Text, w) {
					t.Errorf("text %q lacks %q", in.Text, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(in.Text, w) {
					t.Errorf("text %q has %q", in.Text, w)
				}
			}
		})
	}
}

func TestIsAutomatic(t *testing.T) {
	for _, tc := range []struct {
		header map[string]string
		want   bool
	}{
		{map[string]string{}, false},
		{map[string]string{"Auto-Submitted": "no"}, false},
		{map[string]string{"Auto-Submitted": " No "}, false},
		{map[string]string{"Auto-Submitted": "auto-replied"}, true},
		{map[string]string{"Auto-Submitted": "auto-generated; owner-email=\"x@example.org\""}, true},
		{map[string]string{"Precedence": "bulk"}, true},
		{map[string]string{"Precedence": "List"}, true},
		{map[string]string{"Precedence": "junk"}, true},
		{map[string]string{"Precedence": "first-class"}, false},
		{map[string]string{"X-Autoreply": "yes"}, true},
		{map[string]string{"X-Autorespond": ""}, true},
		{map[string]string{"List-Id": "<news.example.org>"}, true},
		{map[string]string{"X-Mailer": "Outlook"}, false},
	} {
		h := textproto.MIMEHeader{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		if got := IsAutomatic(h); got != tc.want {
			t.Errorf("IsAutomatic(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestReferences(t *testing.T) {
	h := textproto.MIMEHeader{}
	h.Set("In-Reply-To", "<c@x> (comment)")
	h.Set("References", "<a@x> <b@x>\r\n <c@x>")
	if got := strings.Join(References(h), " "); got != "c@x b@x a@x" {
		t.Fatalf("got %q, want In-Reply-To first, then References newest first, each once", got)
	}
	if got := References(textproto.MIMEHeader{}); len(got) != 0 {
		t.Fatalf("got %v for no headers", got)
	}
}

func TestClassify_NoReferenceIsOther(t *testing.T) {
	in, err := ParseInbound([]byte("From: a@example.org\nSubject: hello\n\nA newsletter reply-less message.\n"))
	if err != nil || in.Kind != InboundOther {
		t.Fatalf("got %+v, %v; want other", in, err)
	}
	if _, err := ParseInbound([]byte("not a message")); err == nil {
		t.Fatal("a message without headers was read")
	}
}

func TestSanitizeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\r\nb\rc", "a\nb\nc"},
		{"x\x00y\x1bz\tw", "xyz\tw"},
		{"a\n\n\n\n\nb", "a\n\nb"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"  spaced  ", "spaced"},
	} {
		if got := SanitizeText(tc.in); got != tc.want {
			t.Errorf("SanitizeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := SanitizeText(strings.Repeat("é", MaxReplyText+10)); len([]rune(got)) != MaxReplyText {
		t.Errorf("kept %d characters, want %d", len([]rune(got)), MaxReplyText)
	}
}

func TestHTMLToText(t *testing.T) {
	got := HTMLToText("<style>p{}</style><p>One\ntwo</p><div>3 &lt; 4</div><script>x()</script><a href='javascript:y'>link</a>")
	if got != "One two\n3 < 4\nlink" {
		t.Fatalf("got %q", got)
	}
}

// BenchmarkParseInbound reads and classifies each sample: the poller's
// work per message, before the one transaction that records it.
func BenchmarkParseInbound(b *testing.B) {
	for _, name := range []string{"dsn/gmail_hard.eml", "dsn/outlook_hard.eml", "inbound/reply.eml", "inbound/reply_html_only.eml"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(name), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := ParseInbound(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
