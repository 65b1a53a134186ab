package outreach

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// ErrNoIdle says a mailbox's server does not offer IMAP IDLE (RFC 2177):
// its folder is only polled.
var ErrNoIdle = errors.New("the IMAP server does not offer IDLE")

// IdleWatch is what Idle does as it listens.
type IdleWatch struct {
	// Renew is how long one IDLE command lasts before it is issued again:
	// RFC 2177 servers may drop a client idle for 30 minutes.
	Renew time.Duration
	// Listening is called once the folder is selected and IDLE runs.
	Listening func()
	// NewMail is called when the folder holds more messages than it did;
	// an error of it ends the watch. It is not called from the
	// connection's reader, so it may take its time: arrivals meanwhile
	// make one more call.
	NewMail func(ctx context.Context) error
}

// Idle logs in, selects the folder read-only and waits in IDLE for new
// messages, calling w.NewMail for each arrival, until ctx ends (it returns
// ctx's error) or the connection fails. It reads no message: a poll does.
// A server without IDLE is ErrNoIdle.
func Idle(ctx context.Context, s IMAPServer, w IdleWatch) error {
	var arrivals folderCount
	c, err := dialIMAP(ctx, s, arrivals.handler())
	if err != nil {
		return err
	}
	defer c.Close()
	// Closing the connection is what ends a blocked read at once.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	if !c.Caps().Has(imap.CapIdle) {
		c.Logout().Wait()
		return ErrNoIdle
	}
	sel, err := c.Select(s.Folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("cannot open the folder %q: %w", s.Folder, err)
	}
	arrivals.start(sel.NumMessages)
	for {
		if err := idleOnce(ctx, c, w, &arrivals); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// idleOnce runs one IDLE command for w.Renew, then ends it.
func idleOnce(ctx context.Context, c *imapclient.Client, w IdleWatch, arrivals *folderCount) error {
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("IDLE failed: %w", err)
	}
	if w.Listening != nil {
		w.Listening()
	}
	renew := time.NewTimer(w.Renew)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err() // Idle's deferred Close ends the connection
		case <-c.Closed():
			return errors.New("the IMAP server closed the connection")
		case <-arrivals.grew:
			if err := w.NewMail(ctx); err != nil {
				return err
			}
		case <-renew.C:
			return endIdle(c, cmd)
		}
	}
}

// endIdle ends an IDLE command and waits for the server's answer, at most
// DefaultIMAPTimeout: a connection lost without a word would keep it
// waiting.
func endIdle(c *imapclient.Client, cmd *imapclient.IdleCommand) error {
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("cannot end IDLE: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(DefaultIMAPTimeout):
		c.Close()
		<-done
		return errors.New("the IMAP server did not answer the end of IDLE")
	}
}

// folderCount follows the number of messages of the selected folder from
// what the server says unasked (EXISTS, EXPUNGE), and signals on grew
// when it rises.
type folderCount struct {
	n    atomic.Int64
	grew chan struct{}
}

func (f *folderCount) handler() *imapclient.UnilateralDataHandler {
	f.grew = make(chan struct{}, 1)
	f.n.Store(-1) // not selected yet: nothing is an arrival
	return &imapclient.UnilateralDataHandler{
		Expunge: func(uint32) { f.n.Add(-1) },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages == nil {
				return
			}
			n := int64(*d.NumMessages)
			if before := f.n.Swap(n); before >= 0 && n > before {
				select {
				case f.grew <- struct{}{}:
				default: // an arrival is signalled already
				}
			}
		},
	}
}

// start sets the count the SELECT answered.
func (f *folderCount) start(n uint32) { f.n.Store(int64(n)) }
