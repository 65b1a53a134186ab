package store

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExportWorkspace(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	c := mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com"), Tags: ptr([]string{"vip"}), Company: ptr("Acme")})
	CreateNote(ctx, db, tester, NoteInput{ContactID: c.ID, Body: "Hello, \"quoted\"\nand a second line"})
	CreateDeal(ctx, db, tester, DealInput{Title: ptr("Deal"), Value: ptr("1200.10"), ContactID: &c.ID})
	CreateAPIKey(ctx, db, tester, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "key", "write")

	var buf bytes.Buffer
	m, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w1", Name: "Acme", Region: "default"}, t.TempDir(), &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
	}
	var manifest Manifest
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Format != ExportFormat || manifest.SchemaVersion != LatestVersion(WorkspaceSchema) || manifest.Counts["contacts"] != 1 || manifest.Counts["deals"] != 1 {
		t.Fatalf("manifest %+v", manifest)
	}
	if len(manifest.Files) != 2*len(ExportTables)+1 || len(m.Files) != len(manifest.Files) {
		t.Fatalf("%d files in the manifest", len(manifest.Files))
	}
	for _, f := range manifest.Files {
		sum := sha256.Sum256(files[f.Name])
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(files[f.Name])) != f.Bytes {
			t.Errorf("%s: checksum or size does not match", f.Name)
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(files["data/notes.csv"])).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][5] != "Hello, \"quoted\"\nand a second line" {
		t.Fatalf("notes.csv: %v %q", err, rows)
	}
	var deals []map[string]any
	if err := json.Unmarshal(files["data/deals.json"], &deals); err != nil || deals[0]["value_minor"] != 120010.0 {
		t.Fatalf("deals.json: %v %v", err, deals)
	}
	// The snapshot is a whole, valid workspace without API keys.
	path := filepath.Join(t.TempDir(), "snap.db")
	os.WriteFile(path, files["workspace.db"], 0o600)
	snap, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := snap.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var keys, contacts int
	snap.R.Get(&keys, `SELECT count(*) FROM api_keys`)
	snap.R.Get(&contacts, `SELECT count(*) FROM contacts`)
	if keys != 0 || contacts != 1 {
		t.Fatalf("snapshot has %d keys and %d contacts", keys, contacts)
	}
	if rs, _ := Search(ctx, snap, "ana", 5); len(rs) != 1 {
		t.Fatal("the snapshot's search index does not find the contact")
	}
}

// The workspace's connections zero deleted bytes within pages but leave
// the pages their deletes free as they were (secure_delete is fast): the
// pages the scrub of the snapshot frees (API keys here) are zeroed, or the
// keys would leave with the archive's workspace.db.
func TestExportWorkspace_FreedPagesZeroed(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	mustContact(t, db, ContactInput{FirstName: ptr("Ana")})
	for _, stmt := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
		INSERT INTO api_keys (id, name, secret_hash, role, created_by, created_at)
		SELECT 'k' || i, 'key', printf('leaked-secret-%060d', i), 'read', 'u1', '2024-01-01' FROM n`,
		`DELETE FROM api_keys WHERE seq > 1500`, // freed pages on the live file's free list
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	} {
		if _, err := db.W.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	live, err := os.ReadFile(db.Path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(live, []byte("leaked-secret")); n <= 1500 {
		t.Fatalf("%d keys in the live file, none deleted there; the test shows nothing", n)
	}
	var buf bytes.Buffer
	if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w1", Name: "Acme"}, t.TempDir(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("workspace.db")
	if err != nil {
		t.Fatal(err)
	}
	snapBytes, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(snapBytes, []byte("leaked-secret")); i >= 0 {
		t.Fatalf("workspace.db holds a deleted API key at byte %d (page %d)", i, i/4096+1)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	os.WriteFile(path, snapBytes, 0o600)
	snap, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := snap.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var contacts int
	if err := snap.R.Get(&contacts, `SELECT count(*) FROM contacts`); err != nil || contacts != 1 {
		t.Fatalf("%d contacts, %v", contacts, err)
	}
}

// An export that stops half way, its client gone or its context
// cancelled, returns the error and leaves neither temporary files nor
// goroutines (the packers of the table being written).
func TestExportWorkspace_StopsCleanly(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	var sb strings.Builder
	sb.WriteString("first_name,last_name,email\n")
	for i := range 3000 {
		fmt.Fprintf(&sb, "Person%d,Family%d,person%d@example.com\n", i, i%50, i)
	}
	if _, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(sb.String()), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	baseline := runtime.NumGoroutine() + 1 // and the subtest's own
	for _, tc := range []struct {
		name string
		w    func(cancel func()) io.Writer
	}{
		{"client gone", func(func()) io.Writer { return &failingWriter{after: 100 << 10} }},
		{"cancelled", func(cancel func()) io.Writer { return &failingWriter{after: 100 << 10, cancel: cancel} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			tmp := t.TempDir()
			if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w1"}, tmp, tc.w(cancel), nil); err == nil {
				t.Fatal("the export did not fail")
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("%d files left in the temporary directory", len(ents))
			}
			for i := 0; runtime.NumGoroutine() > baseline; i++ {
				if i == 100 {
					t.Fatalf("%d goroutines left running", runtime.NumGoroutine()-baseline)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// failingWriter takes after bytes, then fails; with cancel, it cancels
// the export's context instead and goes on taking bytes.
type failingWriter struct {
	after  int
	cancel func()
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.after {
		w.after -= len(p)
		return len(p), nil
	}
	if w.cancel != nil {
		w.cancel()
		return len(p), nil
	}
	return 0, errors.New("the client went away")
}

// BenchmarkExport100k exports a workspace of 100,000 contacts (loaded by
// the CSV import) to nowhere, and reports the process's peak RSS.
func BenchmarkExport100k(b *testing.B) {
	ctx := context.Background()
	db := MustOpenWorkspace(b)
	var sb strings.Builder
	sb.WriteString("first_name,last_name,email,company,tags\n")
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&sb, "Person%d,Family%d,person%d@example.com,Company %d,t%d\n", i, i%500, i, i%1000, i%7)
	}
	if _, err := ImportContactsCSV(ctx, db, tester, strings.NewReader(sb.String()), ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	sb = strings.Builder{}
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		cw := &countingWriter{}
		if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w"}, b.TempDir(), cw, nil); err != nil {
			b.Fatal(err)
		}
		bytes = cw.n
	}
	b.ReportMetric(float64(bytes)/(1<<20), "archive-MB")
	b.ReportMetric(float64(peakRSSKB())/1024, "peak-rss-MB")
}

// BenchmarkExport1M exports the generated 1,000,000-contact workspace of
// BenchmarkSearch1M (a copy of it, brought to the current schema) to
// nowhere, and reports the export's wall and CPU seconds (the process's
// user and system time: on a shared machine it measures the work, where
// wall time measures the neighbours too), the archive's size and the
// process's peak RSS (VmHWM; the copy and migration before the export
// stream the file, and hold little). With
// ATRIUM_BENCH_EXPORT_TO set, the last archive is also written to that
// path, to look into. The file must have been generated first:
//
//	go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x
//	go test ./store -run '^$' -bench 'Export1M$' -benchtime 1x
func BenchmarkExport1M(b *testing.B) {
	ctx := context.Background()
	src := filepath.Join(os.TempDir(), fmt.Sprintf("atrium-bench-search-1000000-v%d.db", LatestVersion(WorkspaceSchema)))
	if _, err := os.Stat(src); err != nil {
		b.Skipf("%s is missing: run BenchmarkSearch1M first (go test ./store -run '^$' -bench 'Search1M/search$' -benchtime 1x)", src)
	}
	// A copy: the generated file is shared by other benchmarks, and
	// migrating it here would change it under them.
	path := filepath.Join(b.TempDir(), "workspace.db")
	if err := copyFile(src, path); err != nil {
		b.Fatal(err)
	}
	db, err := Open(path, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, _, err := Migrate(ctx, db, WorkspaceSchema); err != nil {
		b.Fatal(err)
	}
	keep := os.Getenv("ATRIUM_BENCH_EXPORT_TO")
	var wall, cpu time.Duration
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cw := &countingWriter{}
		var w io.Writer = cw
		var f *os.File
		if keep != "" && i == b.N-1 {
			if f, err = os.Create(keep); err != nil {
				b.Fatal(err)
			}
			w = io.MultiWriter(f, cw)
		}
		start, cpu0 := time.Now(), cpuTime()
		if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w"}, b.TempDir(), w, nil); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		cpu += cpuTime() - cpu0
		bytes = cw.n
		if f != nil {
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "export-s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
	b.ReportMetric(float64(bytes)/1e6, "archive-MB")
	b.ReportMetric(float64(peakRSSKB())/1024, "peak-rss-MB")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// peakRSSKB reads VmHWM from /proc/self/status.
func peakRSSKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return -1
}

// The archive's CSV files are defused against formula injection like the
// list export; its JSON and its database keep the values exact.
func TestExportWorkspace_CSVDefused(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	mustContact(t, db, ContactInput{FirstName: ptr(`=HYPERLINK("http://evil.example","x")`), Title: ptr("@SUM(A1)")})
	var buf bytes.Buffer
	if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w1", Name: "Acme"}, t.TempDir(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		f, err := zr.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return string(b)
	}
	rows, err := csv.NewReader(strings.NewReader(read("data/contacts.csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
			t.Errorf("a cell starts with a formula: %q", cell)
		}
	}
	if js := read("data/contacts.json"); !strings.Contains(js, `"first_name":"=HYPERLINK`) {
		t.Errorf("the JSON lost the exact value: %s", js)
	}
}

// The archive's hand-made JSON reads back as encoding/json's would: every
// kind of value, quotes, control characters, invalid UTF-8, line
// separators and non-ASCII text.
func TestAppendJSONRow_MatchesEncodingJSON(t *testing.T) {
	cols := []string{"text", "raw", "n", "f", "nothing", "at", "weird\"col"}
	at := time.Date(2026, 11, 30, 12, 0, 0, 123, time.UTC)
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tline\nret\r", "\x00\x01\x1f\x7f", "bad \xff\xfe utf8",
		"sep \u2028 \u2029", "Müller & Söhne <b>", "emoji 🙂", "=HYPERLINK(\"x\")"} {
		vals := []driver.Value{s, []byte(s), int64(-42), 3.25, nil, at, "x"}
		got := map[string]any{}
		if err := json.Unmarshal(appendJSONRow(nil, cols, vals), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		std, _ := json.Marshal(map[string]any{"text": s, "raw": s, "n": -42, "f": 3.25, "nothing": nil,
			"at": at.Format(time.RFC3339Nano), "weird\"col": "x"})
		want := map[string]any{}
		json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
}

// Rows go to the CSV and JSON encoders in batches: a table of several
// batches (and one row more) comes out whole and in rowid order, and a
// table without rows as an empty CSV and an empty JSON array.
func TestExportWorkspace_RowsAcrossBatches(t *testing.T) {
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	n := 2*batchRows + 1
	if _, err := db.W.ExecContext(ctx, `WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k+1 FROM i WHERE k < ?)
		INSERT INTO contacts (id, first_name, created_at, updated_at) SELECT 'c' || k, 'n' || k, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM i`, n); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w1"}, t.TempDir(), &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts["contacts"] != n || m.Counts["tasks"] != 0 {
		t.Fatalf("counts %v", m.Counts)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		f, err := zr.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return b
	}
	var contacts []map[string]any
	if err := json.Unmarshal(read("data/contacts.json"), &contacts); err != nil || len(contacts) != n {
		t.Fatalf("contacts.json: %v, %d rows", err, len(contacts))
	}
	rows, err := csv.NewReader(bytes.NewReader(read("data/contacts.csv"))).ReadAll()
	if err != nil || len(rows) != n+1 || rows[0][1] != "id" {
		t.Fatalf("contacts.csv: %v, %d rows", err, len(rows))
	}
	for i := range n {
		want := fmt.Sprintf("n%d", i+1)
		if contacts[i]["first_name"] != want || rows[i+1][2] != want {
			t.Fatalf("row %d: %v / %v, want %s", i, contacts[i]["first_name"], rows[i+1][2], want)
		}
	}
	if got := string(read("data/tasks.json")); got != "[]\n" {
		t.Errorf("tasks.json = %q", got)
	}
	if got := string(read("data/tasks.csv")); got != "" {
		t.Errorf("tasks.csv = %q", got)
	}
}
