package store

import (
	"context"
	"time"
)

// auditAboutContact selects the audit events about contact ?1: those linked
// to it when they were written (the contact's own, and those of its notes,
// tasks and deals, even deleted since), and those of the notes, tasks and
// deals linked to it now (a task or deal can be linked after its first
// events). An erasure clears exactly what a subject-access export shows.
// (The second condition on contact_id lets SQLite use the partial index
// audit_log_contact, which leaves out the events about no one.)
const auditAboutContact = `((contact_id = ?1 AND contact_id <> '')
	OR (entity_type = 'note' AND entity_id IN (SELECT id FROM notes WHERE contact_id = ?1))
	OR (entity_type = 'task' AND entity_id IN (SELECT id FROM tasks WHERE contact_id = ?1))
	OR (entity_type = 'deal' AND entity_id IN (SELECT id FROM deals WHERE contact_id = ?1)))`

// EraseContact removes every trace of a person from the workspace, for a
// GDPR erasure request: the contact, their notes, tasks and timeline, their
// place on deals (the deals stay, without them), their search index
// entries, and the personal data in audit events about them or their notes,
// tasks and deals. The audit log keeps the fact of the erasure and nothing
// else.
// Every connection zeroes deleted bytes within pages (secure_delete=fast);
// the erasure also zeroes whole freed pages, and optimizes the FTS indexes
// so no deleted token stays in a segment. Older copies of the changed pages
// stay in the WAL file until it is overwritten, and in the replicas'
// history until it ages out with the replica's retention.
func EraseContact(ctx context.Context, db *DB, a Actor, id string) error {
	conn, err := db.W.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = FAST`)
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := getOne(ctx, tx, new(string), "contact", `SELECT id FROM contacts WHERE id = ?`, id); err != nil {
		return err
	}
	var traces personTraces
	if err := tx.GetContext(ctx, &traces, `SELECT coalesce(company_id, '') AS company_id, email,
		(SELECT json_group_array(tag_seq) FROM contact_tags WHERE contact_id = ?1) AS tags FROM contacts WHERE id = ?1`, id); err != nil {
		return err
	}
	steps := []string{
		// Audit events keep who did what and when, not what the values were.
		`UPDATE audit_log SET changes = '{}' WHERE ` + auditAboutContact,
		`UPDATE deals SET contact_id = NULL, version = version + 1 WHERE contact_id = ?1`,
		// Notes, tasks, their tag links and activities go with the contact
		// (ON DELETE CASCADE), and the FTS triggers take them out of the
		// index.
		`DELETE FROM contacts WHERE id = ?1`,
		// Tags and a company that only this person had (a tag made for
		// them, the company named in their record) are theirs too.
		`DELETE FROM tags WHERE seq IN (SELECT value FROM json_each(?2))
			AND NOT EXISTS (SELECT 1 FROM contact_tags WHERE tag_seq = tags.seq)
			AND NOT EXISTS (SELECT 1 FROM company_tags WHERE tag_seq = tags.seq)`,
		`DELETE FROM companies WHERE id = ?3 AND ` + onlyANameCompany,
		// The reports of past imports keep the rows they refused as they
		// were, which may be this person's: they go, all of them, since
		// a refused row is linked to no contact.
		`DELETE FROM job_reports`,
		// The suppression of their address stays, as a hash only (see
		// erasureReach).
		`UPDATE audit_log SET changes = '{}' WHERE entity_type = 'suppression'
			AND entity_id IN (SELECT id FROM suppressions WHERE email_hash = ?4 AND ?4 <> '')`,
		`UPDATE suppressions SET email = NULL, detail = '' WHERE email_hash = ?4 AND ?4 <> ''`,
		`DELETE FROM import_undo WHERE contact_id = ?1`,
		`INSERT INTO contacts_fts (contacts_fts) VALUES ('optimize')`,
		`INSERT INTO notes_fts (notes_fts) VALUES ('optimize')`,
		`INSERT INTO companies_fts (companies_fts) VALUES ('optimize')`,
	}
	for _, stmt := range steps {
		if _, err := tx.ExecContext(ctx, stmt, id, traces.Tags, traces.CompanyID, SuppressionHash(traces.Email)); err != nil {
			return err
		}
	}
	if err := audit(ctx, tx, a, "contact.erase", KindContact, id, nil); err != nil {
		return err
	}
	return tx.Commit()
}

// erasureReach are the tables that can hold a contact's personal data, and
// how EraseContact reaches each; erasureLeftOut are those that by design
// hold none. A test fails when a table of the schema is in neither, or when
// a table pointing at contacts is left out, so a table a migration adds
// gets a decision.
var erasureReach = map[string]string{
	"contacts":      "the contact's row is deleted",
	"notes":         "deleted with the contact (ON DELETE CASCADE)",
	"tasks":         "deleted with the contact (ON DELETE CASCADE)",
	"activities":    "the contact's timeline, deleted with it (ON DELETE CASCADE)",
	"contact_tags":  "deleted with the contact (ON DELETE CASCADE)",
	"tags":          "tags no other contact or company has are deleted",
	"companies":     "a company that is only the name in their record is deleted",
	"deals":         "the deals stay, without them (contact_id set NULL)",
	"audit_log":     "events about them or their notes, tasks and deals keep no changes",
	"contacts_fts":  "their entry leaves by trigger; 'optimize' rewrites the segments without it",
	"notes_fts":     "their notes' entries leave by trigger; 'optimize' rewrites the segments without them",
	"companies_fts": "a company deleted with them leaves by trigger; 'optimize' rewrites the segments without it",
	"job_reports":   "reports of imports, which may hold rows they refused: all deleted",
	"import_undo":   "the image an import in progress kept of them, to put back should it fail, is deleted",
	"enrollments":   "deleted with the contact (ON DELETE CASCADE)",
	"messages":      "the ledger of what was sent to them, deleted with the contact (ON DELETE CASCADE)",
	"replies":       "their answers, deleted with the contact (ON DELETE CASCADE)",
	// Like their suppression, the soft bounces of their address are kept
	// by its hash only.
	"bounce_counts": "soft bounces by the hash of the address, which is not readable",
	// Open and click tracking of the messages sent to them.
	"message_links":   "the links of messages sent to them, deleted with the messages (ON DELETE CASCADE)",
	"tracking_events": "their opens and clicks, deleted with the messages (ON DELETE CASCADE)",
	// Erasing the person must not make them emailable again: their
	// suppression keeps its hash (enough to refuse the address, not to
	// read it) and loses the address and the detail; the audit events of
	// the suppression keep no changes.
	"suppressions": "the row of their address keeps only its hash (email and detail emptied)",
}

// erasureLeftOut: see erasureReach.
var erasureLeftOut = map[string]string{
	"custom_fields":      "definitions of fields; the values are in contacts and companies",
	"saved_views":        "users' saved filters of the contact list, which point at no contact",
	"list_columns":       "users' choice of a list's columns",
	"company_tags":       "tags of companies; a company an erasure deletes has none",
	"pipelines":          "the sales process's configuration",
	"stages":             "the sales process's configuration",
	"deals_fts":          "deal titles and custom values; the deals stay (see deals)",
	"workspace_settings": "the workspace's configuration",
	"api_keys":           "keys and the members who made them, no contact",
	"counters":           "row counts",
	"rollup":             "counts and sums per day and currency, no contact",
	"mailboxes":          "the workspace's sending accounts, no contact",
	"sequences":          "outreach sequences; their contacts are in enrollments",
	"sequence_mailboxes": "which account a sequence sends from",
	"sequence_steps":     "a sequence's steps, no contact",
	"templates":          "emails the workspace's staff write; merge fields name a contact's values, never hold them",
}

// personTraces are records a contact points to that may be theirs alone.
type personTraces struct {
	CompanyID string `db:"company_id"`
	Tags      string `db:"tags"` // a JSON array of tag seqs
	Email     string `db:"email"`
}

// onlyANameCompany matches a company that holds nothing but its name and
// that nothing points to: what naming a company in a contact's record
// creates. A company someone created, edited, tagged or linked to anything
// else stays. Its FTS row goes with it (the companies triggers).
const onlyANameCompany = `domain = '' AND industry = '' AND size = '' AND owner_id = '' AND custom = '{}'
	AND NOT EXISTS (SELECT 1 FROM contacts WHERE company_id = companies.id)
	AND NOT EXISTS (SELECT 1 FROM deals WHERE company_id = companies.id)
	AND NOT EXISTS (SELECT 1 FROM notes WHERE company_id = companies.id)
	AND NOT EXISTS (SELECT 1 FROM tasks WHERE company_id = companies.id)
	AND NOT EXISTS (SELECT 1 FROM activities WHERE company_id = companies.id)
	AND NOT EXISTS (SELECT 1 FROM company_tags WHERE company_id = companies.id)
	AND NOT EXISTS (SELECT 1 FROM audit_log WHERE entity_id = companies.id)`

// SubjectAccess is everything the workspace holds about one person, for a
// GDPR subject-access request.
type SubjectAccess struct {
	ExportedAt time.Time      `json:"exported_at"`
	Contact    *Contact       `json:"contact"`
	Notes      []Note         `json:"notes"`
	Tasks      []Task         `json:"tasks"`
	Deals      []Deal         `json:"deals"`
	Timeline   []TimelineItem `json:"timeline"`
	Replies    []Reply        `json:"replies"` // their answers to the workspace's emails, in full
	Audit      []AuditEvent   `json:"audit"`
}

// ContactSubjectAccess gathers a contact's data as one document.
func ContactSubjectAccess(ctx context.Context, db *DB, id string) (*SubjectAccess, error) {
	c, err := GetContact(ctx, db, id)
	if err != nil {
		return nil, err
	}
	sa := &SubjectAccess{ExportedAt: time.Now().UTC(), Contact: c}
	if err := db.R.SelectContext(ctx, &sa.Notes, noteSelect+` WHERE contact_id = ? ORDER BY seq`, id); err != nil {
		return nil, err
	}
	// Everything, not a first page: the export must hold all of it.
	if sa.Tasks, err = allPages(func(cursor string) ([]Task, string, error) {
		return ListTasks(ctx, db, TaskFilter{ContactID: id, Limit: MaxLimit, Cursor: cursor})
	}); err != nil {
		return nil, err
	}
	if sa.Deals, err = allPages(func(cursor string) ([]Deal, string, error) {
		return ListDeals(ctx, db, DealFilter{ContactID: id, Limit: MaxLimit, Cursor: cursor})
	}); err != nil {
		return nil, err
	}
	if sa.Timeline, err = timeline(ctx, db, KindContact, id, -1); err != nil {
		return nil, err
	}
	sa.Replies = []Reply{}
	if err := db.R.SelectContext(ctx, &sa.Replies, replySelect+` WHERE r.contact_id = ? ORDER BY r.seq`, id); err != nil {
		return nil, err
	}
	err = db.R.SelectContext(ctx, &sa.Audit, `SELECT * FROM audit_log WHERE `+auditAboutContact+` ORDER BY seq`, id)
	if sa.Notes == nil {
		sa.Notes = []Note{}
	}
	if sa.Audit == nil {
		sa.Audit = []AuditEvent{}
	}
	return sa, err
}

// allPages calls list with each page's next cursor until the last page.
func allPages[T any](list func(cursor string) ([]T, string, error)) ([]T, error) {
	all := []T{}
	cursor := ""
	for {
		page, next, err := list(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}
