// Package smtptest runs a real SMTP server in the test process (go-smtp's
// server on a loopback port), with STARTTLS under its own certificate
// authority and PLAIN login, and keeps what it receives: tests of sending
// hold a real SMTP conversation, as httptest does for HTTP.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running test SMTP server.
type Server struct {
	Host     string
	Port     int
	Username string
	Password string
	// ClientTLS trusts the server's certificate.
	ClientTLS *tls.Config

	delay    time.Duration
	mu       sync.Mutex
	messages []Message
	// Reject, when set, answers MAIL FROM, RCPT TO or DATA with an error.
	reject func(stage, value string) error
}

// Options shape a server.
type Options struct {
	// ImplicitTLS serves TLS from the first byte (port 465 style) instead of
	// plain text with STARTTLS.
	ImplicitTLS bool
	// NoTLS serves plain text without STARTTLS.
	NoTLS bool
	// Delay is how long the server takes to answer the final dot of a
	// message it accepted (it has it already): a kill in that time cuts
	// the conversation off after delivery.
	Delay time.Duration
}

// NewServer starts a server for the test and stops it when the test ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	serverTLS, clientTLS := certificates(tb)
	s := &Server{Host: "127.0.0.1", Username: "user", Password: "smtp-secret-7Zq", ClientTLS: clientTLS, delay: opts.Delay}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "smtptest.localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = opts.NoTLS
	// Clients killed mid-conversation are what some tests are about.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var l net.Listener
	var err error
	switch {
	case opts.ImplicitTLS:
		l, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	case opts.NoTLS:
		l, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		srv.TLSConfig = serverTLS
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns what the server accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// SetDelay changes how long the server takes to answer a message's final
// dot (see Options.Delay).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Reject makes the server answer with err at a stage ("mail", "rcpt",
// "data") for the values fn chooses; nil accepts everything again.
func (s *Server) Reject(fn func(stage, value string) error) {
	s.mu.Lock()
	s.reject = fn
	s.mu.Unlock()
}

func (s *Server) refuse(stage, value string) error {
	s.mu.Lock()
	fn := s.reject
	s.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(stage, value)
}

type session struct {
	s      *Server
	authed bool
	msg    Message
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != se.s.Username || password != se.s.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if !se.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	se.msg = Message{From: from}
	return se.s.refuse("mail", from)
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := se.s.refuse("rcpt", to); err != nil {
		return err
	}
	se.msg.To = append(se.msg.To, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := se.s.refuse("data", string(b)); err != nil {
		return err
	}
	se.msg.Data = b
	se.s.mu.Lock()
	se.s.messages = append(se.s.messages, se.msg)
	delay := se.s.delay
	se.s.mu.Unlock()
	time.Sleep(delay)
	return nil
}

func (se *session) Reset()        { se.msg = Message{} }
func (se *session) Logout() error { return nil }

// certificates makes a certificate authority and a certificate for
// 127.0.0.1 signed by it.
func certificates(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return server, &tls.Config{RootCAs: pool}
}
