package store

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql/driver"
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
	"sync/atomic"
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
// a manifest. Rows stream in a few small batches, so memory stays flat
// whatever the size. tmpDir holds the snapshot while the archive is
// written. spawn starts the goroutine that compresses the snapshot
// meanwhile (nil: a plain go statement); a job passes one that runs it
// below requests, as the job itself runs.
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
	// Not synced either: the scrub's checkpoint would sync the whole
	// file, which the copy left unsynced.
	snap, err := Open(snapPath, OpenOptions{Synchronous: "off"})
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

// Rows go from the goroutine reading a table to the two encoding it in
// batches of batchRows; tableBatches batches are in flight at most, so
// memory stays flat whatever the table's size.
const (
	batchRows    = 256
	tableBatches = 4
)

// rowBatch is a run of a table's rows, read on one goroutine and encoded
// into CSV and JSON on two others. It goes back to its reader once both
// are done with it.
type rowBatch struct {
	vals    []driver.Value // n rows of the table's columns, one after the other
	n       int
	pending atomic.Int32 // encoders not yet done with it
}

// entryEncoder encodes a table's rows into one entry of the archive and
// deflates it into a packed file, on a goroutine of its own: the reading
// goroutine (SQLite's work, the longest) does nothing else, and the two
// entries are encoded and compressed on the other core meanwhile.
type entryEncoder struct {
	k    *packer
	bw   *bufio.Writer // in front of k: encoding/csv writes a cell at a time
	in   chan *rowBatch
	done chan struct{}
	err  error // the first error, once done is closed
}

// newEntryEncoder starts an encoder that writes head, then calls encode
// for every batch sent to it, and hands each batch back to free once both
// encoders are done with it.
func newEntryEncoder(dir, head string, free chan<- *rowBatch, encode func(w *bufio.Writer, b *rowBatch) error) (*entryEncoder, error) {
	k, err := newPacker(dir)
	if err != nil {
		return nil, err
	}
	e := &entryEncoder{k: k, bw: bufio.NewWriterSize(k, 64<<10), in: make(chan *rowBatch, tableBatches), done: make(chan struct{})}
	_, e.err = e.bw.WriteString(head)
	go func() {
		defer close(e.done)
		for b := range e.in {
			if e.err == nil {
				e.err = encode(e.bw, b)
			}
			if b.pending.Add(-1) == 0 {
				free <- b
			}
		}
	}()
	return e, nil
}

// finish writes tail after the rows and returns the packed file.
func (e *entryEncoder) finish(tail string) packedFile {
	close(e.in)
	<-e.done
	err := e.err
	if err == nil {
		_, err = e.bw.WriteString(tail)
	}
	if err == nil {
		err = e.bw.Flush()
	}
	if err != nil {
		return packedFile{err: err}
	}
	return e.k.finish()
}

// close stops the encoder, finished or not, and closes its file.
func (e *entryEncoder) close() {
	select {
	case <-e.done:
	default:
		close(e.in)
		<-e.done
	}
	e.k.close()
}

// writeTable writes data/<table>.csv and data/<table>.json in one read of
// the table, in rowid order, and returns the row count. Both are encoded
// and compressed meanwhile by encoders of their own, into packed files of
// dir, and go into the archive when the table is read.
func writeTable(ctx context.Context, zw *zip.Writer, m *Manifest, db *DB, table, dir string) (n int, err error) {
	conn, err := db.R.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		// The driver's own rows: their values go straight into the
		// batches, where database/sql's Scan would take its locks and
		// convert each value once more, on the reading goroutine.
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY rowid`, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		n, err = encodeTable(zw, m, rows, table, dir)
		return err
	})
	return n, err
}

// encodeTable reads rows into batches for the table's two encoders.
func encodeTable(zw *zip.Writer, m *Manifest, rows driver.Rows, table, dir string) (int, error) {
	cols := rows.Columns()
	nc := len(cols)
	free := make(chan *rowBatch, tableBatches)
	for range tableBatches {
		free <- &rowBatch{vals: make([]driver.Value, batchRows*nc)}
	}
	var cells []string
	ce, err := newEntryEncoder(dir, "", free, func(w *bufio.Writer, b *rowBatch) error {
		cw := csv.NewWriter(w) // w itself: it is a large enough bufio.Writer
		if cells == nil {
			cw.Write(cols) // no header for a table without rows, as before
		}
		for i := range b.n {
			cells = csvCells(cells[:0], b.vals[i*nc:(i+1)*nc])
			cw.Write(cells)
		}
		return cw.Error()
	})
	if err != nil {
		return 0, err
	}
	defer ce.close()
	var jsonBuf []byte
	jsonRows := 0
	je, err := newEntryEncoder(dir, "[", free, func(w *bufio.Writer, b *rowBatch) error {
		jsonBuf = jsonBuf[:0]
		for i := range b.n {
			if jsonRows++; jsonRows > 1 {
				jsonBuf = append(jsonBuf, ",\n"...)
			}
			jsonBuf = appendJSONRow(jsonBuf, cols, b.vals[i*nc:(i+1)*nc])
		}
		_, err := w.Write(jsonBuf)
		return err
	})
	if err != nil {
		return 0, err
	}
	defer je.close()
	b, n := <-free, 0
	send := func() {
		b.pending.Store(2)
		ce.in <- b
		je.in <- b
	}
	for {
		err := rows.Next(b.vals[b.n*nc : (b.n+1)*nc])
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		n++
		if b.n++; b.n == batchRows {
			send()
			b = <-free
			b.n = 0
		}
	}
	if b.n > 0 {
		send()
	}
	csvFile, jsonFile := ce.finish(""), je.finish("]\n")
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
func csvCells(out []string, vals []driver.Value) []string {
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
func appendJSONRow(b []byte, cols []string, vals []driver.Value) []byte {
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
