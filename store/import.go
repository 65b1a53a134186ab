package store

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
)

// MaxImportBytes bounds a workspace file taken in, compressed or not.
var MaxImportBytes int64 = 4 << 30

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// ExtractArchive takes workspace.db out of an export archive into destDir,
// checking it against the manifest. Entry names that are absolute or climb
// out with "..", and entries that inflate past MaxImportBytes (zip bombs,
// whatever their headers claim), are refused.
func ExtractArchive(archivePath, destDir string) (string, *Manifest, error) {
	zr, err := zip.OpenReader(archivePath)
	if err != nil {
		return "", nil, Errorf(EInvalid, "The file is neither a SQLite database nor a zip archive: %v.", err)
	}
	defer zr.Close()
	var dbFile, manifestFile *zip.File
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return "", nil, err
		}
		switch f.Name {
		case "workspace.db":
			dbFile = f
		case "manifest.json":
			manifestFile = f
		}
	}
	if dbFile == nil || manifestFile == nil {
		return "", nil, Errorf(EInvalid, "The archive has no workspace.db or no manifest.json; is it an Atrium export?")
	}
	var manifest Manifest
	mb, err := readEntry(manifestFile, 1<<20)
	if err == nil {
		err = json.Unmarshal(mb, &manifest)
	}
	if err != nil || manifest.Format != ExportFormat {
		return "", nil, Errorf(EInvalid, "manifest.json is not the manifest of an Atrium export.")
	}
	if manifest.FormatVersion > ExportFormatVersion {
		return "", nil, Errorf(EInvalid, "The archive has format version %d; this Atrium reads up to %d.", manifest.FormatVersion, ExportFormatVersion)
	}
	dest := filepath.Join(destDir, "workspace.db")
	sum, err := extractEntry(dbFile, dest)
	if err != nil {
		os.Remove(dest)
		return "", nil, err
	}
	for _, f := range manifest.Files {
		if f.Name == "workspace.db" && f.SHA256 != sum {
			os.Remove(dest)
			return "", nil, Errorf(EInvalid, "workspace.db does not match the checksum in the manifest; the archive is damaged.")
		}
	}
	return dest, &manifest, nil
}

func checkEntryName(name string) error {
	clean := path.Clean(name)
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || clean == ".." ||
		strings.HasPrefix(clean, "../") || strings.Contains(name, "/../") || filepath.IsAbs(name) || strings.ContainsRune(name, 0) {
		return Errorf(EInvalid, "The archive has an entry named %q, which points outside it; it is refused.", truncateString(name, 100))
	}
	return nil
}

func readEntry(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if int64(len(b)) > max {
		return nil, Errorf(ETooLarge, "%s is larger than %d bytes.", f.Name, max)
	}
	return b, err
}

// extractEntry copies an entry to dest, stopping at MaxImportBytes however
// small the entry says it is, and returns its SHA-256.
func extractEntry(f *zip.File, dest string) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", Errorf(EInvalid, "workspace.db cannot be read from the archive: %v.", err)
	}
	defer rc.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer out.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(rc, MaxImportBytes+1))
	if n > MaxImportBytes {
		return "", Errorf(ETooLarge, "workspace.db inflates past %d bytes; it is refused.", MaxImportBytes)
	}
	if err != nil {
		return "", Errorf(EInvalid, "workspace.db in the archive is damaged: %v.", err)
	}
	return hex.EncodeToString(h.Sum(nil)), out.Sync()
}

// IsSQLiteFile reports whether the file at path starts like a SQLite database.
func IsSQLiteFile(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, _ := io.ReadFull(f, head)
	return n == len(head) && bytes.Equal(head, sqliteHeader), nil
}

// ValidateImport checks that the file at p is a workspace of ours before
// anything goes live, then brings it to the current schema and removes what
// must not come in: API keys and replication tables. It refuses a file that
// is not SQLite, fails integrity_check, has a schema version newer than this
// binary, or holds any table, index, trigger or view our schema at its
// version does not define, or defines differently.
func ValidateImport(ctx context.Context, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.Size() > MaxImportBytes {
		return Errorf(ETooLarge, "The file is larger than %d bytes.", MaxImportBytes)
	}
	if ok, err := IsSQLiteFile(p); err != nil || !ok {
		return Errorf(EInvalid, "The file is not a SQLite database.")
	}
	db, err := Open(p, OpenOptions{})
	if err != nil {
		return Errorf(EInvalid, "The database cannot be opened: %v.", err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		return Errorf(EInvalid, "The database is damaged: integrity_check failed.")
	}
	var version int
	if err := db.R.GetContext(ctx, &version, `PRAGMA user_version`); err != nil {
		return Errorf(EInvalid, "The database cannot be read: %v.", err)
	}
	latest := LatestVersion(WorkspaceSchema)
	if version < 1 || version > latest {
		return Errorf(EInvalid, "The database has schema version %d; this Atrium knows workspace versions 1 to %d.", version, latest)
	}
	if err := checkSchema(ctx, db, version); err != nil {
		return err
	}
	var fkProblems int
	if err := db.R.GetContext(ctx, &fkProblems, `SELECT count(*) FROM pragma_foreign_key_check`); err != nil || fkProblems > 0 {
		return Errorf(EInvalid, "The database has %d broken references between records.", fkProblems)
	}
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		// Another server's replication bookkeeping is dropped and made
		// afresh, so a file cannot bring its own definition of it.
		for _, stmt := range []string{`DELETE FROM api_keys`, `DROP TABLE IF EXISTS _litestream_seq`, `DROP TABLE IF EXISTS _litestream_lock`} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return createReplicationTables(ctx, tx)
	})
}

// PrepareForReplication creates in db the bookkeeping tables Litestream
// makes in every file it replicates, with Litestream's own statements. A
// file made before Litestream first reads it then sees no schema change
// under the app's feet: a statement running while another connection
// changes the schema can fail ("vtable constructor failed" on an FTS5
// table).
func PrepareForReplication(ctx context.Context, db *DB) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error { return createReplicationTables(ctx, tx) })
}

func createReplicationTables(ctx context.Context, tx *sqlx.Tx) error {
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);`,
		`CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// schemaObject is one entry of sqlite_schema.
type schemaObject struct {
	Type string        `db:"type"`
	Name string        `db:"name"`
	SQL  sqlNullString `db:"sql"`
}

type sqlNullString struct{ S string }

func (n *sqlNullString) Scan(v any) error {
	switch x := v.(type) {
	case string:
		n.S = x
	case []byte:
		n.S = string(x)
	}
	return nil
}

// checkSchema compares the file's schema objects with those our migrations
// make at the same version: same names, same types, same SQL.
func checkSchema(ctx context.Context, db *DB, version int) error {
	want, err := referenceSchema(ctx, version)
	if err != nil {
		return err
	}
	var got []schemaObject
	if err := db.R.SelectContext(ctx, &got, `SELECT type, name, sql FROM sqlite_schema`); err != nil {
		return Errorf(EInvalid, "The database schema cannot be read.")
	}
	for _, o := range got {
		if strings.HasPrefix(o.Name, "_litestream_") && o.Type == "table" {
			continue // replication bookkeeping, dropped below
		}
		w, ok := want[o.Name]
		switch {
		case !ok:
			return Errorf(EInvalid, "The database has a %s named %q that Atrium's schema does not define; it is refused.", o.Type, truncateString(o.Name, 80))
		case w.Type != o.Type || w.SQL.S != o.SQL.S:
			return Errorf(EInvalid, "The database defines the %s %q differently from Atrium's schema; it is refused.", o.Type, truncateString(o.Name, 80))
		}
	}
	return nil
}

// referenceSchema builds an empty workspace at version in memory and
// returns its schema objects by name.
func referenceSchema(ctx context.Context, version int) (map[string]schemaObject, error) {
	dir, err := os.MkdirTemp("", "atrium-ref-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ref, err := Open(filepath.Join(dir, "ref.db"), OpenOptions{Create: true})
	if err != nil {
		return nil, err
	}
	defer ref.Close()
	if err := migrateTo(ctx, ref, WorkspaceSchema, version); err != nil {
		return nil, err
	}
	var objs []schemaObject
	if err := ref.R.SelectContext(ctx, &objs, `SELECT type, name, sql FROM sqlite_schema`); err != nil {
		return nil, err
	}
	out := map[string]schemaObject{}
	for _, o := range objs {
		out[o.Name] = o
	}
	return out, nil
}

var errNoVersion = errors.New("no such schema version")

// migrateTo runs a schema's migrations up to version on an empty file.
func migrateTo(ctx context.Context, db *DB, s Schema, version int) error {
	ms, err := migrations(s)
	if err != nil {
		return err
	}
	if version > len(ms) {
		return fmt.Errorf("%w: %d", errNoVersion, version)
	}
	for _, m := range ms[:version] {
		if _, err := db.W.ExecContext(ctx, m.sql); err != nil {
			return err
		}
	}
	_, err = db.W.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version))
	return err
}
