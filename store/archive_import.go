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

// DefaultMaxImportBytes is MaxImportBytes unless the operator sets it.
const DefaultMaxImportBytes int64 = 2 << 30

// MaxImportBytes bounds a workspace file taken in, compressed or not, and
// so the disk one import can fill while it is checked. It is process-wide
// configuration (atrium --max-import-mb); tests lower it.
var MaxImportBytes = DefaultMaxImportBytes

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// Archive is an export archive opened for import: its entry names and
// manifest are checked, workspace.db is not read yet.
type Archive struct {
	Manifest Manifest
	zr       *zip.ReadCloser
	db       *zip.File
}

// OpenArchive opens the export archive at archivePath and checks it
// without inflating workspace.db: entry names that are absolute or climb
// out with "..", a foreign manifest, and a workspace.db declared larger
// than MaxImportBytes are refused.
func OpenArchive(archivePath string) (*Archive, error) {
	zr, err := zip.OpenReader(archivePath)
	if err != nil {
		return nil, Errorf(EInvalid, "The file is neither a SQLite database nor a zip archive: %v.", err)
	}
	a := &Archive{zr: zr}
	if err := a.check(); err != nil {
		zr.Close()
		return nil, err
	}
	return a, nil
}

// Close closes the archive file.
func (a *Archive) Close() error { return a.zr.Close() }

// DBSize is the size workspace.db declares; ExtractDB writes no more.
func (a *Archive) DBSize() int64 { return int64(a.db.UncompressedSize64) }

func (a *Archive) check() error {
	var manifestFile *zip.File
	for _, f := range a.zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return err
		}
		switch f.Name {
		case "workspace.db":
			a.db = f
		case "manifest.json":
			manifestFile = f
		}
	}
	if a.db == nil || manifestFile == nil {
		return Errorf(EInvalid, "The archive has no workspace.db or no manifest.json; is it an Atrium export?")
	}
	mb, err := readEntry(manifestFile, 1<<20)
	if err == nil {
		err = json.Unmarshal(mb, &a.Manifest)
	}
	if err != nil || a.Manifest.Format != ExportFormat {
		return Errorf(EInvalid, "manifest.json is not the manifest of an Atrium export.")
	}
	if a.Manifest.FormatVersion > ExportFormatVersion {
		return Errorf(EInvalid, "The archive has format version %d; this Atrium reads up to %d.", a.Manifest.FormatVersion, ExportFormatVersion)
	}
	if a.db.UncompressedSize64 > uint64(MaxImportBytes) {
		return ErrImportTooLarge()
	}
	return nil
}

// ExtractDB writes workspace.db into destDir and checks it against the
// manifest's checksum. It refuses the entry from its first bytes when they
// are not a SQLite header, and stops writing as soon as the entry inflates
// past its declared size (a zip bomb whose header lies), removing what it
// wrote.
func (a *Archive) ExtractDB(destDir string) (string, error) {
	dest := filepath.Join(destDir, "workspace.db")
	sum, err := extractEntry(a.db, dest, a.DBSize())
	if err != nil {
		os.Remove(dest)
		return "", err
	}
	for _, f := range a.Manifest.Files {
		if f.Name == "workspace.db" && f.SHA256 != sum {
			os.Remove(dest)
			return "", Errorf(EInvalid, "workspace.db does not match the checksum in the manifest; the archive is damaged.")
		}
	}
	return dest, nil
}

// ExtractArchive opens an export archive and takes workspace.db out of it
// into destDir (see OpenArchive and ExtractDB).
func ExtractArchive(archivePath, destDir string) (string, *Manifest, error) {
	a, err := OpenArchive(archivePath)
	if err != nil {
		return "", nil, err
	}
	defer a.Close()
	p, err := a.ExtractDB(destDir)
	if err != nil {
		return "", nil, err
	}
	return p, &a.Manifest, nil
}

// ErrImportTooLarge is the refusal of a workspace file past MaxImportBytes.
func ErrImportTooLarge() error {
	return Errorf(ETooLarge, "The workspace file is larger than the import limit of %s.", byteSize(MaxImportBytes))
}

// byteSize writes n in MiB or GiB, as the limits are set.
func byteSize(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", (n+1<<20-1)>>20)
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

// extractEntry copies an entry of at most size bytes to dest (see
// copyEntry) and returns its SHA-256; dest is not created when the entry
// does not start like a SQLite database.
func extractEntry(f *zip.File, dest string, size int64) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", Errorf(EInvalid, "workspace.db cannot be read from the archive: %v.", err)
	}
	defer rc.Close()
	head, err := readSQLiteHeader(rc)
	if err != nil {
		return "", err
	}
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	defer out.Close()
	sum, err := copyEntry(out, head, rc, size)
	if err != nil {
		return "", err
	}
	return sum, out.Sync()
}

// readSQLiteHeader reads the first bytes of r and refuses them unless they
// are SQLite's magic: a zip bomb of zeros is refused before a byte is
// written.
func readSQLiteHeader(r io.Reader) ([]byte, error) {
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return nil, Errorf(EInvalid, "workspace.db in the archive is not a SQLite database.")
	}
	return head, nil
}

// copyEntry writes head and then the rest of an entry to w, and returns
// the SHA-256 of it all. It stops as soon as the entry passes size or
// MaxImportBytes, whatever its header says.
func copyEntry(w io.Writer, head []byte, rest io.Reader, size int64) (string, error) {
	limit := min(size, MaxImportBytes)
	h := sha256.New()
	mw := io.MultiWriter(w, h)
	if _, err := mw.Write(head); err != nil {
		return "", err
	}
	if _, err := io.Copy(mw, io.LimitReader(rest, limit-int64(len(head)))); err != nil {
		return "", Errorf(EInvalid, "workspace.db in the archive is damaged: %v.", err)
	}
	// At the limit: one byte more, or archive/zip failing a read past the
	// declared size, means the entry is larger than it may be.
	switch _, err := io.ReadFull(rest, make([]byte, 1)); {
	case err == nil, errors.Is(err, zip.ErrFormat):
		return "", Errorf(ETooLarge, "workspace.db inflates past %d bytes, more than the archive declares or the import limit of %s allows; it is refused.", limit, byteSize(MaxImportBytes))
	case !errors.Is(err, io.EOF):
		return "", Errorf(EInvalid, "workspace.db in the archive is damaged: %v.", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
// version does not define, or defines differently; then, at our schema,
// any row a normal write could not have made (see archive_import_rules.go).
func ValidateImport(ctx context.Context, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.Size() > MaxImportBytes {
		return ErrImportTooLarge()
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
	// After the migrations, so the rules are those of one schema, ours.
	if err := checkRows(ctx, db); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		// Another server's replication bookkeeping is dropped and made
		// afresh, so a file cannot bring its own definition of it.
		for _, stmt := range []string{`DELETE FROM api_keys`, `DELETE FROM job_reports`, `DELETE FROM saved_views`, `DELETE FROM list_columns`,
			ForgetMailboxSecretsSQL, PauseSendingSQL,
			// Whether a message being sent when the file was copied
			// arrived, nobody knows: a person settles it.
			`UPDATE messages SET state = 'unknown' WHERE state = 'sending'`, `DROP TABLE IF EXISTS _litestream_seq`, `DROP TABLE IF EXISTS _litestream_lock`} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		if err := rehashSuppressions(ctx, tx); err != nil {
			return err
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

// litestreamTables are the tables Litestream keeps in every file it
// replicates; an import drops them. Any other name is refused, theirs look
// alike or not.
var litestreamTables = map[string]bool{"_litestream_seq": true, "_litestream_lock": true}

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
		if litestreamTables[o.Name] && o.Type == "table" {
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
