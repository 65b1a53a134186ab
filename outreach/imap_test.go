package outreach

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"atrium/outreach/imaptest"
	"atrium/store"
)

type quietIMAPLog struct{}

func (quietIMAPLog) Printf(string, ...any) {}

// memIMAP serves an in-memory account on loopback and returns how to
// reach it and the account.
func memIMAP(t *testing.T) (IMAPServer, *imapmemserver.User) {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("ana", "pw")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return imaptest.NewSession(u), nil, nil
		},
		InsecureAuth: true, Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}, Logger: quietIMAPLog{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return IMAPServer{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLSMode: store.TLSNone, Username: "ana", Password: "pw",
		Folder: "INBOX"}, u
}

func appendN(t *testing.T, u *imapmemserver.User, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		raw := fmt.Sprintf("From: x@example.org\r\nSubject: message %d\r\n\r\nbody %d\r\n", i, i)
		if _, err := u.Append("INBOX", bytes.NewReader([]byte(raw)), &imap.AppendOptions{Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

// poll runs FetchNew from mark and returns the subjects read and the mark
// reached.
func poll(t *testing.T, s IMAPServer, mark Mark) ([]string, Mark) {
	t.Helper()
	var subjects []string
	n, err := FetchNew(context.Background(), s, mark, func(in Inbox) error {
		if in.Mark.LastUID <= mark.LastUID && in.Mark.Validity == mark.Validity {
			t.Errorf("UID %d read again after the mark %d", in.Mark.LastUID, mark.LastUID)
		}
		mark = in.Mark
		p, err := ParseInbound(in.Raw)
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, p.Subject)
		return nil
	})
	if err != nil || n != len(subjects) {
		t.Fatalf("poll: %d, %v", n, err)
	}
	return subjects, mark
}

// FetchNew reads each message once, oldest first, at most
// MaxFetchPerPoll a poll, and past the gaps deletions leave in the UIDs.
func TestFetchNew_HighWaterMark(t *testing.T) {
	s, u := memIMAP(t)
	got, mark := poll(t, s, Mark{})
	if len(got) != 0 || mark != (Mark{}) {
		t.Fatalf("an empty folder gave %v, %v", got, mark)
	}
	appendN(t, u, 1, MaxFetchPerPoll+5)
	got, mark = poll(t, s, Mark{})
	if len(got) != MaxFetchPerPoll || got[0] != "message 1" || mark.Validity == 0 {
		t.Fatalf("first poll read %d (%v…), mark %v", len(got), got[:min(len(got), 2)], mark)
	}
	got, mark = poll(t, s, mark)
	if strings.Join(got, ",") != "message 51,message 52,message 53,message 54,message 55" {
		t.Fatalf("second poll read %v", got)
	}
	if got, _ = poll(t, s, mark); len(got) != 0 {
		t.Fatalf("a poll with nothing new read %v", got)
	}

	// Delete the next 60 UIDs' messages as they arrive: a gap wider than
	// a poll's batch.
	appendN(t, u, 56, 60)
	c, err := imapclient.DialInsecure(net.JoinHostPort(s.Host, fmt.Sprint(s.Port)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("ana", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var gap imap.UIDSet
	gap.AddRange(imap.UID(mark.LastUID+1), imap.UID(mark.LastUID+60))
	if err := c.Store(gap, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(gap).Close(); err != nil {
		t.Fatal(err)
	}
	appendN(t, u, 116, 1)
	if got, _ = poll(t, s, mark); strings.Join(got, ",") != "message 116" {
		t.Fatalf("past the gap, read %v", got)
	}

	// Another UIDVALIDITY: the folder is read again from its recent
	// messages.
	if got, _ = poll(t, s, Mark{Validity: mark.Validity + 1, LastUID: mark.LastUID}); len(got) != MaxFetchPerPoll || got[0] != "message 1" {
		t.Fatalf("after a UIDVALIDITY change, read %d from %v", len(got), got[:min(len(got), 1)])
	}
}

// A wrong password and an unknown folder are errors in the server's words;
// no TLS is refused for a remote host.
func TestFetchNew_Errors(t *testing.T) {
	s, _ := memIMAP(t)
	bad := s
	bad.Password = "wrong"
	if _, err := FetchNew(context.Background(), bad, Mark{}, nil); err == nil || !strings.Contains(err.Error(), "refused the login") {
		t.Fatalf("wrong password: %v", err)
	}
	bad = s
	bad.Folder = "Nope"
	if _, err := FetchNew(context.Background(), bad, Mark{}, nil); err == nil || !strings.Contains(err.Error(), `cannot open the folder "Nope"`) {
		t.Fatalf("unknown folder: %v", err)
	}
	bad = s
	bad.Host = "imap.example.com"
	if _, err := FetchNew(context.Background(), bad, Mark{}, nil); err == nil || !strings.Contains(err.Error(), "only made to this machine") {
		t.Fatalf("no TLS to a remote host: %v", err)
	}
}
