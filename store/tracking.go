package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// Tracking event kinds.
const (
	TrackOpen  = "open"
	TrackClick = "click"
)

// maxTrackedUserAgent bounds the user agent an event keeps: enough to tell
// a mail proxy from a browser, not a fingerprint.
const maxTrackedUserAgent = 200

// MaxTrackedURL bounds a link the click redirect goes to; a longer link
// is sent as it is, untracked.
const MaxTrackedURL = 4096

// TrackingEvent is one fetch of a message's pixel or of one of its links.
type TrackingEvent struct {
	MessageID string
	Kind      string // TrackOpen or TrackClick
	LinkIndex int    // a click's link; unused for an open
	URL       string // a click's destination
	// Prefetch is true when the request itself shows a machine (a mail
	// proxy); RecordTrackingEvents also marks fetches too soon after the
	// send.
	Prefetch  bool
	UserAgent string
	At        time.Time
}

// SequenceTracking says whether a sequence's messages carry open and click
// tracking.
func SequenceTracking(ctx context.Context, db *DB, sequenceID string) (bool, error) {
	var on bool
	err := db.R.GetContext(ctx, &on, `SELECT tracking FROM sequences WHERE id = ?`, sequenceID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, Errorf(ENotFound, "That sequence does not exist.")
	}
	return on, err
}

// SaveMessageLinks records the links of a message as it is about to be
// sent, in their order: the click redirect of link i goes to links[i]. A
// retry of the message replaces the links of the earlier try (the body
// sent last is the one people click in).
func SaveMessageLinks(ctx context.Context, db *DB, messageID string, links []string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_links WHERE message_id = ?`, messageID); err != nil {
			return err
		}
		for i, u := range links {
			if _, err := tx.ExecContext(ctx, `INSERT INTO message_links (message_id, link_index, url) VALUES (?, ?, ?)`, messageID, i, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// MessageLink returns the link at index of a sent message, the only place
// its click redirect may go.
func MessageLink(ctx context.Context, db *DB, messageID string, index int) (string, error) {
	var u string
	err := db.R.GetContext(ctx, &u, `SELECT url FROM message_links WHERE message_id = ? AND link_index = ?`, messageID, index)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Errorf(ENotFound, "This link is not valid.")
	}
	return u, err
}

// RecordTrackingEvents writes events in one transaction and returns how
// many it wrote. An event of a message that is not (or no longer) in the
// file is left out: its contact was erased, or the token was of a message
// deleted since. An event within prefetchWithin of its message's send, or
// before the send was recorded, is marked prefetch: people do not open a
// message the second it arrives, scanners and proxies do.
func RecordTrackingEvents(ctx context.Context, db *DB, events []TrackingEvent, prefetchWithin time.Duration) (int, error) {
	written := 0
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		written = 0
		sent, err := sentTimes(ctx, tx, events)
		if err != nil {
			return err
		}
		insert, err := tx.PreparexContext(ctx, `INSERT INTO tracking_events (message_id, kind, link_index, url, prefetch, user_agent, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insert.Close()
		for _, ev := range events {
			at, ok := sent[ev.MessageID]
			if !ok {
				continue
			}
			prefetch := ev.Prefetch || !at.Valid || ev.At.Sub(at.Time) < prefetchWithin
			var link any // NULL for an open
			if ev.Kind == TrackClick {
				link = ev.LinkIndex
			}
			if _, err := insert.ExecContext(ctx, ev.MessageID, ev.Kind, link, ev.URL, prefetch, cutUserAgent(ev.UserAgent), ev.At.UTC()); err != nil {
				return err
			}
			written++
		}
		return nil
	})
	return written, err
}

// sentTimes reads when each message of the events was sent (NULL: not
// yet recorded); a message absent from the file is absent from the map.
func sentTimes(ctx context.Context, tx *sqlx.Tx, events []TrackingEvent) (map[string]sql.NullTime, error) {
	ids := make([]string, 0, len(events))
	seen := map[string]bool{}
	for _, ev := range events {
		if !seen[ev.MessageID] {
			seen[ev.MessageID] = true
			ids = append(ids, ev.MessageID)
		}
	}
	out := make(map[string]sql.NullTime, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		q, args, err := sqlx.In(`SELECT id, sent_at FROM messages WHERE id IN (?)`, chunk)
		if err != nil {
			return nil, err
		}
		var rows []struct {
			ID     string       `db:"id"`
			SentAt sql.NullTime `db:"sent_at"`
		}
		if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.SentAt
		}
	}
	return out, nil
}

// cutUserAgent keeps the first maxTrackedUserAgent characters of valid
// UTF-8, one line.
func cutUserAgent(ua string) string {
	ua = strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, ua), "")
	if utf8.RuneCountInString(ua) > maxTrackedUserAgent {
		ua = string([]rune(ua)[:maxTrackedUserAgent])
	}
	return ua
}

// ActiveWorkspaceKey returns the wrapped data key of a workspace that is
// active; ok is false for one in the trash, gone, unknown or without a
// key. One catalog read: the tracking endpoints answer from it before
// they open any workspace file.
func ActiveWorkspaceKey(ctx context.Context, q sqlx.QueryerContext, workspaceID string) (wrapped []byte, ok bool, err error) {
	err = sqlx.GetContext(ctx, q, &wrapped, `SELECT k.wrapped FROM workspace_keys k JOIN workspaces w ON w.id = k.workspace_id
		WHERE k.workspace_id = ? AND w.state = 'active'`, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return wrapped, err == nil, err
}
