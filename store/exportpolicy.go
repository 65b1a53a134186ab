package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// settingListExport is the workspace setting naming the lowest role that
// may export lists (contacts, companies, deals…) as files.
const settingListExport = "lists.export_role"

// ListExportRoles are its values, strictest first.
var ListExportRoles = []string{"admin", "member", "viewer"}

// DefaultListExportRole applies when the setting was never made.
const DefaultListExportRole = "member"

// ListExportRole returns the lowest role that may export lists.
func ListExportRole(ctx context.Context, q sqlx.QueryerContext) (string, error) {
	var v string
	err := sqlx.GetContext(ctx, q, &v, `SELECT value FROM workspace_settings WHERE key = ?`, settingListExport)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !contains(ListExportRoles, v)) {
		return DefaultListExportRole, nil
	}
	return v, err
}

// MayExportLists says whether a member of role may export lists.
func MayExportLists(ctx context.Context, q sqlx.QueryerContext, role string) (bool, error) {
	min, err := ListExportRole(ctx, q)
	if err != nil {
		return false, err
	}
	return RoleRank(role) >= RoleRank(min), nil
}

// SetListExportRole changes who may export lists; the change is audited.
func SetListExportRole(ctx context.Context, db *DB, a Actor, role string) error {
	if !contains(ListExportRoles, role) {
		return FieldError("list_export", "Choose admins only, members and above, or everyone including viewers.")
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := ListExportRole(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO workspace_settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, settingListExport, role); err != nil {
			return err
		}
		ch := map[string]Change{}
		diff(ch, "list_export", before, role)
		if len(ch) == 0 {
			return nil
		}
		return audit(ctx, tx, a, "settings.update", KindWorkspace, "", ch)
	})
}
