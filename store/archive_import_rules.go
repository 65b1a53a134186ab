package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"atrium/outreach/mailmerge"
)

// An imported workspace file is written by whoever made it, not by our
// write paths: a schema-valid file can still hold a 200 MiB note or a
// retention setting that is not a number, and every page showing them then
// renders megabytes or fails. importTables states, for every table of the
// schema, what each column may hold — the limits and types a normal write
// enforces, read from the same constants — and checkRows refuses the file
// at the first row that breaks one.

// importTable is the row rules of one table.
type importTable struct {
	name  string
	row   string // SQL naming a row in a refusal: its seq, rowid or key
	rules []importRule
}

// importRule is one column's condition.
type importRule struct {
	column string
	check  string // SQL, true of every row our write paths can make
	want   string // what the column must hold, for the refusal
}

// Generous bounds where the write paths set none, so an imported row cannot
// make a page render megabytes.
const (
	// maxJSONBytes bounds the JSON of a record's custom values, a timeline
	// entry's and an audit event's changes. Writes bound each value (custom
	// text at 1,000 characters, a note at 20,000) but not their number.
	maxJSONBytes = 1 << 20
	// maxFieldOptions bounds the choices of a select field.
	maxFieldOptions = 1000
	// maxActorLength bounds "user:<id>", "apikey:<id>", "system:<name>".
	maxActorLength = 150
	// maxAuditWord bounds an audit event's action and entity type, both
	// short words the code writes, such as "contact.update".
	maxAuditWord = 100
	// maxIPLength bounds a client address: an IPv6 address is at most 45
	// characters, but behind a trusted proxy X-Forwarded-For is taken as sent.
	maxIPLength = 255
)

// importTables are the rules of the latest workspace schema. Tables left
// out are in importUnchecked; a test fails when a table is in neither.
func importTables() []importTable {
	bySeq := `'seq ' || seq`
	return []importTable{
		{"custom_fields", bySeq, []importRule{
			uuidRule("id"),
			enumRule("entity", kindNames(customFieldKinds)),
			{"key", customKeySQL("key"), fmt.Sprintf("a key of lower-case letters, digits and underscores starting with a letter, at most %d", maxCustomKey)},
			textRule("label", 1, maxFieldLabel),
			enumRule("type", CustomFieldTypes),
			{"options", fmt.Sprintf(`CASE WHEN typeof(options) <> 'text' OR length(CAST(options AS BLOB)) > %d THEN 0
				WHEN NOT json_valid(options) THEN 0 WHEN json_type(options) <> 'array' THEN 0
				WHEN json_array_length(options) > %d OR (type IN ('select', 'multiselect')) <> (json_array_length(options) > 0) THEN 0
				ELSE NOT EXISTS (SELECT 1 FROM json_each(options) WHERE type <> 'text' OR NOT (%s)) END`,
				maxJSONBytes, maxFieldOptions, textSQL("value", 1, maxFieldLabel)),
				fmt.Sprintf("a JSON array of 1 to %d options of at most %d characters for a select or multiselect field, empty for another", maxFieldOptions, maxFieldLabel)},
			intRule("position"),
			timeRule("created_at"),
		}},
		{"companies", bySeq, []importRule{
			uuidRule("id"),
			textRule("name", 1, maxRecordTitle),
			{"name_key", `name_key IS company_name_key(name)`, "the key of the name (store.CompanyNameKey)"},
			{"domain", domainSQL("domain"), "empty or a lower-case domain such as example.com"},
			textRule("industry", 0, maxShortName),
			{"size", fmt.Sprintf(`size = '' OR size IN (%s)`, sqlList(CompanySizes)), "empty or one of " + strings.Join(CompanySizes, ", ")},
			textRule("owner_id", 0, maxMemberRef),
			customRule("custom"),
			timeRule("created_at"),
			timeRule("updated_at"),
			versionRule(),
		}},
		{"contacts", bySeq, []importRule{
			uuidRule("id"),
			textRule("first_name", 0, maxPersonName),
			textRule("last_name", 0, maxPersonName),
			{"email", emailSQL("email"), fmt.Sprintf("empty or an email address of at most %d characters", maxEmailAddress)},
			{"first_name", `first_name <> '' OR last_name <> '' OR email <> ''`, "set: a contact needs a name or an email"},
			textRule("phone", 0, maxPhone),
			textRule("title", 0, maxPersonName),
			refRule("company_id"),
			// The write path only trims a contact's owner; companies bound theirs.
			textRule("owner_id", 0, maxMemberRef),
			enumRule("stage", Stages),
			customRule("custom"),
			timeRule("created_at"),
			timeRule("updated_at"),
			versionRule(),
		}},
		{"notes", bySeq, []importRule{
			uuidRule("id"),
			refRule("contact_id"),
			refRule("company_id"),
			refRule("deal_id"),
			recordParentRule(),
			textRule("author_id", 0, maxMemberRef),
			textRule("body", 1, MaxNoteLength),
			timeRule("created_at"),
			timeRule("updated_at"),
			versionRule(),
		}},
		{"mailboxes", bySeq, mailboxRules()},
		{"sequences", bySeq, []importRule{
			uuidRule("id"),
			oneLineRule("name", 1, maxSequenceName),
			enumRule("state", []string{SequenceDraft, SequenceActive, SequencePaused, SequenceArchived}),
			{"stop_on_reply", `stop_on_reply IN (0, 1)`, "0 or 1"},
			{"stop_by_domain", `stop_by_domain IN (0, 1)`, "0 or 1"},
			oneLineRule("paused_reason", 0, 200),
			timeRule("created_at"),
			timeRule("updated_at"),
		}},
		{"sequence_mailboxes", `sequence_id || ' ' || mailbox_id`, []importRule{uuidRule("sequence_id"), uuidRule("mailbox_id")}},
		{"sequence_steps", bySeq, []importRule{
			uuidRule("id"),
			uuidRule("sequence_id"),
			// REAL: a step inserted between two takes a position between theirs.
			{"position", `typeof(position) IN ('real', 'integer') AND position >= 0 AND position < 1e9`, "a number from 0"},
			enumRule("kind", []string{StepEmail, StepWait, StepTask}),
			{"template_id", `(kind = 'email') = (template_id IS NOT NULL)`, "set for an email step, and only then"},
			refRule("template_id"),
			refRule("variant_id"),
			{"wait_minutes", fmt.Sprintf(`typeof(wait_minutes) = 'integer' AND wait_minutes BETWEEN 0 AND %d`, maxWaitMinutes), "minutes, at most a year"},
			{"business_days", `business_days IN (0, 1)`, "0 or 1"},
			oneLineRule("task_title", 0, maxRecordTitle),
			timeRule("created_at"),
			timeRule("updated_at"),
		}},
		{"enrollments", bySeq, []importRule{
			uuidRule("id"),
			uuidRule("sequence_id"),
			uuidRule("contact_id"),
			uuidRule("mailbox_id"),
			enumRule("variant", []string{"a", "b"}),
			enumRule("state", []string{EnrollmentActive, EnrollmentPaused, EnrollmentFinished, EnrollmentStopped}),
			oneLineRule("stop_reason", 0, 100),
			{"done_position", `typeof(done_position) IN ('real', 'integer') AND done_position >= -1 AND done_position < 1e9`, "a number from -1"},
			intRule("next_at"),
			timeRule("created_at"),
			timeRule("updated_at"),
		}},
		{"messages", bySeq, []importRule{
			uuidRule("id"),
			uuidRule("enrollment_id"),
			uuidRule("step_id"),
			uuidRule("sequence_id"),
			uuidRule("contact_id"),
			uuidRule("mailbox_id"),
			{"to_email", fmt.Sprintf(`to_email <> '' AND (%s)`, emailSQL("to_email")), "an email address"},
			oneLineRule("subject", 0, 1000),
			enumRule("variant", []string{"a", "b"}),
			oneLineRule("message_id", 1, 250),
			// A message being sent when the file was copied comes in as
			// unknown (see the archive import).
			enumRule("state", MessageStates),
			textRule("error", 0, 2000),
			intRule("attempts"),
			timeRule("created_at"),
			timeRule("updated_at"),
			nullableTimeRule("sent_at"),
		}},
		{"replies", bySeq, []importRule{
			uuidRule("id"),
			uuidRule("mailbox_id"),
			uuidRule("message_id"),
			uuidRule("contact_id"),
			uuidRule("sequence_id"),
			uuidRule("step_id"),
			enumRule("kind", []string{ReplyPerson, ReplyAuto}),
			oneLineRule("inbound_id", 0, 250),
			{"from_email", emailSQL("from_email"), "empty or an email address"},
			oneLineRule("from_name", 0, maxPersonName),
			oneLineRule("subject", 0, 1000),
			textRule("body", 0, 20_000),
			{"category", fmt.Sprintf(`category = '' OR category IN (%s)`, sqlList(ReplyCategories)), "empty or one of " + strings.Join(ReplyCategories, ", ")},
			{"handled", `handled IN (0, 1)`, "0 or 1"},
			actorRule("handled_by", true),
			timeRule("received_at"),
			timeRule("created_at"),
			timeRule("updated_at"),
		}},
		{"bounce_counts", `'hash ' || quote(substr(email_hash, 1, 64))`, []importRule{
			{"email_hash", `typeof(email_hash) = 'text' AND length(email_hash) = 64 AND email_hash NOT GLOB '*[^0-9a-f]*'`, "a SHA-256 in lower-case hex"},
			intRule("soft"),
			oneLineRule("last_status", 0, 20),
			timeRule("updated_at"),
		}},
		{"message_links", `'message ' || quote(substr(message_id, 1, 40)) || ' link ' || quote(link_index)`, []importRule{
			uuidRule("message_id"),
			{"link_index", `typeof(link_index) = 'integer' AND link_index >= 0`, "a whole number from 0"},
			{"url", fmt.Sprintf(`(%s) AND (url GLOB 'http://?*' OR url GLOB 'https://?*')`, textSQL("url", 1, MaxTrackedURL)),
				fmt.Sprintf("an http or https URL of at most %d characters", MaxTrackedURL)},
		}},
		{"tracking_events", bySeq, []importRule{
			uuidRule("message_id"),
			enumRule("kind", []string{TrackOpen, TrackClick}),
			{"link_index", `link_index IS NULL OR (typeof(link_index) = 'integer' AND link_index >= 0)`, "empty or a whole number from 0"},
			{"url", fmt.Sprintf(`url = '' OR ((%s) AND (url GLOB 'http://?*' OR url GLOB 'https://?*'))`, textSQL("url", 1, MaxTrackedURL)),
				fmt.Sprintf("empty or an http or https URL of at most %d characters", MaxTrackedURL)},
			{"prefetch", `typeof(prefetch) = 'integer' AND prefetch IN (0, 1)`, "0 or 1"},
			oneLineRule("user_agent", 0, maxTrackedUserAgent),
			timeRule("created_at"),
		}},
		{"suppressions", bySeq, []importRule{
			uuidRule("id"),
			// NULL once the person was erased; otherwise as SuppressionEmail
			// keeps it. The hash is made again from it at import.
			{"email", fmt.Sprintf(`email IS NULL OR (email <> '' AND email = lower(email) AND (%s))`, emailSQL("email")), "empty or a lower-case email address"},
			{"email_hash", `typeof(email_hash) = 'text' AND length(email_hash) = 64 AND email_hash NOT GLOB '*[^0-9a-f]*'`, "a SHA-256 in lower-case hex"},
			enumRule("reason", SuppressionReasons),
			textRule("detail", 0, maxSuppressionDetail),
			timeRule("created_at"),
			actorRule("created_by", true),
		}},
		{"tasks", bySeq, []importRule{
			uuidRule("id"),
			refRule("contact_id"),
			refRule("company_id"),
			refRule("deal_id"),
			recordParentRule(),
			textRule("title", 1, maxRecordTitle),
			dateRule("due_date"),
			textRule("assignee_id", 0, maxMemberRef),
			{"done", `typeof(done) = 'integer' AND done IN (0, 1)`, "0 or 1"},
			nullableTimeRule("done_at"),
			actorRule("created_by", true),
			timeRule("created_at"),
			timeRule("updated_at"),
			versionRule(),
		}},
		{"tags", bySeq, []importRule{
			textRule("name", 1, MaxTagLength),
		}},
		tagLinks(KindContact),
		tagLinks(KindCompany),
		{"pipelines", bySeq, []importRule{
			uuidRule("id"),
			textRule("name", 1, maxShortName),
			intRule("position"),
			timeRule("created_at"),
			timeRule("updated_at"),
		}},
		{"stages", bySeq, []importRule{
			uuidRule("id"),
			uuidRule("pipeline_id"),
			textRule("name", 1, maxShortName),
			{"probability", `typeof(probability) = 'integer' AND probability BETWEEN 0 AND 100`, "a whole percentage from 0 to 100"},
			intRule("position"),
			timeRule("created_at"),
		}},
		{"deals", bySeq, []importRule{
			uuidRule("id"),
			textRule("title", 1, maxRecordTitle),
			{"currency", `typeof(currency) = 'text' AND length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'`, "a three-letter currency code such as EUR"},
			{"value_minor", moneySQL("value_minor", "currency"), fmt.Sprintf("a whole number of the currency's minor unit (cents), from 0 to %d digits before the decimals", maxMoneyDigits)},
			uuidRule("pipeline_id"),
			uuidRule("stage_id"),
			{"stage_id", `EXISTS (SELECT 1 FROM stages s WHERE s.id = deals.stage_id AND s.pipeline_id = deals.pipeline_id)`, "a stage of the deal's pipeline"},
			refRule("contact_id"),
			refRule("company_id"),
			textRule("owner_id", 0, maxMemberRef),
			dateRule("expected_close"),
			enumRule("status", DealStatuses),
			textRule("lost_reason", 0, maxLostReason),
			customRule("custom"),
			nullableTimeRule("closed_at"),
			timeRule("created_at"),
			timeRule("updated_at"),
			versionRule(),
		}},
		{"activities", bySeq, []importRule{
			refRule("contact_id"),
			refRule("company_id"),
			parentRule(),
			enumRule("kind", []string{"created", "changed", "enrolled", "email_sent", "email_replied"}),
			actorRule("actor", false),
			// logActivity marshals a nil map of changes: "null".
			{"detail", `detail = 'null' OR (` + jsonObjectSQL("detail") + `)`, fmt.Sprintf("null or a JSON object of at most %d bytes", maxJSONBytes)},
			timeRule("created_at"),
		}},
		{"workspace_settings", `'key ' || quote(substr(key, 1, 60))`, []importRule{
			enumRule("key", []string{settingAuditDays, settingActivityDays, settingListExport}),
			{"value", fmt.Sprintf(`(key = '%[1]s' AND typeof(value) = 'text' AND value IN (%[2]s)) OR (key <> '%[1]s' AND
				typeof(value) = 'text' AND length(value) BETWEEN 1 AND %[3]d AND value NOT GLOB '*[^0-9]*'
				AND CAST(value AS INTEGER) <= %[4]d AND (value = '0' OR value NOT GLOB '0*'))`,
				settingListExport, sqlList(ListExportRoles), len(fmt.Sprint(MaxRetentionDays)), MaxRetentionDays),
				fmt.Sprintf("a whole number of days from 0 to %d, or for who may export lists one of %s", MaxRetentionDays, strings.Join(ListExportRoles, ", "))},
		}},
		{"audit_log", bySeq, []importRule{
			timeRule("at"),
			actorRule("actor", false),
			{"action", wordSQL("action", 1) + ` AND action GLOB '[a-z]*.[a-z]*'`, "an action such as contact.update"},
			{"entity_type", wordSQL("entity_type", 0), "empty or a word such as contact"},
			textRule("entity_id", 0, maxMemberRef),
			textRule("ip", 0, maxIPLength),
			jsonObjectRule("changes"),
			{"contact_id", `contact_id = '' OR ` + uuidSQL("contact_id"), "empty or a contact id (a lower-case UUID)"},
		}},
		{"templates", bySeq, []importRule{
			uuidRule("id"),
			textRule("name", 1, maxShortName),
			textRule("subject", 1, mailmerge.MaxSubject),
			{"subject", `instr(subject, char(10)) = 0 AND instr(subject, char(13)) = 0`, "one line"},
			{"body", fmt.Sprintf(`typeof(body) = 'text' AND length(CAST(body AS BLOB)) BETWEEN 1 AND %d AND instr(CAST(body AS BLOB), x'00') = 0`, mailmerge.MaxBody),
				fmt.Sprintf("text of 1 to %d bytes without NUL", mailmerge.MaxBody)},
			{"version", `typeof(version) = 'integer' AND version >= 1`, "a whole number from 1"},
			timeRule("created_at"),
			timeRule("updated_at"),
		}},
		{"counters", `'name ' || quote(substr(name, 1, 60))`, []importRule{
			enumRule("name", []string{"contacts", "companies"}),
			{"n", `typeof(n) = 'integer' AND n >= 0`, "a whole number from 0"},
		}},
		// The console's counters (0013): the instance reads them, so they
		// must have the shapes the triggers write.
		{"rollup", `'key ' || quote(substr(key, 1, 60))`, []importRule{
			{"key", `key IN ('version', 'last_activity') OR key GLOB 'open:[A-Z][A-Z][A-Z]'
				OR key GLOB 'won:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]:[A-Z][A-Z][A-Z]'
				OR (substr(key, 1, instr(key, ':')) IN ('sent:', 'replied:', 'bounced:', 'opened:', 'clicked:')
					AND substr(key, instr(key, ':') + 1) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')`, "version, last_activity, open:CUR, won:DAY:CUR, sent:DAY, replied:DAY, bounced:DAY, opened:DAY or clicked:DAY"},
			{"n", `typeof(n) = 'integer' AND n >= 0`, "a whole number from 0"},
			{"value", `typeof(value) = 'integer' AND value >= 0`, "a whole number from 0"},
		}},
	}
}

// versionRule is the rule of a record's version: a write path starts it at
// 1 and only adds to it.
func versionRule() importRule {
	return importRule{"version", `typeof(version) = 'integer' AND version >= 1`, "a whole number from 1"}
}

// importUnchecked are the tables whose rows are not checked, and why.
var importUnchecked = func() map[string]string {
	m := map[string]string{"api_keys": "emptied by every import", "job_reports": "emptied by every import",
		"saved_views": "emptied by every import: keyed by another instance's user ids", "list_columns": "emptied by every import: keyed by another instance's user ids",
		"import_undo": "an unfinished CSV import's log, carried out when the file is opened: it only takes rows of this file out"}
	// Full-text indexes are derived from their tables by triggers, and
	// integrity_check checks them against their content.
	for _, t := range []string{"contacts", "companies", "deals", "notes"} {
		for _, suffix := range []string{"", "_data", "_idx", "_docsize", "_config"} {
			m[t+"_fts"+suffix] = "full-text index of " + t
		}
	}
	return m
}()

// checkRows refuses the file at the first row that breaks a rule, naming
// its table, row and column. One scan per table: a CASE names the first
// rule a row breaks.
func checkRows(ctx context.Context, db *DB) error {
	for _, t := range importTables() {
		var row string
		var i int
		err := db.R.QueryRowxContext(ctx, t.query()).Scan(&row, &i)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return Errorf(EInvalid, "The rows of table %s cannot be checked: %v.", t.name, err)
		}
		r := t.rules[i]
		return Errorf(EInvalid, "Table %s, row %s, column %s: the value is not %s. The file is refused.",
			t.name, truncateText(row, 80), r.column, r.want)
	}
	return nil
}

// query selects the first row breaking a rule, and the rule's index. A
// check that is NULL is broken: coalesce makes it false.
func (t importTable) query() string {
	var cases strings.Builder
	for i, r := range t.rules {
		fmt.Fprintf(&cases, "\n\t\tWHEN NOT coalesce((%s), 0) THEN %d", r.check, i)
	}
	return fmt.Sprintf(`SELECT row, rule FROM (SELECT coalesce(%s, '?') AS row, CASE%s ELSE -1 END AS rule FROM %s) WHERE rule >= 0 LIMIT 1`,
		t.row, cases.String(), t.name)
}

// importTableNames are the tables importTables checks, sorted.
func importTableNames() []string {
	var names []string
	for _, t := range importTables() {
		names = append(names, t.name)
	}
	sort.Strings(names)
	return names
}

// mailboxRules are validateMailbox's checks. The password and the DKIM key
// (and its record) are emptied by every import: they were sealed with
// another workspace's key.
func mailboxRules() []importRule {
	between := func(col string, min, max any) importRule {
		return importRule{col, fmt.Sprintf(`typeof(%[1]s) = 'integer' AND %[1]s BETWEEN %v AND %v`, col, min, max), fmt.Sprintf("a whole number from %v to %v", min, max)}
	}
	hhmm := func(col string) importRule {
		return importRule{col, fmt.Sprintf(`typeof(%[1]s) = 'text' AND %[1]s GLOB '[0-2][0-9]:[0-5][0-9]' AND %[1]s <= '23:59'`, col), "a time of day written HH:MM"}
	}
	return []importRule{
		uuidRule("id"),
		oneLineRule("name", 1, maxMailboxName),
		oneLineRule("from_name", 0, maxPersonName),
		{"from_email", fmt.Sprintf(`from_email <> '' AND (%s)`, emailSQL("from_email")), "an email address"},
		{"reply_to", emailSQL("reply_to"), "empty or an email address"},
		{"smtp_host", fmt.Sprintf(`(%s) AND smtp_host NOT GLOB '*[^a-z0-9.:-]*'`, textSQL("smtp_host", 1, maxHostName)), "a host name"},
		between("smtp_port", 1, 65535),
		enumRule("tls_mode", TLSModes),
		{"tls_mode", `tls_mode <> 'none' OR smtp_host IN ('localhost', '::1') OR smtp_host GLOB '127.[0-9]*'`, "tls or starttls for a server not on this machine"},
		oneLineRule("username", 0, maxSMTPUser),
		between("daily_limit", 1, maxDailyLimit),
		between("gap_min", 0, maxGapSeconds),
		between("gap_max", "gap_min", maxGapSeconds),
		hhmm("window_start"),
		hhmm("window_end"),
		{"window_end", `window_end > window_start`, "after window_start"},
		{"window_days", `typeof(window_days) = 'text' AND window_days GLOB '[1-7]*' AND window_days NOT GLOB '*[^1-7,]*' AND length(window_days) <= 13`, "ISO weekdays 1 to 7, separated by commas"},
		textRule("time_zone", 1, 64),
		between("ramp_per_day", 0, "daily_limit"),
		timeRule("ramp_start"),
		enumRule("state", []string{MailboxActive, MailboxPaused}),
		textRule("last_error", 0, 2000),
		intRule("failures"),
		nullableTimeRule("last_checked_at"),
		{"dkim_selector", fmt.Sprintf(`typeof(dkim_selector) = 'text' AND length(dkim_selector) <= %d AND dkim_selector NOT GLOB '*[^a-z0-9.-]*'`, maxDKIMSelector),
			"empty or a DNS name of letters, digits and hyphens"},
		textRule("dkim_key", 0, 4*maxDKIMKeyPEM), // emptied after the checks
		oneLineRule("dkim_record", 0, 4*maxDKIMKeyPEM),
		oneLineRule("paused_reason", 0, 200),
		{"imap_host", `imap_host = '' OR ((` + textSQL("imap_host", 1, maxHostName) + `) AND imap_host NOT GLOB '*[^a-z0-9.:-]*')`, "empty or a host name"},
		between("imap_port", 1, 65535),
		enumRule("imap_tls", TLSModes),
		{"imap_tls", `imap_tls <> 'none' OR imap_host IN ('', 'localhost', '::1') OR imap_host GLOB '127.[0-9]*'`, "tls or starttls for a server not on this machine"},
		oneLineRule("imap_username", 0, maxSMTPUser),
		textRule("imap_password", 0, 4*maxSMTPPassword), // emptied after the checks
		oneLineRule("imap_folder", 1, maxMailboxName),
		intRule("imap_uidvalidity"),
		intRule("imap_last_uid"),
		intRule("imap_next_poll"),
		nullableTimeRule("imap_last_poll_at"),
		textRule("imap_last_error", 0, 2000),
		intRule("imap_failures"),
		timeRule("created_at"),
		timeRule("updated_at"),
	}
}

// oneLineRule is textRule without line breaks: for values that go into a
// message's header.
func oneLineRule(col string, min, max int) importRule {
	return importRule{col, fmt.Sprintf(`(%s) AND %s NOT GLOB '*[' || char(10, 13) || ']*'`, textSQL(col, min, max), col),
		fmt.Sprintf("one line of at most %d characters", max)}
}

func textRule(col string, min, max int) importRule {
	want := fmt.Sprintf("text of at most %d characters without control characters", max)
	if min > 0 {
		want = fmt.Sprintf("text of %d to %d characters without control characters", min, max)
	}
	return importRule{col, textSQL(col, min, max), want}
}

// textSQL is cleanText's check: a length in characters and no control
// characters but tab and line breaks. The byte length is bounded first
// (at most 4 bytes a character), as SQLite counts characters only up to a
// NUL, which is refused too.
func textSQL(col string, min, max int) string {
	return fmt.Sprintf(`typeof(%[1]s) = 'text' AND length(CAST(%[1]s AS BLOB)) <= %[4]d AND instr(CAST(%[1]s AS BLOB), x'00') = 0
		AND length(%[1]s) BETWEEN %[2]d AND %[3]d AND %[1]s NOT GLOB %[5]s`, col, min, max, 4*max, controlGlob)
}

// controlGlob matches text with a character unicode.IsControl reports
// (C0, DEL, C1), tab, line feed and carriage return excepted.
const controlGlob = `'*[' || char(1) || '-' || char(8, 11, 12, 14) || '-' || char(31, 127) || '-' || char(159) || ']*'`

func uuidRule(col string) importRule {
	return importRule{col, uuidSQL(col), "an id (a lower-case UUID)"}
}

// uuidSQL matches the canonical form ValidID accepts.
func uuidSQL(col string) string {
	h := "[0-9a-f]"
	return fmt.Sprintf(`typeof(%s) = 'text' AND %[1]s GLOB '%s-%s-%s-%s-%s'`, col,
		strings.Repeat(h, 8), strings.Repeat(h, 4), strings.Repeat(h, 4), strings.Repeat(h, 4), strings.Repeat(h, 12))
}

// refRule is a nullable reference: foreign_key_check has checked it names
// a row, this that it is text (an integer would match no id and be kept).
func refRule(col string) importRule {
	return importRule{col, fmt.Sprintf(`%[1]s IS NULL OR (%s)`, col, uuidSQL(col)), "empty or an id (a lower-case UUID)"}
}

// parentRule is an activity's: exactly one of a contact or a company.
func parentRule() importRule {
	return importRule{"contact_id", `(contact_id IS NULL) <> (company_id IS NULL)`, "set when company_id is not, and only then"}
}

// recordParentRule is checkParent's, for notes and tasks: exactly one of
// a contact, a company or a deal.
func recordParentRule() importRule {
	return importRule{"contact_id", `(contact_id IS NOT NULL) + (company_id IS NOT NULL) + (deal_id IS NOT NULL) = 1`,
		"set when neither company_id nor deal_id is, and only then"}
}

func enumRule(col string, values []string) importRule {
	return importRule{col, fmt.Sprintf(`typeof(%s) = 'text' AND %[1]s IN (%s)`, col, sqlList(values)), "one of " + strings.Join(values, ", ")}
}

func intRule(col string) importRule {
	return importRule{col, fmt.Sprintf(`typeof(%s) = 'integer'`, col), "a whole number"}
}

// dateRule is an optional YYYY-MM-DD date, as cleanDate takes it: SQLite's
// date() rolls 2024-02-30 over to March, so a date it changes is refused.
func dateRule(col string) importRule {
	return importRule{col, fmt.Sprintf(`typeof(%[1]s) = 'text' AND (%[1]s = '' OR (%[1]s GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date(%[1]s) IS %[1]s))`, col),
		"empty or a date written YYYY-MM-DD"}
}

// timeRule is a time as the driver writes our UTC times (Go's
// Time.String): "2006-01-02 15:04:05.999999999 +0000 UTC". Anything else
// fails the page scanning it; times also compare as text (retention), so
// another zone would sort wrong.
func timeRule(col string) importRule {
	return importRule{col, timeSQL(col), "a UTC time written like 2006-01-02 15:04:05.999 +0000 UTC"}
}

func nullableTimeRule(col string) importRule {
	return importRule{col, col + ` IS NULL OR (` + timeSQL(col) + `)`, "empty or a UTC time written like 2006-01-02 15:04:05.999 +0000 UTC"}
}

func timeSQL(col string) string {
	return fmt.Sprintf(`typeof(%[1]s) = 'text' AND length(%[1]s) BETWEEN 29 AND 39
		AND %[1]s GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
		AND datetime(substr(%[1]s, 1, 19)) IS substr(%[1]s, 1, 19)
		AND (substr(%[1]s, 20) = ' +0000 UTC'
			OR (substr(%[1]s, 20) GLOB '.[0-9]* +0000 UTC' AND substr(%[1]s, 21, length(%[1]s) - 30) NOT GLOB '*[^0-9]*'))`, col)
}

// actorRule is Actor.String: "system", or a kind and an id, which may be
// empty (the first pipeline is made by "system:").
func actorRule(col string, emptyOK bool) importRule {
	check := fmt.Sprintf(`(%s) AND (%[2]s = 'system' OR %[2]s GLOB 'user:*' OR %[2]s GLOB 'apikey:*' OR %[2]s GLOB 'system:*')`,
		textSQL(col, 1, maxActorLength), col)
	want := fmt.Sprintf("system, or user:, apikey: or system: and an id, at most %d characters", maxActorLength)
	if emptyOK {
		check = col + ` = '' OR (` + check + `)`
		want = "empty, " + want
	}
	return importRule{col, check, want}
}

// wordSQL is a short word of lower-case letters, underscores and dots.
func wordSQL(col string, min int) string {
	return fmt.Sprintf(`typeof(%[1]s) = 'text' AND length(%[1]s) BETWEEN %d AND %d AND %[1]s NOT GLOB '*[^a-z_.]*'`, col, min, maxAuditWord)
}

// jsonObjectRule is JSON of an object, as the write paths marshal maps.
func jsonObjectRule(col string) importRule {
	return importRule{col, jsonObjectSQL(col), fmt.Sprintf("a JSON object of at most %d bytes", maxJSONBytes)}
}

// jsonObjectSQL checks the type and size before json_valid reads the
// text, and json_valid before json_type, which fails the query on bad JSON:
// only CASE is sure to stop at the first test that fails.
func jsonObjectSQL(col string) string {
	return fmt.Sprintf(`CASE WHEN typeof(%[1]s) <> 'text' OR length(CAST(%[1]s AS BLOB)) > %d THEN 0
		WHEN NOT json_valid(%[1]s) THEN 0 ELSE json_type(%[1]s) = 'object' END`, col, maxJSONBytes)
}

// customRule is a record's custom values: an object whose keys are custom
// field keys and values what customValue keeps, a number or text of at
// most maxCustomText characters (dates and select options are text too).
// Keys of deleted fields stay in records, so a key need not be defined.
func customRule(col string) importRule {
	check := fmt.Sprintf(`CASE WHEN NOT (%s) THEN 0
		ELSE NOT EXISTS (SELECT 1 FROM json_each(%s) WHERE NOT (%s) OR type NOT IN ('integer', 'real', 'text')
			OR (type = 'text' AND NOT (%s))) END`, jsonObjectSQL(col), col, customKeySQL("key"), textSQL("value", 0, maxCustomText))
	return importRule{col, check, fmt.Sprintf("a JSON object of custom field keys to numbers or text of at most %d characters", maxCustomText)}
}

// customKeySQL is the customKey pattern.
func customKeySQL(col string) string {
	return fmt.Sprintf(`typeof(%[1]s) = 'text' AND length(%[1]s) BETWEEN 1 AND %d AND %[1]s GLOB '[a-z]*' AND %[1]s NOT GLOB '*[^a-z0-9_]*'`, col, maxCustomKey)
}

// domainSQL is cleanDomain's result, its label-by-label rules loosened to
// the characters and dots.
func domainSQL(col string) string {
	return fmt.Sprintf(`typeof(%[1]s) = 'text' AND (%[1]s = '' OR (length(%[1]s) <= 253 AND %[1]s GLOB '?*.?*'
		AND %[1]s NOT GLOB '*[^a-z0-9.-]*' AND %[1]s NOT GLOB '.*' AND %[1]s NOT GLOB '*.' AND %[1]s NOT GLOB '*..*'))`, col)
}

// emailSQL is NormalizeEmail loosened to what SQL can tell: the length,
// an @ between two parts, no spaces or control characters.
func emailSQL(col string) string {
	return fmt.Sprintf(`%[1]s = '' OR ((%s) AND %[1]s GLOB '?*@?*' AND %[1]s NOT GLOB '*[ ]*')`, col, textSQL(col, 3, maxEmailAddress))
}

// moneySQL is what ParseMoney can return: an integer of minor units from
// 0, with at most maxMoneyDigits digits before the currency's decimals.
func moneySQL(col, currency string) string {
	byExp := map[int][]string{}
	for code, exp := range currencyExponents {
		byExp[exp] = append(byExp[exp], code)
	}
	var cases strings.Builder
	for _, exp := range []int{0, 3} {
		sort.Strings(byExp[exp])
		fmt.Fprintf(&cases, " WHEN %s IN (%s) THEN %s", currency, sqlList(byExp[exp]), "1"+strings.Repeat("0", maxMoneyDigits+exp))
	}
	return fmt.Sprintf(`typeof(%s) = 'integer' AND %[1]s >= 0 AND %[1]s < CASE%s ELSE %s END`,
		col, cases.String(), "1"+strings.Repeat("0", maxMoneyDigits+2))
}

// tagLinks are the rules of a link table between records and tags; its
// rows have no seq, so a refusal names the rowid.
func tagLinks(k Kind) importTable {
	table, col, _ := tagTable(k) // a record kind: no error
	return importTable{table, `'rowid ' || rowid`, []importRule{
		uuidRule(col),
		intRule("tag_seq"),
		{col, fmt.Sprintf(`(SELECT count(*) FROM %[1]s x WHERE x.%[2]s = %[1]s.%[2]s) <= %d`, table, col, MaxTags),
			fmt.Sprintf("a %s with at most %d tags", k, MaxTags)},
	}}
}

// sqlList writes values as a list of SQL string literals.
func sqlList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}
