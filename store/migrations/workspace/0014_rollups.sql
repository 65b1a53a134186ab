-- rollup: small counters the instance console and the usage statements
-- read (through the catalog's workspace_rollups, pushed by a job), kept by
-- triggers in the same transaction as the writes that change them, so no
-- page ever counts a workspace's rows. Contacts and companies are counted
-- in counters (0001) already. Keys:
--   version                 n: bumped by every trigger here, so a push
--                           can tell that something changed
--   last_activity           n: unix seconds of the latest audit event,
--                           send or reply
--   open:<CUR>              open deals in a currency: n and their value
--   won:<YYYY-MM-DD>:<CUR>  deals won (by closed_at, UTC day): n, value
--   sent:<YYYY-MM-DD>       emails that went out that UTC day
--   replied:<YYYY-MM-DD>    replies (not automatic ones) that came
--   bounced:<YYYY-MM-DD>    bounces that came
-- Times are stored as Go writes them ("2006-01-02 15:04:05.999 +0000
-- UTC", always UTC here), which SQLite's date functions do not parse: the
-- day is their first ten characters.
-- Deal keys follow the deals as they are (a deleted or reopened deal
-- leaves them); email keys count events, which a deletion does not undo
-- (they are metered). Values are minor units, never floats.
--
-- No trigger is on contacts or companies: a bulk CSV import drops and
-- rebuilds theirs (store/importcsv_bulk.go), and one per row would slow it.
CREATE TABLE rollup (
	key   TEXT PRIMARY KEY,
	n     INTEGER NOT NULL DEFAULT 0,
	value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO rollup (key, n) VALUES ('version', 0);
INSERT INTO rollup (key, n) SELECT 'last_activity', coalesce(max(unixepoch(substr(at, 1, 19))), 0) FROM audit_log;
INSERT INTO rollup (key, n, value)
	SELECT 'open:' || currency, count(*), sum(value_minor) FROM deals WHERE status = 'open' GROUP BY currency;
INSERT INTO rollup (key, n, value)
	SELECT 'won:' || substr(coalesce(closed_at, updated_at), 1, 10) || ':' || currency, count(*), sum(value_minor)
	FROM deals WHERE status = 'won' GROUP BY 1;
INSERT INTO rollup (key, n)
	SELECT 'sent:' || substr(sent_at, 1, 10), count(*) FROM messages WHERE state IN ('sent', 'bounced') AND sent_at IS NOT NULL GROUP BY 1;
INSERT INTO rollup (key, n)
	SELECT 'replied:' || substr(received_at, 1, 10), count(*) FROM replies WHERE kind = 'reply' GROUP BY 1;

-- Deals: take out what the old row counted, add what the new row counts.
CREATE TRIGGER deals_rollup_insert AFTER INSERT ON deals BEGIN
	INSERT INTO rollup (key, n, value) SELECT 'open:' || NEW.currency, 1, NEW.value_minor WHERE NEW.status = 'open'
		ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, value = value + excluded.value;
	INSERT INTO rollup (key, n, value) SELECT 'won:' || substr(coalesce(NEW.closed_at, NEW.updated_at), 1, 10) || ':' || NEW.currency, 1, NEW.value_minor
		WHERE NEW.status = 'won'
		ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, value = value + excluded.value;
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;
CREATE TRIGGER deals_rollup_delete AFTER DELETE ON deals BEGIN
	UPDATE rollup SET n = n - 1, value = value - OLD.value_minor WHERE OLD.status = 'open' AND key = 'open:' || OLD.currency;
	UPDATE rollup SET n = n - 1, value = value - OLD.value_minor
		WHERE OLD.status = 'won' AND key = 'won:' || substr(coalesce(OLD.closed_at, OLD.updated_at), 1, 10) || ':' || OLD.currency;
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;
CREATE TRIGGER deals_rollup_update AFTER UPDATE OF status, value_minor, currency, closed_at, updated_at ON deals
WHEN OLD.status <> NEW.status OR OLD.value_minor <> NEW.value_minor OR OLD.currency <> NEW.currency
	OR (NEW.status = 'won' AND substr(coalesce(OLD.closed_at, OLD.updated_at), 1, 10) IS NOT substr(coalesce(NEW.closed_at, NEW.updated_at), 1, 10))
BEGIN
	UPDATE rollup SET n = n - 1, value = value - OLD.value_minor WHERE OLD.status = 'open' AND key = 'open:' || OLD.currency;
	UPDATE rollup SET n = n - 1, value = value - OLD.value_minor
		WHERE OLD.status = 'won' AND key = 'won:' || substr(coalesce(OLD.closed_at, OLD.updated_at), 1, 10) || ':' || OLD.currency;
	INSERT INTO rollup (key, n, value) SELECT 'open:' || NEW.currency, 1, NEW.value_minor WHERE NEW.status = 'open'
		ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, value = value + excluded.value;
	INSERT INTO rollup (key, n, value) SELECT 'won:' || substr(coalesce(NEW.closed_at, NEW.updated_at), 1, 10) || ':' || NEW.currency, 1, NEW.value_minor
		WHERE NEW.status = 'won'
		ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, value = value + excluded.value;
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;

-- Emails: a message that goes out (to 'sent', or straight to 'bounced'
-- from a state that had not counted it), a bounce, a person's reply.
CREATE TRIGGER messages_rollup_sent AFTER UPDATE OF state ON messages
WHEN NEW.state IN ('sent', 'bounced') AND OLD.state NOT IN ('sent', 'bounced')
BEGIN
	INSERT INTO rollup (key, n) VALUES ('sent:' || date('now'), 1)
		ON CONFLICT (key) DO UPDATE SET n = n + 1;
	UPDATE rollup SET n = max(n, unixepoch('now')) WHERE key = 'last_activity';
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;
CREATE TRIGGER messages_rollup_bounced AFTER UPDATE OF state ON messages
WHEN NEW.state = 'bounced' AND OLD.state <> 'bounced'
BEGIN
	INSERT INTO rollup (key, n) VALUES ('bounced:' || date('now'), 1)
		ON CONFLICT (key) DO UPDATE SET n = n + 1;
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;
CREATE TRIGGER replies_rollup_insert AFTER INSERT ON replies WHEN NEW.kind = 'reply' BEGIN
	INSERT INTO rollup (key, n) VALUES ('replied:' || date('now'), 1)
		ON CONFLICT (key) DO UPDATE SET n = n + 1;
	UPDATE rollup SET n = max(n, unixepoch('now')) WHERE key = 'last_activity';
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;

-- Activity: every audited write.
CREATE TRIGGER audit_log_rollup_insert AFTER INSERT ON audit_log BEGIN
	UPDATE rollup SET n = max(n, coalesce(unixepoch(substr(NEW.at, 1, 19)), 0)) WHERE key = 'last_activity';
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;
