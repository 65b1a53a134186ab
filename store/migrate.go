package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

//go:embed migrations
var migrationFS embed.FS

// Schema names the two kinds of database Atrium keeps.
type Schema string

const (
	CatalogSchema   Schema = "catalog"
	WorkspaceSchema Schema = "workspace"
)

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the schema's migrations ordered by version. Files are
// named NNNN_description.sql and numbered from 1 without gaps.
func migrations(s Schema) ([]migration, error) {
	dir := path.Join("migrations", string(s))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version the binary's migrations reach.
func LatestVersion(s Schema) int {
	ms, err := migrations(s)
	if err != nil {
		panic(err) // embedded files: a bad name is a build mistake
	}
	return len(ms)
}

// Migrate brings db up to the binary's schema version, one transaction per
// migration, recording the version in PRAGMA user_version. It returns the
// versions before and after. A file from a newer binary is refused.
func Migrate(ctx context.Context, db *DB, s Schema) (from, to int, err error) {
	ms, err := migrations(s)
	if err != nil {
		return 0, 0, err
	}
	if err := db.W.GetContext(ctx, &from, "PRAGMA user_version"); err != nil {
		return 0, 0, fmt.Errorf("read schema version of %s: %w", db.Path, err)
	}
	if from > len(ms) {
		return from, from, Errorf(EInvalid, "%s has schema version %d, newer than this binary's %d", db.Path, from, len(ms))
	}
	for _, m := range ms[from:] {
		err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version))
			return err
		})
		if err != nil {
			return from, m.version - 1, err
		}
	}
	return from, len(ms), nil
}
