package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimelineItem is one entry of a contact's or company's activity timeline.
type TimelineItem struct {
	Kind   string    `db:"kind" json:"kind"` // created, changed, note, task, task_done, deal_open, deal_won, deal_lost, imported, ...
	At     time.Time `db:"at" json:"at"`
	Actor  string    `db:"actor" json:"actor"`
	RefID  string    `db:"ref_id" json:"ref_id"` // the note or task
	Text   string    `db:"text" json:"text"`     // the note's body or the task's title
	Detail string    `db:"detail" json:"-"`      // JSON of changed fields
	Edited bool      `db:"edited" json:"edited"` // a note changed since it was written
	// Version is a note's, which its edit form sends back.
	Version int64 `db:"version" json:"-"`

	// Author and Lines are the item in words, filled by Describe.
	Author string   `db:"-" json:"-"`
	Lines  []string `db:"-" json:"-"`
}

// Changes decodes the fields a "changed" item changed.
func (t TimelineItem) Changes() map[string]Change {
	m := map[string]Change{}
	json.Unmarshal([]byte(t.Detail), &m)
	return m
}

// Timeline returns the newest entries of a contact's or a company's
// timeline: activities, notes and tasks, newest first.
func Timeline(ctx context.Context, db *DB, k Kind, id string, limit int) ([]TimelineItem, error) {
	return timeline(ctx, db, k, id, clampLimit(limit))
}

// timeline is Timeline without the page bound: a limit of -1 returns all.
// A deal's item names its stage, in a detail shaped as changes as every
// detail is.
// A note's author is a user, or an API key when one wrote it through the
// API: notes keep the bare id, and keys' ids are in api_keys for good
// (revoking a key keeps its row).
func timeline(ctx context.Context, db *DB, k Kind, id string, limit int) ([]TimelineItem, error) {
	col, err := k.recordColumn()
	if err != nil {
		return nil, err
	}
	var items []TimelineItem
	err = db.R.SelectContext(ctx, &items, `SELECT * FROM (
			SELECT kind, created_at AS at, actor, '' AS ref_id, '' AS text, detail, 0 AS edited, 0 AS version FROM activities WHERE `+col+` = ?1
			UNION ALL
			SELECT 'note', created_at, CASE WHEN author_id IN (SELECT id FROM api_keys) THEN 'apikey:' ELSE 'user:' END || author_id,
				id, body, '{}', updated_at > created_at, version FROM notes WHERE `+col+` = ?1
			UNION ALL
			SELECT CASE done WHEN 1 THEN 'task_done' ELSE 'task' END, created_at, created_by, id, title,
				json_object('due_date', due_date), 0, 0 FROM tasks WHERE `+col+` = ?1
			UNION ALL
			SELECT 'deal_' || d.status, d.created_at, '', d.id, d.title,
				json_object('stage', json_object('after', s.name)), 0, 0
				FROM deals d LEFT JOIN stages s ON s.id = d.stage_id WHERE d.`+col+` = ?1
		) ORDER BY at DESC LIMIT ?2`, id, limit)
	return items, err
}

// DealTimeline returns the newest entries of a deal's timeline, newest
// first: its creation and changes (from the audit log: stage moves, won or
// lost, value, owner...), its notes and its tasks.
func DealTimeline(ctx context.Context, db *DB, dealID string, limit int) ([]TimelineItem, error) {
	items := []TimelineItem{}
	err := db.R.SelectContext(ctx, &items, `SELECT * FROM (
			SELECT CASE action WHEN 'deal.create' THEN 'created' ELSE 'changed' END AS kind, at, actor, '' AS ref_id, '' AS text,
				changes AS detail, 0 AS edited, 0 AS version
				FROM audit_log WHERE entity_type = 'deal' AND entity_id = ?1 AND action IN ('deal.create', 'deal.update')
			UNION ALL
			SELECT 'note', created_at, CASE WHEN author_id IN (SELECT id FROM api_keys) THEN 'apikey:' ELSE 'user:' END || author_id,
				id, body, '{}', updated_at > created_at, version FROM notes WHERE deal_id = ?1
			UNION ALL
			SELECT CASE done WHEN 1 THEN 'task_done' ELSE 'task' END, created_at, created_by, id, title,
				json_object('due_date', due_date), 0, 0 FROM tasks WHERE deal_id = ?1
		) ORDER BY at DESC LIMIT ?2`, dealID, clampLimit(limit))
	return items, err
}

// Names resolve the ids that timelines and the audit log hold to what
// people call them.
type Names struct {
	Members   map[string]string // user id → name, or email
	Keys      map[string]string // API key id → name
	Fields    map[string]string // custom field key → label, of the kind LoadNames was given
	Stages    map[string]string // deal stage id → name
	Pipelines map[string]string // pipeline id → name
	// Records are the companies, contacts and deals that changes name by
	// id (company_id, contact_id, deal_id), read by LoadRecords.
	Records map[string]string
	// kindFields are the custom fields of every kind: an audit log holds
	// changes of several.
	kindFields map[Kind]map[string]string
}

// LoadNames reads the names a workspace's file holds (API keys, custom
// fields, pipelines and stages) and takes those of members, which the
// catalog holds, from the caller. Fields holds the custom fields of kind
// k ("" for none); EventLines finds each event's own.
func LoadNames(ctx context.Context, db *DB, k Kind, members []Member) (*Names, error) {
	n := &Names{Members: map[string]string{}, Keys: map[string]string{}, Stages: map[string]string{}, Pipelines: map[string]string{},
		Records: map[string]string{}, kindFields: map[Kind]map[string]string{}}
	for _, m := range members {
		n.Members[m.UserID] = cmp.Or(m.Name, m.Email)
	}
	var rows []struct {
		What string `db:"what"`
		Kind string `db:"kind"`
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	err := db.R.SelectContext(ctx, &rows, `SELECT 'key' AS what, '' AS kind, id, name FROM api_keys
		UNION ALL SELECT 'field', entity, key, label FROM custom_fields
		UNION ALL SELECT 'stage', '', id, name FROM stages
		UNION ALL SELECT 'pipeline', '', id, name FROM pipelines`)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.What == "field" {
			if n.kindFields[Kind(r.Kind)] == nil {
				n.kindFields[Kind(r.Kind)] = map[string]string{}
			}
			n.kindFields[Kind(r.Kind)][r.ID] = r.Name
			continue
		}
		m := map[string]map[string]string{"key": n.Keys, "stage": n.Stages, "pipeline": n.Pipelines}[r.What]
		m[r.ID] = r.Name
	}
	n.Fields = n.kindFields[k]
	if n.Fields == nil {
		n.Fields = map[string]string{}
	}
	return n, nil
}

// recordFields are the fields of a change that hold the id of a company,
// a contact or a deal.
var recordFields = []string{"company_id", "contact_id", "deal_id"}

// LoadRecords reads the names of the companies, contacts and deals the
// changes name by id, by their ids (no list is read whole). One gone since
// is told as "a deleted company".
func (n *Names) LoadRecords(ctx context.Context, db *DB, changes []map[string]Change) error {
	var ids []string
	for _, ch := range changes {
		for _, f := range recordFields {
			for _, v := range []any{ch[f].Before, ch[f].After} {
				if s, ok := v.(string); ok && s != "" && n.Records[s] == "" && !slices.Contains(ids, s) {
					ids = append(ids, s)
				}
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	list, _ := json.Marshal(ids)
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	err := db.R.SelectContext(ctx, &rows, `SELECT id, name FROM companies WHERE id IN (SELECT value FROM json_each(?1))
		UNION ALL SELECT id, coalesce(nullif(trim(first_name || ' ' || last_name), ''), nullif(email, ''), '(no name)') FROM contacts WHERE id IN (SELECT value FROM json_each(?1))
		UNION ALL SELECT id, title FROM deals WHERE id IN (SELECT value FROM json_each(?1))`, string(list))
	for _, r := range rows {
		n.Records[r.ID] = r.Name
	}
	return err
}

// EventLines tells an audit event's changes as ChangeLines does, custom
// fields by the labels of the event's kind of record.
func (n *Names) EventLines(e AuditEvent) []string {
	return n.changeLines(n.kindFields[Kind(e.EntityType)], e.ChangesMap())
}

// Actor says who made a change: a member's name, an API key's name, or
// what part of Atrium did it.
func (n *Names) Actor(actor string) string {
	kind, id, _ := strings.Cut(actor, ":")
	switch kind {
	case "user":
		if name := n.Members[id]; name != "" {
			return name
		}
		return "a former member"
	case "apikey":
		if name := n.Keys[id]; name != "" {
			return "API key “" + name + "”"
		}
		return "an API key"
	case "system":
		switch id {
		case "import":
			return "an import"
		case "sender":
			return "sending"
		case "inbox":
			return "the inbox"
		}
		return "Atrium"
	case "":
		return ""
	}
	return actor
}

// fieldLabels name the built-in fields of records as people read them.
var fieldLabels = map[string]string{
	"first_name": "First name", "last_name": "Last name", "email": "Email", "phone": "Phone", "title": "Title",
	"company": "Company", "company_id": "Company", "contact_id": "Contact", "owner_id": "Owner", "assignee_id": "Assignee",
	"stage": "Stage", "stage_id": "Stage", "pipeline_id": "Pipeline", "status": "Status", "tags": "Tags", "name": "Name",
	"domain": "Domain", "industry": "Industry", "size": "Size", "due_date": "Due date", "value": "Value", "currency": "Currency",
	"expected_close": "Expected close", "lost_reason": "Lost reason", "body": "Note", "done": "Done", "role": "Role", "deal_id": "Deal",
	// Mailboxes' settings, where the first letters are not a word.
	"dkim_selector": "DKIM selector", "dkim_private_key": "DKIM private key", "smtp_host": "SMTP host", "smtp_port": "SMTP port",
	"imap_host": "IMAP host", "imap_port": "IMAP port", "imap_tls": "IMAP TLS", "imap_folder": "IMAP folder",
	"imap_username": "IMAP username", "imap_password": "IMAP password", "tls_mode": "TLS mode",
}

// fieldOrder is the order in which a change's fields are told.
var fieldOrder = []string{"merged_from", "merged_into", "first_name", "last_name", "name", "title", "email", "phone", "company", "company_id", "contact_id",
	"stage", "pipeline_id", "stage_id", "status", "owner_id", "assignee_id", "value", "currency", "due_date", "tags"}

// Describe fills each item's Author and Lines: the item in words.
func (n *Names) Describe(items []TimelineItem) {
	for i := range items {
		it := &items[i]
		it.Author = n.Actor(it.Actor)
		switch it.Kind {
		case "changed", "merged":
			it.Lines = n.ChangeLines(it.Changes())
		case "imported":
			ch := it.Changes()
			if f := ValueText(ch["file"].After); f != "—" {
				it.Lines = []string{"Imported from " + f}
			} else if s := ValueText(ch["source"].After); s != "—" {
				it.Lines = []string{"Created in " + s + " on " + it.At.UTC().Format("2 January 2006")}
			} else {
				it.Lines = []string{"Imported"}
			}
		}
	}
}

// ChangeLines tells each changed field as "Owner changed from — to Maya":
// members, keys, stages and pipelines by name, custom fields by label.
func (n *Names) ChangeLines(changes map[string]Change) []string {
	return n.changeLines(n.Fields, changes)
}

func (n *Names) changeLines(fields map[string]string, changes map[string]Change) []string {
	keys := slices.Collect(maps.Keys(changes))
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := orderOf(a), orderOf(b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	var lines []string
	for _, k := range keys {
		ch := changes[k]
		switch k {
		case "custom":
			lines = append(lines, customLines(fields, ch)...)
		case "merged_from", "merged_into":
			// A merge (store.MergeContacts, MergeCompanies): the record
			// merged in, then the one it went into.
			lines = append(lines, fmt.Sprintf("Merged %s into %s", ValueText(ch.Before), ValueText(ch.After)))
		case "done":
			if ch.After == true {
				lines = append(lines, "Marked done")
			} else {
				lines = append(lines, "Reopened")
			}
		default:
			label := fieldLabels[k]
			if label == "" {
				label = strings.ToUpper(k[:1]) + strings.ReplaceAll(k[1:], "_", " ")
			}
			lines = append(lines, fmt.Sprintf("%s changed from %s to %s", label, n.value(k, ch.Before), n.value(k, ch.After)))
		}
	}
	return lines
}

func orderOf(field string) int {
	if i := slices.Index(fieldOrder, field); i >= 0 {
		return i
	}
	return len(fieldOrder)
}

// value shows one value of a field, ids by the name they stand for.
func (n *Names) value(field string, v any) string {
	s, isString := v.(string)
	if !isString || s == "" {
		return ValueText(v)
	}
	var names map[string]string
	switch field {
	case "owner_id", "assignee_id":
		names = n.Members
	case "stage_id":
		names = n.Stages
	case "pipeline_id":
		names = n.Pipelines
	case "company_id", "contact_id", "deal_id":
		names = n.Records
	case "stage", "status":
		return strings.ToUpper(s[:1]) + s[1:]
	default:
		return ValueText(v)
	}
	if name := names[s]; name != "" {
		return name
	}
	if field == "owner_id" || field == "assignee_id" {
		return "a former member"
	}
	return "a deleted " + strings.ToLower(fieldLabels[field])
}

// customLines tells the custom fields whose values differ, by label.
func customLines(fields map[string]string, ch Change) []string {
	before, _ := ch.Before.(map[string]any)
	after, _ := ch.After.(map[string]any)
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		b, a := ValueText(before[k]), ValueText(after[k])
		if b == a {
			continue
		}
		label := fields[k]
		if label == "" {
			label = k // a field deleted since
		}
		lines = append(lines, fmt.Sprintf("%s changed from %s to %s", label, b, a))
	}
	return lines
}

// ValueText shows a value of a change as people read it: "—" for none,
// long text cut (on a character), yes or no, a list with commas.
func ValueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		if x == "" {
			return "—"
		}
		if r := []rune(x); len(r) > 120 {
			return string(r[:120]) + "…"
		}
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, ValueText(e))
		}
		if len(parts) == 0 {
			return "—"
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
