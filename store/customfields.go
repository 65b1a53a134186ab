package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// CustomField is a field a workspace adds to contacts, companies or deals.
type CustomField struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	Entity    Kind      `db:"entity" json:"entity"`
	Key       string    `db:"key" json:"key"`
	Label     string    `db:"label" json:"label"`
	Type      string    `db:"type" json:"type"`
	Options   string    `db:"options" json:"-"`
	Position  int       `db:"position" json:"position"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// OptionList returns the choices of a select field.
func (f CustomField) OptionList() []string {
	var opts []string
	json.Unmarshal([]byte(f.Options), &opts)
	return opts
}

// option returns the option s names, in any letter case and spacing.
func (f CustomField) option(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, o := range f.OptionList() {
		if strings.EqualFold(o, s) {
			return o, true
		}
	}
	return "", false
}

// CustomFieldTypes are the kinds of custom field.
var CustomFieldTypes = []string{"text", "number", "date", "select", "multiselect", "checkbox", "url", "email", "phone"}

// hasOptions says whether a field of the type picks from its options.
func hasOptions(typ string) bool { return typ == "select" || typ == "multiselect" }

var customKey = regexp.MustCompile(fmt.Sprintf(`^[a-z][a-z0-9_]{0,%d}$`, maxCustomKey-1))

// NewCustomField is what defining a custom field takes.
type NewCustomField struct {
	Entity, Key, Label, Type string
	Options                  []string
}

// CreateCustomField defines a custom field for contacts, companies or deals.
func CreateCustomField(ctx context.Context, db *DB, a Actor, in NewCustomField) (*CustomField, error) {
	kind, err := ParseKind(in.Entity)
	if err != nil || !kind.hasCustomFields() {
		return nil, FieldError("entity", "Custom fields belong to contacts, companies or deals.")
	}
	label, err := cleanText("label", "The label", in.Label, maxFieldLabel)
	if err != nil {
		return nil, err
	}
	if label == "" {
		return nil, FieldError("label", "The label is empty.")
	}
	key := in.Key
	if key == "" {
		key = keyFromLabel(label)
	}
	if !customKey.MatchString(key) {
		return nil, FieldError("key", "The key must start with a letter and use lower-case letters, digits and underscores (at most 40).")
	}
	if !contains(CustomFieldTypes, in.Type) {
		return nil, FieldError("type", "The type must be one of %s.", strings.Join(CustomFieldTypes, ", "))
	}
	opts, err := cleanOptions(in.Type, in.Options)
	if err != nil {
		return nil, err
	}
	optJSON, _ := json.Marshal(opts)
	f := &CustomField{ID: newID(), Entity: kind, Key: key, Label: label, Type: in.Type, Options: string(optJSON), CreatedAt: time.Now().UTC()}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &f.Position, `SELECT coalesce(max(position), 0) + 1 FROM custom_fields WHERE entity = ?`, f.Entity); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, `INSERT INTO custom_fields (id, entity, key, label, type, options, position, created_at)
			VALUES (:id, :entity, :key, :label, :type, :options, :position, :created_at)`, f)
		if isUniqueViolation(err) {
			return FieldError("key", "There is already a field with the key %s.", key)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, a, "custom_field.create", KindCustomField, f.ID, map[string]Change{"key": {After: key}, "type": {After: in.Type}})
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func cleanOptions(typ string, options []string) ([]string, error) {
	if !hasOptions(typ) {
		return []string{}, nil
	}
	var out []string
	for _, o := range options {
		o, err := cleanText("options", "An option", o, maxFieldLabel)
		if err != nil {
			return nil, err
		}
		if o != "" && !contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, FieldError("options", "A %s field needs at least one option.", typ)
	}
	if len(out) > maxFieldOptions {
		return nil, FieldError("options", "A field takes at most %d options.", maxFieldOptions)
	}
	return out, nil
}

func keyFromLabel(label string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(label) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	key := strings.Trim(b.String(), "_")
	if key == "" || key[0] < 'a' {
		key = "field_" + key
	}
	if len(key) > maxCustomKey {
		key = key[:maxCustomKey]
	}
	return key
}

// CustomFields returns the custom fields of contacts, companies or deals, in order.
func CustomFields(ctx context.Context, db *DB, k Kind) ([]CustomField, error) {
	return customFields(ctx, db.R, k)
}

func customFields(ctx context.Context, q sqlx.QueryerContext, k Kind) ([]CustomField, error) {
	if !k.hasCustomFields() {
		return nil, Errorf(EInvalid, "Only contacts, companies and deals have custom fields, not a %s.", k)
	}
	var fs []CustomField
	err := sqlx.SelectContext(ctx, q, &fs, `SELECT * FROM custom_fields WHERE entity = ? ORDER BY position, seq`, k)
	return fs, err
}

// CustomFieldChange is an edit of a field: its label, and the options of
// a select or multi-select field. Its key and type stay: records hold
// values under the key, of the type.
type CustomFieldChange struct {
	Label   string
	Options []string // ignored for a field without options
}

// UpdateCustomField renames a field or changes its options. Values of an
// option taken away stay in the records that hold them (and in exports)
// until they are edited.
func UpdateCustomField(ctx context.Context, db *DB, a Actor, id string, in CustomFieldChange) (*CustomField, error) {
	label, err := cleanText("label", "The label", in.Label, maxFieldLabel)
	if err != nil {
		return nil, err
	}
	if label == "" {
		return nil, FieldError("label", "The label is empty.")
	}
	var f CustomField
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &f, `SELECT * FROM custom_fields WHERE id = ?`, id); errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That custom field does not exist.")
		} else if err != nil {
			return err
		}
		changes := map[string]Change{}
		if label != f.Label {
			changes["label"] = Change{Before: f.Label, After: label}
			f.Label = label
		}
		if hasOptions(f.Type) {
			opts, err := cleanOptions(f.Type, in.Options)
			if err != nil {
				return err
			}
			optJSON, _ := json.Marshal(opts)
			if string(optJSON) != f.Options {
				changes["options"] = Change{Before: f.OptionList(), After: opts}
				f.Options = string(optJSON)
			}
		}
		if len(changes) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE custom_fields SET label = ?, options = ? WHERE id = ?`, f.Label, f.Options, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "custom_field.update", KindCustomField, id, changes)
	})
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// MoveCustomField moves a field one place up (earlier on forms and pages)
// or down among its entity's fields; at either end it stays.
func MoveCustomField(ctx context.Context, db *DB, a Actor, id string, up bool) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var f CustomField
		if err := tx.GetContext(ctx, &f, `SELECT * FROM custom_fields WHERE id = ?`, id); errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That custom field does not exist.")
		} else if err != nil {
			return err
		}
		fields, err := customFields(ctx, tx, f.Entity)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(fields, func(x CustomField) bool { return x.ID == id })
		j := i + 1
		if up {
			j = i - 1
		}
		if j < 0 || j >= len(fields) {
			return nil
		}
		fields[i], fields[j] = fields[j], fields[i]
		// Positions are renumbered 1… in the new order: older fields may
		// share a position.
		for pos, x := range fields {
			if _, err := tx.ExecContext(ctx, `UPDATE custom_fields SET position = ? WHERE id = ?`, pos+1, x.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "custom_field.move", KindCustomField, id, map[string]Change{"position": {Before: i + 1, After: j + 1}})
	})
}

// DeleteCustomField removes a field definition; values stay in records'
// JSON but are no longer shown or accepted.
func DeleteCustomField(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM custom_fields WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return Errorf(ENotFound, "That custom field does not exist.")
		}
		return audit(ctx, tx, a, "custom_field.delete", KindCustomField, id, nil)
	})
}

// applyCustom merges input values into current after checking each against
// its field definition; a nil input value removes the key.
func applyCustom(defs []CustomField, current Custom, input map[string]any) (Custom, error) {
	out := Custom{}
	for k, v := range current {
		out[k] = v
	}
	byKey := map[string]CustomField{}
	for _, d := range defs {
		byKey[d.Key] = d
	}
	for k, v := range input {
		def, ok := byKey[k]
		if !ok {
			return nil, FieldError("custom."+k, "%s is not a custom field here.", k)
		}
		if v == nil || v == "" {
			delete(out, k)
			continue
		}
		val, err := customValue(def, v)
		if err != nil {
			return nil, err
		}
		if list, ok := val.([]any); ok && len(list) == 0 {
			delete(out, k) // nothing picked
			continue
		}
		out[k] = val
	}
	return out, nil
}

// customValue checks one value against its field's type. Forms send text,
// JSON sends typed values; both are accepted where they mean the same.
func customValue(def CustomField, v any) (any, error) {
	field := "custom." + def.Key
	switch def.Type {
	case "number":
		switch n := v.(type) {
		case float64:
			return n, nil
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil {
				return f, nil
			}
		}
		return nil, FieldError(field, "%s must be a number.", def.Label)
	case "date":
		s, ok := v.(string)
		if _, err := time.Parse("2006-01-02", strings.TrimSpace(s)); !ok || err != nil {
			return nil, FieldError(field, "%s must be a date written YYYY-MM-DD.", def.Label)
		}
		return strings.TrimSpace(s), nil
	case "url":
		s, ok := v.(string)
		if s = strings.TrimSpace(s); !ok || !isURL(s) || len(s) > maxCustomText {
			return nil, FieldError(field, "%s must be a web address, such as https://example.com.", def.Label)
		}
		return s, nil
	case "select":
		s, ok := v.(string)
		o, known := def.option(s)
		if !ok || !known {
			return nil, FieldError(field, "%s must be one of: %s.", def.Label, strings.Join(def.OptionList(), ", "))
		}
		return o, nil
	case "multiselect":
		return multiValue(def, field, v)
	case "checkbox":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "yes", "on", "1", "x":
				return true, nil
			case "false", "no", "off", "0":
				return false, nil
			}
		}
		return nil, FieldError(field, "%s must be yes or no.", def.Label)
	case "email":
		s, ok := v.(string)
		if !ok {
			return nil, FieldError(field, "%s must be an email address.", def.Label)
		}
		email, err := NormalizeEmail(strings.TrimSpace(s))
		if err != nil {
			return nil, FieldError(field, "%s must be an email address, such as ana@example.com.", def.Label)
		}
		return email, nil
	case "phone":
		s, ok := v.(string)
		if s = strings.TrimSpace(s); !ok || !phoneNumber.MatchString(s) {
			return nil, FieldError(field, "%s must be a phone number: digits, spaces and + ( ) - . only.", def.Label)
		}
		return s, nil
	default:
		s, ok := v.(string)
		if !ok {
			return nil, FieldError(field, "%s must be text.", def.Label)
		}
		return cleanText(field, def.Label, s, maxCustomText)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// phoneNumber is what a phone field takes: digits with the usual
// separators, an optional leading +, and an extension.
var phoneNumber = regexp.MustCompile(`^\+?[0-9 ()./-]{3,30}( ?(x|ext\.?) ?[0-9]{1,6})?$`)

// multiValue checks the values of a multi-select field: a list (JSON, or a
// form's repeated field) or text with commas or semicolons between them
// (CSV). They come back in the options' order, each once.
func multiValue(def CustomField, field string, v any) (any, error) {
	var picked []string
	switch x := v.(type) {
	case string:
		picked = strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ';' })
	case []string:
		picked = x
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, FieldError(field, "%s must be a list of its options.", def.Label)
			}
			picked = append(picked, s)
		}
	default:
		return nil, FieldError(field, "%s must be a list of its options.", def.Label)
	}
	chosen := map[string]bool{}
	for _, p := range picked {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		o, known := def.option(p)
		if !known {
			return nil, FieldError(field, "%s takes only: %s (not %s).", def.Label, strings.Join(def.OptionList(), ", "), p)
		}
		chosen[o] = true
	}
	out := []any{}
	for _, o := range def.OptionList() {
		if chosen[o] {
			out = append(out, o)
		}
	}
	return out, nil
}

// CustomText shows a custom field value as text: numbers as written, yes
// or no, a multi-select's values with commas.
func CustomText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	case bool:
		if x {
			return "Yes"
		}
		return "No"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = CustomText(e)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
