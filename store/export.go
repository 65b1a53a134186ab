package store

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ExportFormat names the archive format; ExportFormatVersion changes when
// its layout does.
const (
	ExportFormat        = "atrium-workspace-export"
	ExportFormatVersion = 1
)

// ExportTables are the tables whose rows the archive carries as CSV and
// JSON, parents before children so a re-import can follow the order. API
// keys are left out: they are never carried over.
var ExportTables = []string{"custom_fields", "companies", "contacts", "tags", "contact_tags", "company_tags",
	"notes", "tasks", "pipelines", "stages", "deals", "activities", "audit_log", "mailboxes",
	"templates", "sequences", "sequence_mailboxes", "sequence_steps", "enrollments", "messages",
	"replies", "suppressions", "message_links", "tracking_events"}

// exportLeftOut are the tables of the workspace schema that ExportTables
// leaves out, and why. A test fails when a table is in neither, so a table
// a migration adds gets a decision.
var exportLeftOut = func() map[string]string {
	m := map[string]string{
		"api_keys":      "secrets: never carried over (scrubbed from the archive's workspace.db too)",
		"counters":      "derived: row counts that triggers keep",
		"rollup":        "derived: the console's counters that triggers keep (usage history lives in the instance's catalog)",
		"bounce_counts": "soft bounces in a row, by the hash of the address: the sender's working state, which starts again",
		"job_reports": "reports of this instance's background jobs, whose ids mean nothing elsewhere " +
			"(emptied in the archive's workspace.db too)",
		"workspace_settings": "the workspace's configuration (its retention policy), not records; " +
			"it travels in the archive's workspace.db",
	}
	for _, t := range []string{"contacts", "companies", "deals", "notes"} {
		m[t+"_fts"] = "full-text index of " + t + ", derived from it by triggers"
	}
	return m
}()

// ExportMeta describes the exported workspace in the manifest.
type ExportMeta struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Region string `json:"region"`
}

// Manifest is manifest.json, the last entry of an export archive.
type Manifest struct {
	Format        string         `json:"format"`
	FormatVersion int            `json:"format_version"`
	Workspace     ExportMeta     `json:"workspace"`
	SchemaVersion int            `json:"schema_version"`
	ExportedAt    time.Time      `json:"exported_at"`
	Counts        map[string]int `json:"counts"`
	Files         []ManifestFile `json:"files"`
}

// ManifestFile is one entry of the archive with its checksum.
type ManifestFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ExportWorkspace writes the export archive of the workspace in db to w: a
// consistent SQLite snapshot (VACUUM INTO, never a copy of the live file),
// CSV and JSON of every table in ExportTables read from that snapshot, and
// a manifest. Rows stream one at a time, so memory stays flat whatever the
// size. tmpDir holds the snapshot while the archive is written.
func ExportWorkspace(ctx context.Context, db *DB, meta ExportMeta, tmpDir string, w io.Writer) (*Manifest, error) {
	dir, err := os.MkdirTemp(tmpDir, ".export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	snapPath := filepath.Join(dir, "workspace.db")
	if _, err := db.W.ExecContext(ctx, `VACUUM INTO ?`, snapPath); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	snap, err := Open(snapPath, OpenOptions{})
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	if err := scrubSnapshot(ctx, snap); err != nil {
		return nil, err
	}
	m := &Manifest{Format: ExportFormat, FormatVersion: ExportFormatVersion, Workspace: meta, ExportedAt: time.Now().UTC(), Counts: map[string]int{}}
	if err := snap.R.GetContext(ctx, &m.SchemaVersion, `PRAGMA user_version`); err != nil {
		return nil, err
	}
	zw := zip.NewWriter(w)
	for _, table := range ExportTables {
		n, err := writeTable(ctx, zw, m, snap, table)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", table, err)
		}
		m.Counts[table] = n
	}
	// The snapshot is closed and checkpointed before it is archived whole.
	snap.Close()
	if err := writeFileEntry(zw, m, "workspace.db", snapPath); err != nil {
		return nil, err
	}
	mw, err := zw.Create("manifest.json")
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(mw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return m, zw.Close()
}

// scrubSnapshot removes from the snapshot what must not leave: API key
// hashes, and the replication tables Litestream keeps in every file.
func scrubSnapshot(ctx context.Context, snap *DB) error {
	for _, stmt := range []string{`DELETE FROM api_keys`, `DELETE FROM job_reports`, ForgetMailboxSecretsSQL, `DROP TABLE IF EXISTS _litestream_seq`, `DROP TABLE IF EXISTS _litestream_lock`} {
		if _, err := snap.W.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := snap.W.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// checksummed counts and hashes what passes through to an archive entry.
type checksummed struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *checksummed) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func newEntry(zw *zip.Writer, name string) (*checksummed, error) {
	w, err := zw.Create(name)
	if err != nil {
		return nil, err
	}
	return &checksummed{w: w, h: sha256.New()}, nil
}

func (c *checksummed) done(m *Manifest, name string) {
	m.Files = append(m.Files, ManifestFile{Name: name, Bytes: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))})
}

func writeFileEntry(zw *zip.Writer, m *Manifest, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	e, err := newEntry(zw, name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(e, f); err != nil {
		return err
	}
	e.done(m, name)
	return nil
}

// writeTable writes data/<table>.csv and data/<table>.json, one row at a
// time, and returns the row count.
func writeTable(ctx context.Context, zw *zip.Writer, m *Manifest, db *DB, table string) (int, error) {
	n, err := eachRow(ctx, db, table, nil)
	if err != nil {
		return 0, err
	}
	csvEntry, err := newEntry(zw, "data/"+table+".csv")
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(csvEntry)
	if _, err := eachRow(ctx, db, table, func(cols []string, vals []any, first bool) error {
		if first {
			cw.Write(cols)
		}
		return cw.Write(csvCells(vals))
	}); err != nil {
		return 0, err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return 0, err
	}
	csvEntry.done(m, "data/"+table+".csv")

	jsonEntry, err := newEntry(zw, "data/"+table+".json")
	if err != nil {
		return 0, err
	}
	io.WriteString(jsonEntry, "[")
	if _, err := eachRow(ctx, db, table, func(cols []string, vals []any, first bool) error {
		if !first {
			io.WriteString(jsonEntry, ",\n")
		}
		return writeJSONRow(jsonEntry, cols, vals)
	}); err != nil {
		return 0, err
	}
	io.WriteString(jsonEntry, "]\n")
	jsonEntry.done(m, "data/"+table+".json")
	return n, nil
}

// eachRow calls fn for every row of a table in rowid order and returns the
// count; fn nil only counts.
func eachRow(ctx context.Context, db *DB, table string, fn func(cols []string, vals []any, first bool) error) (int, error) {
	if fn == nil {
		var n int
		err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM `+table)
		return n, err
	}
	rows, err := db.R.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY rowid`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if err := fn(cols, vals, n == 0); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// CSVSafe defuses spreadsheet formula injection: a cell starting with = +
// - @ (or a tab or carriage return) is prefixed with a quote, as OWASP
// advises. Every CSV Atrium writes passes its text through it.
func CSVSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// csvCells formats a row for an archive's CSV: text defused (numbers are
// written as they are; the archive's database keeps every value exact).
func csvCells(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			out[i] = ""
		case string:
			out[i] = CSVSafe(x)
		case []byte:
			out[i] = CSVSafe(string(x))
		case time.Time:
			out[i] = x.UTC().Format(time.RFC3339Nano)
		default:
			out[i] = fmt.Sprint(x)
		}
	}
	return out
}

func writeJSONRow(w io.Writer, cols []string, vals []any) error {
	obj := make(map[string]any, len(cols))
	for i, c := range cols {
		switch x := vals[i].(type) {
		case []byte:
			obj[c] = string(x)
		case time.Time:
			obj[c] = x.UTC().Format(time.RFC3339Nano)
		default:
			obj[c] = x
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
