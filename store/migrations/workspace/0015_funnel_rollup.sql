-- The dashboard's email funnel (sent, delivered, opened, clicked, replied
-- this month) from the rollup counters (0014), never from a scan of the
-- month's messages. Two more keys:
--   opened:<YYYY-MM-DD>   messages a person first opened that UTC day
--   clicked:<YYYY-MM-DD>  messages a person first clicked that UTC day
-- A mail proxy's prefetch is not a person (store/stats.go counts the
-- same way); a second open of one message is not counted again.
CREATE TRIGGER tracking_events_rollup AFTER INSERT ON tracking_events
WHEN NEW.prefetch = 0 AND NOT EXISTS (SELECT 1 FROM tracking_events t
	WHERE t.message_id = NEW.message_id AND t.kind = NEW.kind AND t.prefetch = 0 AND t.seq <> NEW.seq)
BEGIN
	INSERT INTO rollup (key, n) VALUES (CASE NEW.kind WHEN 'open' THEN 'opened:' ELSE 'clicked:' END || substr(NEW.created_at, 1, 10), 1)
		ON CONFLICT (key) DO UPDATE SET n = n + 1;
	UPDATE rollup SET n = n + 1 WHERE key = 'version';
END;

INSERT INTO rollup (key, n)
	SELECT CASE kind WHEN 'open' THEN 'opened:' ELSE 'clicked:' END || day, count(*) FROM (
		SELECT kind, substr(min(created_at), 1, 10) AS day FROM tracking_events WHERE prefetch = 0 GROUP BY message_id, kind)
	GROUP BY 1;
