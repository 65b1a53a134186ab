-- contact_id names the person an audit event is about: the contact itself,
-- or the contact a note, task or deal belonged to when the event happened.
-- A GDPR erasure finds that person's events by it even after the note, task
-- or deal is gone (the entity id alone no longer leads to them then).
-- Events written before this migration get the link their entity has now.
ALTER TABLE audit_log ADD COLUMN contact_id TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET contact_id = entity_id WHERE entity_type = 'contact';
UPDATE audit_log SET contact_id = coalesce((SELECT contact_id FROM notes WHERE notes.id = audit_log.entity_id), '') WHERE entity_type = 'note';
UPDATE audit_log SET contact_id = coalesce((SELECT contact_id FROM tasks WHERE tasks.id = audit_log.entity_id), '') WHERE entity_type = 'task';
UPDATE audit_log SET contact_id = coalesce((SELECT contact_id FROM deals WHERE deals.id = audit_log.entity_id), '') WHERE entity_type = 'deal';
CREATE INDEX audit_log_contact ON audit_log (contact_id, seq) WHERE contact_id <> '';
