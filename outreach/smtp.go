package outreach

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"atrium/store"
)

// DefaultSMTPTimeout bounds one conversation with a server that says
// nothing: connecting, and each command.
const DefaultSMTPTimeout = 30 * time.Second

// Server is how to reach and log in to a mailbox's SMTP server.
type Server struct {
	Host     string
	Port     int
	TLSMode  string // store.TLSImplicit, store.TLSStartTLS or store.TLSNone
	Username string
	Password string
	// TLS, when set, is used instead of the system's roots (tests give
	// their own certificate authority).
	TLS *tls.Config
}

// ServerOf is the server of a mailbox, with its unsealed password.
func ServerOf(m *store.Mailbox, password string) Server {
	return Server{Host: m.SMTPHost, Port: m.SMTPPort, TLSMode: m.TLSMode, Username: m.Username, Password: password}
}

// Dial opens a conversation with the server: connects, says hello, goes to
// TLS as the mode says, and logs in when there is a username. The caller
// closes the client. The errors carry the server's own words.
func Dial(ctx context.Context, s Server) (*smtp.Client, error) {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	d := net.Dialer{Timeout: DefaultSMTPTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", addr, unwrapOpError(err))
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	cfg := s.tlsConfig()
	var c *smtp.Client
	switch s.TLSMode {
	case store.TLSImplicit:
		c = smtp.NewClient(tls.Client(conn, cfg))
	case store.TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			return nil, fmt.Errorf("STARTTLS with %s failed: %w", addr, err)
		}
	case store.TLSNone:
		if !store.IsLoopbackHost(s.Host) {
			conn.Close()
			return nil, errors.New("a connection without TLS is only made to this machine")
		}
		c = smtp.NewClient(conn)
	default:
		conn.Close()
		return nil, fmt.Errorf("unknown TLS mode %q", s.TLSMode)
	}
	c.CommandTimeout, c.SubmissionTimeout = DefaultSMTPTimeout, 2*DefaultSMTPTimeout
	if err := c.Hello(helloName); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s refused the greeting: %w", addr, err)
	}
	if s.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s refused the login: %w", addr, err)
		}
	}
	return c, nil
}

// helloName is the name Atrium gives itself in EHLO.
const helloName = "atrium.localhost"

func (s Server) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLS != nil {
		cfg = s.TLS.Clone()
	}
	cfg.ServerName = s.Host
	return cfg
}

// unwrapOpError keeps a network error's reason without Go's operation
// prefix ("dial tcp 1.2.3.4:25: connect: connection refused" says it
// twice).
func unwrapOpError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Check logs in to the server and leaves: the connection check of a
// mailbox's settings.
func Check(ctx context.Context, s Server) error {
	c, err := Dial(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Quit()
}

// Message is one email to send.
type Message struct {
	From      mail.Address
	ReplyTo   string
	To        mail.Address
	Subject   string
	Text      string // the plain-text part
	HTML      string // the HTML part, when there is one
	MessageID string // without angle brackets; made when empty
	Date      time.Time
	// Headers are more header fields, in order (List-Unsubscribe…).
	Headers [][2]string
}

// Bytes is the message as sent: CRLF line ends, header fields encoded as
// RFC 2047 asks for text that is not ASCII.
func (m *Message) Bytes() ([]byte, error) {
	for _, v := range []string{m.Subject, m.ReplyTo, m.MessageID} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("a header field holds a line break")
		}
	}
	if m.MessageID == "" {
		m.MessageID = NewMessageID(m.From.Address)
	}
	if m.Date.IsZero() {
		m.Date = time.Now()
	}
	var b bytes.Buffer
	field := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	field("From", m.From.String())
	field("To", m.To.String())
	if m.ReplyTo != "" {
		field("Reply-To", m.ReplyTo)
	}
	field("Subject", encodeHeader(m.Subject))
	field("Date", m.Date.Format(time.RFC1123Z))
	field("Message-ID", "<"+m.MessageID+">")
	for _, h := range m.Headers {
		if strings.ContainsAny(h[0]+h[1], "\r\n") {
			return nil, errors.New("a header field holds a line break")
		}
		field(h[0], h[1])
	}
	field("MIME-Version", "1.0")
	if m.HTML == "" {
		writePart(&b, "text/plain", m.Text)
		return b.Bytes(), nil
	}
	// Readers show the last part they can: the HTML, else the text.
	boundary := "atrium-" + strings.ReplaceAll(NewMessageID("x")[:24], ".", "")
	field("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, p := range [][2]string{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		b.WriteString("--" + boundary + "\r\n")
		writePart(&b, p[0], p[1])
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// writePart writes a part's header and its body, quoted-printable: lines
// stay short whatever the template holds.
func writePart(b *bytes.Buffer, contentType, body string) {
	b.WriteString("Content-Type: " + contentType + "; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	w := quotedprintable.NewWriter(b)
	w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	w.Close()
	b.WriteString("\r\n")
}

// NewMessageID makes a unique Message-ID at the sender's domain.
func NewMessageID(from string) string {
	domain := "atrium.localhost"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	r := make([]byte, 12)
	rand.Read(r)
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "." + hex.EncodeToString(r) + "@" + domain
}

// Send sends one message through an open conversation, DKIM-signed when
// sign is not nil.
func Send(c *smtp.Client, m *Message, sign *dkim.SignOptions) error {
	body, err := m.Bytes()
	if err != nil {
		return err
	}
	if body, err = Sign(body, sign); err != nil {
		return err
	}
	return c.SendMail(m.From.Address, []string{m.To.Address}, bytes.NewReader(body))
}

// SendTest sends a short message from mailbox mb to the address to: the
// "send a test email" of a mailbox's page. It is signed as the mailbox's
// messages are (sign nil: unsigned), so the test shows whether the
// signature verifies at the other end.
func SendTest(ctx context.Context, s Server, mb *store.Mailbox, to string, sign *dkim.SignOptions) error {
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return store.FieldError("to", "%q is not an email address.", to)
	}
	c, err := Dial(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := &Message{
		From: mail.Address{Name: mb.FromName, Address: mb.FromEmail}, ReplyTo: mb.ReplyTo, To: *addr,
		Subject: "Atrium test message from " + mb.Name,
		Text: "This is a test message sent by Atrium from the mailbox \"" + mb.Name + "\".\n\n" +
			"If you can read it, the mailbox can send.\n",
	}
	if err := Send(c, msg, sign); err != nil {
		return err
	}
	return c.Quit()
}

// encodeHeader encodes text that is not ASCII as RFC 2047 asks.
func encodeHeader(s string) string { return mime.QEncoding.Encode("utf-8", s) }
