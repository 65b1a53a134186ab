package outreach

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"atrium/store"
)

// Idle issues IDLE again each Renew and still hears each arrival; ending
// its context ends it at once.
func TestIdle_RenewsAndHearsArrivals(t *testing.T) {
	s, u := memIMAP(t)
	appendN(t, u, 0, 2) // there before: not an arrival
	var listened atomic.Int32
	arrived := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() {
		ended <- Idle(ctx, s, IdleWatch{Renew: 50 * time.Millisecond,
			Listening: func() { listened.Add(1) },
			NewMail: func(context.Context) error {
				arrived <- struct{}{}
				return nil
			}})
	}()
	deadline := time.Now().Add(15 * time.Second)
	for listened.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("IDLE was issued %d times in 15 s with a renewal every 50 ms", listened.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	appendN(t, u, 2, 1)
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("an arrival after renewals was not heard")
	}
	select {
	case <-arrived:
		t.Fatal("one arrival was heard twice")
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Idle ended with %v, want the context's end", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Idle did not end with its context")
	}
}

// An error of NewMail ends Idle with it.
func TestIdle_NewMailErrorEnds(t *testing.T) {
	s, u := memIMAP(t)
	stop := errors.New("stop")
	ended := make(chan error, 1)
	listening := make(chan struct{}, 1)
	go func() {
		ended <- Idle(context.Background(), s, IdleWatch{Renew: time.Hour,
			Listening: func() { listening <- struct{}{} },
			NewMail:   func(context.Context) error { return stop }})
	}()
	select {
	case <-listening:
	case err := <-ended:
		t.Fatalf("Idle ended before it listened: %v", err)
	}
	appendN(t, u, 0, 1)
	select {
	case err := <-ended:
		if !errors.Is(err, stop) {
			t.Fatalf("Idle ended with %v, want NewMail's error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Idle did not end")
	}
}

// A server that does not offer IDLE is ErrNoIdle, and nothing waits.
func TestIdle_ServerWithoutIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveIMAP4rev1Only(ln)
	s := IMAPServer{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLSMode: store.TLSNone, Username: "ana", Password: "pw", Folder: "INBOX"}
	err = Idle(context.Background(), s, IdleWatch{Renew: time.Hour, NewMail: func(context.Context) error { return nil }})
	if !errors.Is(err, ErrNoIdle) {
		t.Fatalf("got %v, want ErrNoIdle", err)
	}
}

// serveIMAP4rev1Only answers as a plain IMAP4rev1 server without IDLE:
// a greeting, LOGIN, CAPABILITY and LOGOUT.
func serveIMAP4rev1Only(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			conn.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"))
			r := bufio.NewReader(conn)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
				switch verb, _, _ := strings.Cut(strings.ToUpper(cmd), " "); verb {
				case "LOGIN":
					conn.Write([]byte(tag + " OK [CAPABILITY IMAP4rev1] logged in\r\n"))
				case "CAPABILITY":
					conn.Write([]byte("* CAPABILITY IMAP4rev1\r\n" + tag + " OK done\r\n"))
				case "LOGOUT":
					conn.Write([]byte("* BYE\r\n" + tag + " OK bye\r\n"))
					return
				default:
					conn.Write([]byte(tag + " BAD not here\r\n"))
				}
			}
		}()
	}
}
