-- Open and click tracking, per sequence, off unless its owner turns it on
-- (privacy first; opens are estimates anyway: Apple Mail fetches every
-- image when the mail arrives).
ALTER TABLE sequences ADD COLUMN tracking INTEGER NOT NULL DEFAULT 0 CHECK (tracking IN (0, 1));

-- message_links: the http(s) links of a message sent with tracking, by
-- their order in its HTML part, written before the message leaves. The
-- click redirect of link i goes to its url and nowhere else: a token can
-- only name an index, never a URL. Deleted with the message (and so with
-- its contact by an erasure).
CREATE TABLE message_links (
	message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	link_index INTEGER NOT NULL CHECK (link_index >= 0),
	url        TEXT NOT NULL,
	PRIMARY KEY (message_id, link_index)
);

-- tracking_events: each fetch of a message's pixel (open) or of one of its
-- links (click). prefetch marks what a machine fetched, not a person: a
-- known mail proxy (Apple Mail Privacy Protection, Google's and Yahoo's
-- image proxies) or a fetch within seconds of sending (scanners). Unique
-- opens and clicks per sequence and step join messages on message_id.
-- user_agent is cut to 200 characters; the address is never kept.
CREATE TABLE tracking_events (
	seq        INTEGER PRIMARY KEY,
	message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL CHECK (kind IN ('open', 'click')),
	link_index INTEGER CHECK ((kind = 'open') = (link_index IS NULL)),
	url        TEXT NOT NULL DEFAULT '',
	prefetch   INTEGER NOT NULL DEFAULT 0 CHECK (prefetch IN (0, 1)),
	user_agent TEXT NOT NULL DEFAULT '',
	created_at DATETIME NOT NULL
);
CREATE INDEX tracking_events_message ON tracking_events (message_id, kind, prefetch);
