package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Custom holds a record's custom field values by key; stored as JSON.
type Custom map[string]any

// Value stores Custom as a JSON object.
func (c Custom) Value() (driver.Value, error) {
	if c == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]any(c))
	return string(b), err
}

// Scan reads Custom from its JSON text.
func (c *Custom) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		*c = Custom{}
		return nil
	default:
		return fmt.Errorf("custom: cannot scan %T", src)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = m
	return nil
}

// newID returns a new record id: a UUIDv7, so ids sort by creation time.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// NewID returns a new record id, for records made outside this package
// (the sender's ledger rows).
func NewID() string { return newID() }

// ValidID reports whether s is a canonical lower-case UUID.
func ValidID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// cleanText trims a text field and checks its length and characters.
func cleanText(field, label, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		return "", FieldError(field, "%s is not valid UTF-8.", label)
	case utf8.RuneCountInString(s) > max:
		return "", FieldError(field, "%s is longer than %d characters.", label, max)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) >= 0:
		return "", FieldError(field, "%s contains control characters.", label)
	}
	return s, nil
}

// MaxTags and MaxTagLength bound a record's tags.
const (
	MaxTags      = 50
	MaxTagLength = 50
)

// cleanTags trims, de-duplicates (in any letter case) and checks tags.
func cleanTags(tags []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, t := range tags {
		t, err := cleanText("tags", "A tag", t, MaxTagLength)
		if err != nil {
			return nil, err
		}
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		seen[strings.ToLower(t)] = true
		out = append(out, t)
	}
	if len(out) > MaxTags {
		return nil, FieldError("tags", "A record can have at most %d tags.", MaxTags)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out, nil
}

// tagTable names the link table of contacts' or companies' tags.
func tagTable(k Kind) (table, column string, err error) {
	column, err = k.recordColumn()
	return string(k) + "_tags", column, err
}

// setTags replaces a record's tags, creating tags as needed.
func setTags(ctx context.Context, tx *sqlx.Tx, k Kind, id string, tags []string) error {
	table, col, err := tagTable(k)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+col+` = ?`, id); err != nil {
		return err
	}
	return addTags(ctx, tx, k, id, tags)
}

// addTags adds tags to a record, keeping the ones it has.
func addTags(ctx context.Context, tx *sqlx.Tx, k Kind, id string, tags []string) error {
	table, col, err := tagTable(k)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+table+` (`+col+`, tag_seq) SELECT ?, seq FROM tags WHERE name = ?`, id, t); err != nil {
			return err
		}
	}
	return nil
}

// tagsOf returns the tags of the given records, by record id.
func tagsOf(ctx context.Context, q sqlx.QueryerContext, k Kind, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	table, col, err := tagTable(k)
	if err != nil {
		return nil, err
	}
	query, args, err := sqlx.In(`SELECT l.`+col+` AS id, t.name FROM `+table+` l JOIN tags t ON t.seq = l.tag_seq
		WHERE l.`+col+` IN (?) ORDER BY t.name COLLATE NOCASE`, ids)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = append(out[id], name)
	}
	return out, rows.Err()
}

// AllTags returns every tag name of the workspace, for filters and pickers.
func AllTags(ctx context.Context, db *DB) ([]string, error) {
	var tags []string
	err := db.R.SelectContext(ctx, &tags, `SELECT name FROM tags ORDER BY name COLLATE NOCASE`)
	return tags, err
}

// diff records the change of one field in changes when before and after differ.
func diff(changes map[string]Change, field string, before, after any) {
	if fmt.Sprint(before) != fmt.Sprint(after) {
		changes[field] = Change{Before: before, After: after}
	}
}
