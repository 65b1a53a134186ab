package store

import (
	"context"
	"strings"
)

// CompanyIDByName finds the oldest company with this name, in any letter case.
func CompanyIDByName(ctx context.Context, db *DB, name string) (string, error) {
	var id string
	err := getOne(ctx, db.R, &id, "company", `SELECT id FROM companies WHERE name = ? COLLATE NOCASE ORDER BY seq LIMIT 1`, strings.TrimSpace(name))
	return id, err
}
