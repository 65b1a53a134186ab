package store

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
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
		"saved_views":   "each user's own views of a list, keyed by this instance's user ids, which mean nothing elsewhere",
		"list_columns":  "each user's own choice of a list's columns, keyed by this instance's user ids",
		"rollup":        "derived: the console's counters that triggers keep (usage history lives in the instance's catalog)",
		"bounce_counts": "soft bounces in a row, by the hash of the address: the sender's working state, which starts again",
		"job_reports": "reports of this instance's background jobs, whose ids mean nothing elsewhere " +
			"(emptied in the archive's workspace.db too)",
		"import_undo": "the undo log of an import not finished, which is carried out when the file is opened: " +
			"exports wait for the workspace's job slot, which an import holds",
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
// size. tmpDir holds the snapshot while the archive is written. spawn
// starts the goroutine that compresses the snapshot meanwhile (nil: a
// plain go statement); a job passes one that runs it below requests, as
// the job itself runs.
func ExportWorkspace(ctx context.Context, db *DB, meta ExportMeta, tmpDir string, w io.Writer, spawn func(func())) (*Manifest, error) {
	dir, err := os.MkdirTemp(tmpDir, ".export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	snapPath := filepath.Join(dir, "workspace.db")
	if err := db.snapshotTo(ctx, snapPath); err != nil {
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
	// The snapshot file is compressed on a goroutine of its own while its
	// tables are read here (and their CSV and JSON compressed on two
	// more, see writeTable); it goes in last, as is.
	type packed struct {
		p     packedFile
		close func()
	}
	done := make(chan packed, 1)
	if spawn == nil {
		spawn = func(fn func()) { go fn() }
	}
	spawn(func() {
		p, close := packFile(snapPath, dir)
		done <- packed{p, close}
	})
	zw := newZipWriter(w)
	err = writeTables(ctx, zw, m, snap, dir)
	file := <-done
	defer file.close()
	p := file.p
	if err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, fmt.Errorf("compress workspace.db: %w", p.err)
	}
	if err := p.writeTo(zw, m, "workspace.db"); err != nil {
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

// archiveLevel is the archive's deflate level: klauspost's level 3
// compresses a workspace file within 2% of the standard library's default
// at about seven times its speed, which made compression most of an
// export's time. Level 2 takes a fifth less CPU than 3 again, for an
// archive 1.6% larger (the 1M-contact workspace: 2.5 s against 3.1 s for
// its 758 MB file alone, 282 MB against 278 MB for the archive); level 1
// was no faster on the file and made it 291 MB.
const archiveLevel = 2

func newZipWriter(w io.Writer) *zip.Writer {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, archiveLevel)
	})
	return zw
}

// writeTables writes every table of ExportTables and counts its rows.
func writeTables(ctx context.Context, zw *zip.Writer, m *Manifest, snap *DB, dir string) error {
	for _, table := range ExportTables {
		n, err := writeTable(ctx, zw, m, snap, table, dir)
		if err != nil {
			return fmt.Errorf("export %s: %w", table, err)
		}
		m.Counts[table] = n
	}
	return nil
}

// packedFile is a file deflated into a temporary file, ready to go into an
// archive as it is (zip.Writer.CreateRaw).
type packedFile struct {
	f            *os.File // the deflated bytes, unlinked; its packer closes it
	crc          uint32
	size, packed int64
	sum          []byte // SHA-256 of the file's bytes
	err          error
}

// packer deflates what is written to it into an unlinked temporary file.
type packer struct {
	p   packedFile
	bw  *bufio.Writer
	fw  *flate.Writer
	crc hash.Hash32
	sum hash.Hash
	w   io.Writer
}

func newPacker(dir string) (*packer, error) {
	f, err := os.CreateTemp(dir, ".packed-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	// The compressor writes a few hundred bytes at a time: straight to
	// the file, that was a system call each, 3 s of a 1M-contact export.
	bw := bufio.NewWriterSize(f, 256<<10)
	fw, err := flate.NewWriter(bw, archiveLevel)
	if err != nil {
		f.Close()
		return nil, err
	}
	k := &packer{p: packedFile{f: f}, bw: bw, fw: fw, crc: crc32.NewIEEE(), sum: sha256.New()}
	k.w = io.MultiWriter(fw, k.crc, k.sum)
	return k, nil
}

func (k *packer) Write(b []byte) (int, error) {
	n, err := k.w.Write(b)
	k.p.size += int64(n)
	return n, err
}

// finish ends the deflate stream and returns the packed file, open at its
// start; it stays the packer's to close.
func (k *packer) finish() packedFile {
	p := &k.p
	if p.err = k.fw.Close(); p.err == nil {
		p.err = k.bw.Flush()
	}
	if p.err != nil {
		return *p
	}
	p.crc, p.sum = k.crc.Sum32(), k.sum.Sum(nil)
	if p.packed, p.err = p.f.Seek(0, io.SeekCurrent); p.err == nil {
		_, p.err = p.f.Seek(0, io.SeekStart)
	}
	return *p
}

func (k *packer) close() { k.p.f.Close() }

// packFile deflates the file at path into a temporary file of dir.
func packFile(path, dir string) (packedFile, func()) {
	src, err := os.Open(path)
	if err != nil {
		return packedFile{err: err}, func() {}
	}
	defer src.Close()
	k, err := newPacker(dir)
	if err != nil {
		return packedFile{err: err}, func() {}
	}
	if _, err := io.Copy(k, src); err != nil {
		return packedFile{err: err}, k.close
	}
	return k.finish(), k.close
}

// writeTo adds the packed file to the archive as name.
func (p packedFile) writeTo(zw *zip.Writer, m *Manifest, name string) error {
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now(),
		CRC32: p.crc, CompressedSize64: uint64(p.packed), UncompressedSize64: uint64(p.size)})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, p.f); err != nil {
		return err
	}
	m.Files = append(m.Files, ManifestFile{Name: name, Bytes: p.size, SHA256: hex.EncodeToString(p.sum)})
	return nil
}

// scrubSnapshot removes from the snapshot what must not leave: API key
// hashes, and the replication tables Litestream keeps in every file. Its
// connection zeroes the pages the deletes free too (secure_delete on), as
// the snapshot is archived page for page.
func scrubSnapshot(ctx context.Context, snap *DB) error {
	conn, err := snap.W.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, stmt := range []string{`PRAGMA secure_delete = ON`, `DELETE FROM api_keys`, `DELETE FROM job_reports`, ForgetMailboxSecretsSQL, `DROP TABLE IF EXISTS _litestream_seq`, `DROP TABLE IF EXISTS _litestream_lock`} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	// Everything in the file itself, which is archived as it is while its
	// tables are read: a checkpoint that could not finish would leave the
	// scrubbed rows in it.
	var busy, log, done int
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil {
		return err
	}
	if busy != 0 || log != done {
		return fmt.Errorf("snapshot checkpoint unfinished (busy %d, %d of %d frames)", busy, done, log)
	}
	return nil
}

// tableChunk is the size of the pieces in which a table's CSV and JSON go
// to their packers.
const tableChunk = 64 << 10

// chunkPacker deflates, on a goroutine of its own, the pieces of an entry
// its maker hands it, into a packed file: a table's CSV and JSON are
// compressed beside the reading of its rows instead of after each row on
// the same goroutine. A few pieces are in flight at most (memory stays
// flat), each reused once written.
type chunkPacker struct {
	k    *packer
	in   chan []byte
	free chan []byte
	done chan struct{}
	err  error // the packer's first write error, once done is closed
}

func newChunkPacker(dir string) (*chunkPacker, error) {
	k, err := newPacker(dir)
	if err != nil {
		return nil, err
	}
	c := &chunkPacker{k: k, in: make(chan []byte, 2), free: make(chan []byte, 4), done: make(chan struct{})}
	for range 3 {
		c.free <- make([]byte, 0, tableChunk+tableChunk/4)
	}
	go func() {
		defer close(c.done)
		for b := range c.in {
			if c.err == nil {
				_, c.err = k.Write(b)
			}
			c.free <- b[:0]
		}
	}()
	return c, nil
}

// send hands b to the packer and returns an empty buffer for what follows.
func (c *chunkPacker) send(b []byte) []byte {
	c.in <- b
	return <-c.free
}

// finish hands the packer its last piece and returns the packed file.
func (c *chunkPacker) finish(last []byte) packedFile {
	c.in <- last
	close(c.in)
	<-c.done
	if c.err != nil {
		return packedFile{err: c.err}
	}
	return c.k.finish()
}

// close stops the packer, finished or not, and closes its file.
func (c *chunkPacker) close() {
	select {
	case <-c.done:
	default:
		close(c.in)
		<-c.done
	}
	c.k.close()
}

// appendWriter appends what is written to it to a chunk of a chunkPacker,
// handing the chunk on when it is full; it is where encoding/csv writes.
type appendWriter struct {
	b *[]byte
	c *chunkPacker
}

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	if len(*w.b) >= tableChunk {
		*w.b = w.c.send(*w.b)
	}
	return len(p), nil
}

// writeTable writes data/<table>.csv and data/<table>.json, one row at a
// time in one read of the table, and returns the row count. Both are
// compressed meanwhile by packers of their own, into packed files of dir,
// and go into the archive when the table is read.
func writeTable(ctx context.Context, zw *zip.Writer, m *Manifest, db *DB, table, dir string) (int, error) {
	cp, err := newChunkPacker(dir)
	if err != nil {
		return 0, err
	}
	defer cp.close()
	jp, err := newChunkPacker(dir)
	if err != nil {
		return 0, err
	}
	defer jp.close()
	csvBuf, jsonBuf := <-cp.free, <-jp.free
	cw := csv.NewWriter(appendWriter{&csvBuf, cp})
	var cells []string
	jsonBuf = append(jsonBuf, '[')
	n, err := eachRow(ctx, db, table, func(cols []string, vals []any, first bool) error {
		if first {
			cw.Write(cols)
		} else {
			jsonBuf = append(jsonBuf, ",\n"...)
		}
		for i, v := range vals {
			// Once for both: formatting was a tenth of the encoding.
			if t, ok := v.(time.Time); ok {
				vals[i] = t.UTC().Format(time.RFC3339Nano)
			}
		}
		cells = csvCells(cells[:0], vals)
		if err := cw.Write(cells); err != nil {
			return err
		}
		jsonBuf = appendJSONRow(jsonBuf, cols, vals)
		if len(jsonBuf) >= tableChunk {
			jsonBuf = jp.send(jsonBuf)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return 0, err
	}
	csvFile, jsonFile := cp.finish(csvBuf), jp.finish(append(jsonBuf, "]\n"...))
	if csvFile.err != nil {
		return 0, csvFile.err
	}
	if jsonFile.err != nil {
		return 0, jsonFile.err
	}
	if err := csvFile.writeTo(zw, m, "data/"+table+".csv"); err != nil {
		return 0, err
	}
	return n, jsonFile.writeTo(zw, m, "data/"+table+".json")
}

// eachRow calls fn for every row of a table in rowid order and returns the
// count. The values are fn's only until it returns.
func eachRow(ctx context.Context, db *DB, table string, fn func(cols []string, vals []any, first bool) error) (int, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY rowid`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
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

// csvCells formats a row for an archive's CSV into out: text defused
// (numbers are written as they are; the archive's database keeps every
// value exact).
func csvCells(out []string, vals []any) []string {
	for _, v := range vals {
		var cell string
		switch x := v.(type) {
		case nil:
		case string:
			cell = CSVSafe(x)
		case []byte:
			cell = CSVSafe(string(x))
		case int64:
			cell = strconv.FormatInt(x, 10)
		case time.Time:
			cell = x.UTC().Format(time.RFC3339Nano)
		default:
			cell = fmt.Sprint(x)
		}
		out = append(out, cell)
	}
	return out
}

// appendJSONRow appends a row as a JSON object, its keys in column order.
func appendJSONRow(b []byte, cols []string, vals []any) []byte {
	b = append(b, '{')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
		b = append(b, ':')
		switch x := vals[i].(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendJSONString(b, x)
		case []byte:
			b = appendJSONString(b, string(x))
		case int64:
			b = strconv.AppendInt(b, x, 10)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				b = append(b, "null"...) // JSON has no such number
			} else {
				b = strconv.AppendFloat(b, x, 'g', -1, 64)
			}
		case bool:
			b = strconv.AppendBool(b, x)
		case time.Time:
			b = appendJSONString(b, x.UTC().Format(time.RFC3339Nano))
		default:
			b = appendJSONString(b, fmt.Sprint(x))
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028
// and U+2029 escaped (as encoding/json does, for JavaScript).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, "\\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
