package outreach

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"atrium/store"
)

// Bounds of one poll of a mailbox's folder.
const (
	// DefaultIMAPTimeout bounds connecting and each command.
	DefaultIMAPTimeout = 30 * time.Second
	// MaxFetchPerPoll bounds the messages one poll reads (and holds in
	// memory); the rest wait for the next, the high-water mark keeping
	// the place.
	MaxFetchPerPoll = 50
	// maxInboundBytes is how much of a message is read: headers, the
	// text and a DSN's report come first; attachments are not needed.
	maxInboundBytes = 1 << 20
	// firstPollBacklog is how far back (in UIDs) the first poll of a
	// folder, or one whose UIDVALIDITY changed, looks: replies that came
	// before the settings were entered count, a mailbox's whole history
	// is not read.
	firstPollBacklog = 500
)

// IMAPServer is how to reach and log in to a mailbox's IMAP server.
type IMAPServer struct {
	Host     string
	Port     int
	TLSMode  string // store.TLSImplicit, store.TLSStartTLS or store.TLSNone
	Username string
	Password string
	Folder   string
	// TLS, when set, is used instead of the system's roots (tests).
	TLS *tls.Config
}

// IMAPServerOf is the IMAP server of a mailbox, with its unsealed password.
func IMAPServerOf(m *store.Mailbox, password string) IMAPServer {
	return IMAPServer{Host: m.IMAPHost, Port: m.IMAPPort, TLSMode: m.IMAPTLS, Username: m.IMAPUsername, Password: password,
		Folder: m.IMAPFolder}
}

// Mark is a folder's high-water mark: the UIDs up to LastUID of the folder
// whose UIDVALIDITY is Validity have been processed.
type Mark struct {
	Validity uint32
	LastUID  uint32
}

// Inbox is one message read from a folder, with the mark that is reached
// once it is processed.
type Inbox struct {
	Mark Mark
	Raw  []byte
}

// FetchNew logs in, selects the folder and calls fn for each message
// above the mark, oldest first, at most MaxFetchPerPoll. fn records the
// message and its mark together; an error of fn ends the poll. A folder
// whose UIDVALIDITY changed starts again from a recent backlog. It
// returns how many messages fn took.
func FetchNew(ctx context.Context, s IMAPServer, mark Mark, fn func(Inbox) error) (int, error) {
	c, err := dialIMAP(ctx, s, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	sel, err := c.Select(s.Folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("cannot open the folder %q: %w", s.Folder, err)
	}
	from := mark.LastUID + 1
	if sel.UIDValidity != mark.Validity {
		from = max(uint32(sel.UIDNext), firstPollBacklog+1) - firstPollBacklog
	}
	uids, err := newUIDs(c, sel, from)
	if err != nil || len(uids) == 0 {
		c.Logout().Wait()
		return 0, err
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{
		{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: maxInboundBytes}}}}).Collect()
	if err != nil {
		return 0, fmt.Errorf("cannot read the messages of %q: %w", s.Folder, err)
	}
	n := 0
	for _, m := range sortByUID(msgs) {
		if len(m.BodySection) == 0 {
			continue
		}
		if err := fn(Inbox{Mark: Mark{Validity: sel.UIDValidity, LastUID: uint32(m.UID)}, Raw: m.BodySection[0].Bytes}); err != nil {
			return n, err
		}
		n++
	}
	c.Logout().Wait()
	return n, ctx.Err()
}

// newUIDs are the UIDs of the folder from from on, the oldest
// MaxFetchPerPoll. They are searched, not guessed from the mark: UIDs
// have gaps where messages were deleted.
func newUIDs(c *imapclient.Client, sel *imap.SelectData, from uint32) ([]imap.UID, error) {
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= from) {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(from), 0) // from:*
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("cannot search the folder: %w", err)
	}
	var uids []imap.UID
	for _, u := range found.AllUIDs() {
		if uint32(u) >= from { // "from:*" names the last message even below from
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)
	return uids[:min(len(uids), MaxFetchPerPoll)], nil
}

// sortByUID orders fetched messages by UID: a server may answer in any
// order, and the mark only moves forward.
func sortByUID(msgs []*imapclient.FetchMessageBuffer) []*imapclient.FetchMessageBuffer {
	for i := 1; i < len(msgs); i++ {
		for j := i; j > 0 && msgs[j].UID < msgs[j-1].UID; j-- {
			msgs[j], msgs[j-1] = msgs[j-1], msgs[j]
		}
	}
	return msgs
}

// dialIMAP connects as the TLS mode says and logs in. The errors carry the
// server's own words. handler, when given, receives what the server says
// unasked (see Idle). Cancelling ctx ends the connection while it is made.
func dialIMAP(ctx context.Context, s IMAPServer, handler *imapclient.UnilateralDataHandler) (*imapclient.Client, error) {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	if s.TLSMode == store.TLSNone && !store.IsLoopbackHost(s.Host) {
		return nil, errors.New("a connection without TLS is only made to this machine")
	}
	d := net.Dialer{Timeout: DefaultIMAPTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", addr, unwrapOpError(err))
	}
	deadline := time.Now().Add(2 * DefaultIMAPTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLS != nil {
		cfg = s.TLS.Clone()
	}
	cfg.ServerName = s.Host
	var c *imapclient.Client
	opts := &imapclient.Options{UnilateralDataHandler: handler}
	switch s.TLSMode {
	case store.TLSImplicit:
		c = imapclient.New(tls.Client(conn, cfg), opts)
	case store.TLSStartTLS:
		opts.TLSConfig = cfg
		if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			conn.Close()
			return nil, fmt.Errorf("STARTTLS with %s failed: %w", addr, err)
		}
	case store.TLSNone: // this machine only, checked above
		c = imapclient.New(conn, opts)
	default:
		conn.Close()
		return nil, fmt.Errorf("unknown TLS mode %q", s.TLSMode)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s did not greet: %w", addr, err)
	}
	if err := c.Login(s.Username, s.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s refused the login: %w", addr, err)
	}
	return c, nil
}
