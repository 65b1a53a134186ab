package outreach

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/text/encoding/htmlindex"
)

// What an inbound message is, for the poller.
const (
	InboundReply     = "reply"      // a person's answer
	InboundAutoReply = "auto_reply" // an automatic answer: out of office, a ticket robot
	InboundBounce    = "bounce"     // a delivery status notification (RFC 3464)
	InboundOther     = "other"      // names none of our messages: not ours to read
)

// MaxReplyText bounds the text kept of an answer.
const MaxReplyText = 20_000

// Inbound is a message read from a mailbox's folder, classified.
type Inbound struct {
	Kind      string
	MessageID string // its own, without angle brackets
	From      mail.Address
	Subject   string
	Date      time.Time
	// Refs are the Message-IDs it answers (In-Reply-To, then References
	// newest first), without angle brackets.
	Refs []string
	// Text is its text part, sanitised (an HTML-only message turned into
	// text); for a bounce, the human-readable part.
	Text   string
	Bounce *Bounce // for InboundBounce
}

// ParseInbound reads and classifies a raw message. A message that cannot
// be read at all is an error; a part that cannot is left out.
func ParseInbound(raw []byte) (*Inbound, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	h := textproto.MIMEHeader(msg.Header)
	in := &Inbound{MessageID: firstID(h.Get("Message-Id")), Subject: decodeHeader(h.Get("Subject")), Refs: References(h)}
	if from, err := mail.ParseAddress(decodeHeader(h.Get("From"))); err == nil {
		in.From = *from
		in.From.Address = strings.ToLower(in.From.Address)
	}
	in.Date, _ = mail.ParseDate(h.Get("Date"))
	body, err := io.ReadAll(msg.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if b := parseDSN(h, body); b != nil {
		in.Kind, in.Bounce = InboundBounce, b
		in.Text = textOf(h, body)
		return in, nil
	}
	in.Text = textOf(h, body)
	switch {
	case IsAutomatic(h):
		in.Kind = InboundAutoReply
	case len(in.Refs) > 0:
		in.Kind = InboundReply
	default:
		in.Kind = InboundOther
	}
	return in, nil
}

// IsAutomatic says whether the headers mark a message as sent by a robot
// (RFC 3834's Auto-Submitted, and the older conventions still in use):
// such a message is not a person's answer and must not stop a sequence.
func IsAutomatic(h textproto.MIMEHeader) bool {
	if v := headerToken(h.Get("Auto-Submitted")); v != "" && v != "no" {
		return true
	}
	switch headerToken(h.Get("Precedence")) {
	case "bulk", "list", "junk", "auto_reply":
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "List-Id"} {
		if len(h.Values(k)) > 0 {
			return true
		}
	}
	return false
}

// headerToken is a header's value lower-cased without its parameters:
// "auto-replied; owner-email=…" is "auto-replied".
func headerToken(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(v))
}

var msgIDRE = regexp.MustCompile(`<([^<>\s]+)>`)

// References are the Message-IDs a message answers: In-Reply-To first,
// then References from the newest, each once.
func References(h textproto.MIMEHeader) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, m := range msgIDRE.FindAllStringSubmatch(h.Get("In-Reply-To"), -1) {
		add(m[1])
	}
	refs := msgIDRE.FindAllStringSubmatch(strings.Join(h.Values("References"), " "), -1)
	for i := len(refs) - 1; i >= 0; i-- {
		add(refs[i][1])
	}
	return ids
}

// firstID is the first Message-ID of a header's value, without its angle
// brackets (a bare one as it is).
func firstID(v string) string {
	if m := msgIDRE.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes RFC 2047 words; a value that does not decode is
// kept as it came.
func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// charsetReader turns a text of a named character set into UTF-8.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(r), nil
}

// part is one leaf of a MIME tree.
type part struct {
	mediaType string
	params    map[string]string
	header    textproto.MIMEHeader
	body      []byte // transfer encoding undone
}

// walkParts calls fn for each leaf of the MIME tree, depth first, until
// fn returns false. A message/rfc822 part is a leaf.
func walkParts(h textproto.MIMEHeader, body []byte, fn func(p part) bool) bool {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt, params = "text/plain", map[string]string{}
	}
	if !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return fn(part{mediaType: mt, params: params, header: h, body: undoTransfer(h, body)})
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return true // the end, or a cut-off message: what came is used
		}
		b, err := io.ReadAll(p)
		if err != nil && len(b) == 0 {
			return true
		}
		if !walkParts(p.Header, b, fn) {
			return false
		}
	}
}

// undoTransfer decodes base64 and quoted-printable bodies.
func undoTransfer(h textproto.MIMEHeader, body []byte) []byte {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineSkipper{r: bytes.NewReader(body)})
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(body))
	default:
		return body
	}
	out, _ := io.ReadAll(r) // what decodes before a fault is kept
	return out
}

// newlineSkipper drops line breaks and spaces a base64 body is folded with.
type newlineSkipper struct{ r io.Reader }

func (s *newlineSkipper) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// textOf is a message's text: its first text/plain part that is not an
// attachment, else its first HTML part made text, sanitised.
func textOf(h textproto.MIMEHeader, body []byte) string {
	var plain, htmlText string
	walkParts(h, body, func(p part) bool {
		if strings.HasPrefix(strings.ToLower(p.header.Get("Content-Disposition")), "attachment") {
			return true
		}
		switch {
		case p.mediaType == "text/plain" && plain == "":
			plain = toUTF8(p)
		case p.mediaType == "text/html" && htmlText == "":
			htmlText = HTMLToText(toUTF8(p))
		}
		return plain == ""
	})
	if plain == "" {
		plain = htmlText
	}
	return SanitizeText(plain)
}

// toUTF8 is a text part's body in UTF-8, from its declared character set.
func toUTF8(p part) string {
	cs := strings.ToLower(p.params["charset"])
	if cs == "" || cs == "utf-8" || cs == "us-ascii" {
		return string(p.body)
	}
	r, err := charsetReader(cs, bytes.NewReader(p.body))
	if err != nil {
		return string(p.body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return string(p.body)
	}
	return string(b)
}

var (
	stripAll = bluemonday.StrictPolicy()
	// blockEnd are the tags whose end is a line break in text.
	blockEnd      = regexp.MustCompile(`(?i)<br\s*/?>|</(p|div|tr|li|h[1-6]|blockquote)\s*>`)
	invisibleHTML = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)\s*>`)
	blankLines    = regexp.MustCompile(`\n{3,}`)
)

// HTMLToText turns an HTML body into text: block ends become line breaks,
// tags go, entities are decoded.
func HTMLToText(s string) string {
	s = invisibleHTML.ReplaceAllString(s, "")
	s = strings.NewReplacer("\r\n", " ", "\n", " ").Replace(s) // HTML's own line breaks are spaces
	s = blockEnd.ReplaceAllString(s, "$0\n")
	s = strings.ReplaceAll(html.UnescapeString(stripAll.Sanitize(s)), "\u00a0", " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// SanitizeText makes a message's text safe to keep and show as text:
// valid UTF-8, line breaks as "\n", no control characters but tab, no run
// of blank lines, at most MaxReplyText characters.
func SanitizeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
	s = strings.TrimSpace(blankLines.ReplaceAllString(s, "\n\n"))
	if utf8.RuneCountInString(s) > MaxReplyText {
		s = string([]rune(s)[:MaxReplyText])
	}
	return s
}

// readHeaderBlocks reads blocks of header fields separated by blank lines
// (a DSN's delivery-status body, a text/rfc822-headers part).
func readHeaderBlocks(b []byte) []textproto.MIMEHeader {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	var blocks []textproto.MIMEHeader
	for range 100 {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			blocks = append(blocks, h)
		}
		if err != nil {
			break
		}
	}
	return blocks
}
