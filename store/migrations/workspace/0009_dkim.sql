-- DKIM signing per mailbox: a mailbox sends from one domain, its from
-- address's. dkim_key is the private key (PEM), sealed with the workspace's
-- data key like the password and emptied by every export and import;
-- dkim_record is the public TXT record to publish at
-- <dkim_selector>._domainkey.<domain> ("v=DKIM1; k=…; p=…"), kept so a page
-- shows it without unsealing anything. No key, no signature.
ALTER TABLE mailboxes ADD COLUMN dkim_selector TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN dkim_key TEXT NOT NULL DEFAULT ''; -- sealed
ALTER TABLE mailboxes ADD COLUMN dkim_record TEXT NOT NULL DEFAULT '';
