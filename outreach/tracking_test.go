package outreach

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"atrium/store"
)

func testClick(i int) string { return fmt.Sprintf("https://crm.example/t/c/tok%d", i) }

// TrackHTML rewrites the http(s) links in order, keeps the instance's own
// links (unsubscribe) and the others, escapes what it writes, and gives
// the same output for the same input.
func TestTrackHTML(t *testing.T) {
	body := `<p>Hi <a href="https://acme.example/a?x=1&amp;y=2" title="A">one</a>, <a href="mailto:ana@acme.example">mail</a>,
<a href="HTTP://acme.example/b">two</a> <a name="x">anchor</a> <a href="https://crm.example/u/abc">unsubscribe</a>
<a href="https://acme.example/a?x=1&amp;y=2">again</a></p>`
	got, links := TrackHTML(body, "https://crm.example", testClick, "https://crm.example/t/o/pix")
	want := []string{"https://acme.example/a?x=1&y=2", "HTTP://acme.example/b", "https://acme.example/a?x=1&y=2"}
	if fmt.Sprint(links) != fmt.Sprint(want) {
		t.Fatalf("links %q, want %q", links, want)
	}
	for _, s := range []string{`<a href="https://crm.example/t/c/tok0" title="A">one</a>`, `<a href="mailto:ana@acme.example">mail</a>`,
		`<a href="https://crm.example/t/c/tok1">two</a>`, `<a name="x">anchor</a>`, `<a href="https://crm.example/u/abc">unsubscribe</a>`,
		`<a href="https://crm.example/t/c/tok2">again</a>`, `<img src="https://crm.example/t/o/pix" width="1" height="1"`} {
		if !strings.Contains(got, s) {
			t.Fatalf("%q is not in\n%s", s, got)
		}
	}
	if strings.Contains(got, "acme.example/a") || strings.Contains(got, "acme.example/b") {
		t.Fatalf("an original link is left:\n%s", got)
	}
	if again, _ := TrackHTML(body, "https://crm.example", testClick, "https://crm.example/t/o/pix"); again != got {
		t.Fatal("the same body gave another result")
	}
	// A full document gets its pixel inside the body; an attribute value
	// cannot break out of its quotes.
	doc, _ := TrackHTML(`<html><body><a href='https://x.example/"><script>'>x</a></body></html>`, "https://crm.example", testClick, `https://crm.example/t/o/"q`)
	if !strings.HasSuffix(doc, `></body></html>`) || strings.Contains(doc, "<script>") || !strings.Contains(doc, `src="https://crm.example/t/o/&#34;q"`) {
		t.Fatalf("document: %s", doc)
	}
	if _, links := TrackHTML(`<a href="https://x.example/`+strings.Repeat("a", store.MaxTrackedURL)+`">long</a>`, "https://crm.example", testClick, "p"); len(links) != 0 {
		t.Fatal("a link longer than the bound was tracked")
	}
}

func TestMachineFetch(t *testing.T) {
	ip := netip.MustParseAddr
	for _, c := range []struct {
		ua      string
		ip      netip.Addr
		machine bool
	}{
		{"Mozilla/5.0", ip("203.0.113.9"), true},
		{"Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", ip("17.58.1.2"), true},
		{"Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", ip("::ffff:17.58.1.2"), true},
		{"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", ip("66.249.1.1"), true},
		{"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", ip("98.137.1.1"), true},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/128.0", ip("203.0.113.9"), false},
		{"", ip("2001:db8::1"), false},
	} {
		if got := MachineFetch(c.ua, c.ip); got != c.machine {
			t.Errorf("%q from %v: machine %v, want %v", c.ua, c.ip, got, c.machine)
		}
	}
}

// With tracking on, the sender rewrites the HTML part after the claim, for
// the ledger row: a retry after a 4xx rewrites it to the same links. With
// it off, the message is as rendered.
func TestSender_Tracking(t *testing.T) {
	f := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 2)
	if p := f.run(t); p.Sent != 2 || len(f.env.tracked) != 0 {
		t.Fatalf("tracking off: %+v, tracked %d", p, len(f.env.tracked))
	}
	for _, m := range f.srv.Messages() {
		if body := htmlPart(t, m.Data); strings.Contains(body, "crm.example/t/") || !strings.Contains(body, `href="https://acme.example"`) {
			t.Fatalf("an untracked message was rewritten:\n%s", m.Data)
		}
	}

	g := newSenderFixture(t, store.MailboxInput{GapMin: ptr(0), GapMax: ptr(0)}, 1)
	on := true
	if _, err := store.UpdateSequence(t.Context(), g.db, actor, g.sequence, store.SequenceInput{Tracking: &on}); err != nil {
		t.Fatal(err)
	}
	refused := true
	g.srv.Reject(func(stage, _ string) error {
		if stage == "rcpt" && refused {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		return nil
	})
	if p := g.run(t); p.Retried != 1 {
		t.Fatalf("first try %+v", p)
	}
	refused = false
	g.clock.add(time.Hour)
	if p := g.run(t); p.Sent != 1 {
		t.Fatalf("retry %+v", p)
	}
	if len(g.env.tracked) != 2 || g.env.tracked[0] != g.env.tracked[1] {
		t.Fatalf("the two tries were rewritten differently:\n%q", g.env.tracked)
	}
	sent := g.ledger(t, store.MessageSent)
	body := htmlPart(t, g.srv.Messages()[0].Data)
	if len(sent) != 1 || !strings.Contains(body, "crm.example/t/c/"+sent[0].ID+"/0") || !strings.Contains(body, "crm.example/t/o/"+sent[0].ID) {
		t.Fatalf("the sent message is not tracked for its ledger row:\n%s", body)
	}
}

// htmlPart is the decoded text/html part of a multipart/alternative
// message.
func htmlPart(tb testing.TB, data []byte) string {
	tb.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		tb.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			tb.Fatalf("no HTML part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			b, err := io.ReadAll(p)
			if err != nil {
				tb.Fatal(err)
			}
			return string(b)
		}
	}
}
