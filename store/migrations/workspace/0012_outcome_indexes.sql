-- Analytics count each message's replies (store/stats.go): find them by
-- the message they answer, and a sequence's by the day they came.
CREATE INDEX replies_message ON replies (message_id, kind);
CREATE INDEX replies_sequence ON replies (sequence_id, received_at);
