package store

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exportTo writes an export of a small workspace to a file and returns its path.
func exportTo(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := MustOpenWorkspace(t)
	mustContact(t, db, ContactInput{FirstName: ptr("Ana"), Email: ptr("ana@example.com")})
	CreateAPIKey(ctx, db, tester, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "key", "write")
	p := filepath.Join(t.TempDir(), "export.zip")
	f, _ := os.Create(p)
	defer f.Close()
	if _, err := ExportWorkspace(ctx, db, ExportMeta{ID: "w", Name: "W"}, t.TempDir(), f, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// dbFromExport extracts a valid workspace file to tamper with.
func dbFromExport(t *testing.T) string {
	t.Helper()
	p, _, err := ExtractArchive(exportTo(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImport_ValidArchive(t *testing.T) {
	ctx := context.Background()
	p, m, err := ExtractArchive(exportTo(t), t.TempDir())
	if err != nil || m.Counts["contacts"] != 1 {
		t.Fatalf("extract: %v %+v", err, m)
	}
	if err := ValidateImport(ctx, p); err != nil {
		t.Fatal(err)
	}
	db, _ := Open(p, OpenOptions{})
	defer db.Close()
	var keys int
	db.R.Get(&keys, `SELECT count(*) FROM api_keys`)
	if keys != 0 {
		t.Fatal("API keys came in")
	}
}

func TestImport_HostileFiles(t *testing.T) {
	ctx := context.Background()
	tamper := func(sql string) func(t *testing.T) string {
		return func(t *testing.T) string {
			p := dbFromExport(t)
			db, err := Open(p, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.W.Exec(sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			return p
		}
	}
	for name, tc := range map[string]struct {
		make func(t *testing.T) string
		want string
	}{
		"a trigger":                       {tamper(`CREATE TRIGGER evil AFTER INSERT ON contacts BEGIN DELETE FROM contacts; END`), "trigger"},
		"a view":                          {tamper(`CREATE VIEW v AS SELECT * FROM contacts`), "view"},
		"another table":                   {tamper(`CREATE TABLE users (id INTEGER)`), "does not define"},
		"a table named like Litestream's": {tamper(`CREATE TABLE _litestream_secrets (v TEXT); INSERT INTO _litestream_secrets VALUES ('kept')`), "_litestream_secrets"},
		"a changed table":                 {tamper(`DROP TRIGGER contacts_fts_insert; CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN SELECT 1; END`), "differently"},
		"a newer version":                 {tamper(`PRAGMA user_version = 99`), "schema version 99"},
		"not SQLite": {func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "x.db")
			os.WriteFile(p, []byte("hello, I am a text file"), 0o600)
			return p
		}, "not a SQLite database"},
		"truncated": {func(t *testing.T) string {
			p := dbFromExport(t)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/3], 0o600)
			return p
		}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p := tc.make(t)
			err := ValidateImport(ctx, p)
			if err == nil || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if ErrorCode(err) == EInternal {
				t.Fatalf("not a clear error: %v", err)
			}
		})
	}
}

func TestImport_HostileArchives(t *testing.T) {
	write := writeZip
	for name, tc := range map[string]struct {
		entries map[string][]byte
		want    string
	}{
		"path traversal":   {map[string][]byte{"../../etc/passwd": []byte("x"), "manifest.json": manifest}, "outside"},
		"absolute path":    {map[string][]byte{"/tmp/evil": []byte("x"), "manifest.json": manifest}, "outside"},
		"no manifest":      {map[string][]byte{"workspace.db": []byte("x")}, "no manifest"},
		"foreign manifest": {map[string][]byte{"workspace.db": []byte("x"), "manifest.json": []byte(`{"format":"other"}`)}, "not the manifest"},
		"not SQLite":       {map[string][]byte{"workspace.db": []byte("x"), "manifest.json": manifest}, "not a SQLite database"},
		"bad checksum": {map[string][]byte{"workspace.db": []byte("SQLite format 3\x00x"),
			"manifest.json": []byte(`{"format":"atrium-workspace-export","format_version":1,"files":[{"name":"workspace.db","sha256":"00"}]}`)}, "checksum"},
	} {
		t.Run(name, func(t *testing.T) {
			dest := t.TempDir()
			_, _, err := ExtractArchive(write(t, tc.entries), dest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if filesIn(t, dest) != 0 {
				t.Fatal("a refused archive left files behind")
			}
			filepath.WalkDir(filepath.Dir(filepath.Dir(dest)), func(p string, d os.DirEntry, err error) error {
				if err == nil && (d.Name() == "passwd" || d.Name() == "evil") {
					t.Fatalf("an entry was written outside: %s", p)
				}
				return nil
			})
		})
	}
	t.Run("zip bomb", func(t *testing.T) {
		defer func(old int64) { MaxImportBytes = old }(MaxImportBytes)
		MaxImportBytes = 1 << 20
		p := write(t, map[string][]byte{"workspace.db": bytes.Repeat([]byte{0}, 8<<20), "manifest.json": manifest})
		if _, _, err := ExtractArchive(p, t.TempDir()); ErrorCode(err) != ETooLarge {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a zip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "a.zip")
		os.WriteFile(p, []byte("garbage"), 0o600)
		if _, _, err := ExtractArchive(p, t.TempDir()); ErrorCode(err) != EInvalid {
			t.Fatalf("err = %v", err)
		}
	})
}

var manifest = []byte(`{"format":"atrium-workspace-export","format_version":1}`)

// writeZip writes an archive of the given entries and returns its path.
func writeZip(t *testing.T, entries map[string][]byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range entries {
		w, _ := zw.Create(name)
		w.Write(b)
	}
	zw.Close()
	os.WriteFile(p, buf.Bytes(), 0o600)
	return p
}

// lyingZip writes an archive whose workspace.db inflates to content but
// declares only declared bytes, as a hostile archive can.
func lyingZip(t *testing.T, content []byte, declared uint64) string {
	t.Helper()
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
	fw.Write(content)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "workspace.db", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(content[:declared]),
		CompressedSize64: uint64(deflated.Len()), UncompressedSize64: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(deflated.Bytes())
	mw, _ := zw.Create("manifest.json")
	mw.Write(manifest)
	zw.Close()
	p := filepath.Join(t.TempDir(), "lying.zip")
	os.WriteFile(p, buf.Bytes(), 0o600)
	return p
}

// TestImport_ZipBombs: an archive's workspace.db is refused from its first
// bytes when they are not SQLite's, and no more than its declared size or
// MaxImportBytes is ever written.
func TestImport_ZipBombs(t *testing.T) {
	zeros := make([]byte, 4<<20)
	withHeader := append(append([]byte{}, sqliteHeader...), zeros...)
	t.Run("ErrZerosRefusedAtOnce", func(t *testing.T) {
		dest := t.TempDir()
		_, _, err := ExtractArchive(writeZip(t, map[string][]byte{"workspace.db": zeros, "manifest.json": manifest}), dest)
		if got, want := ErrorCode(err), EInvalid; got != want || !strings.Contains(err.Error(), "not a SQLite database") {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
		if got := filesIn(t, dest); got != 0 {
			t.Fatalf("got %d files written, want 0", got)
		}
	})
	t.Run("ErrDeclaredPastLimit", func(t *testing.T) {
		defer func(old int64) { MaxImportBytes = old }(MaxImportBytes)
		MaxImportBytes = 1 << 20
		_, err := OpenArchive(writeZip(t, map[string][]byte{"workspace.db": withHeader, "manifest.json": manifest}))
		if got, want := ErrorCode(err), ETooLarge; got != want || !strings.Contains(err.Error(), "1 MiB") {
			t.Fatalf("got %q (%v), want %q naming the limit", got, err, want)
		}
	})
	t.Run("ErrDeclaredSizeLies", func(t *testing.T) {
		const declared = 64 << 10
		a, err := OpenArchive(lyingZip(t, withHeader, declared))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		rc, _ := a.db.Open()
		defer rc.Close()
		head, err := readSQLiteHeader(rc)
		if err != nil {
			t.Fatal(err)
		}
		var w countingWriter
		_, err = copyEntry(&w, head, rc, a.DBSize())
		if got, want := ErrorCode(err), ETooLarge; got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
		if w.n > declared {
			t.Fatalf("got %d bytes written, want at most the %d declared", w.n, declared)
		}
		if _, err := a.ExtractDB(t.TempDir()); ErrorCode(err) != ETooLarge {
			t.Fatalf("ExtractDB: got %v, want too_large", err)
		}
	})
	t.Run("ErrPastLimitWhateverDeclared", func(t *testing.T) {
		defer func(old int64) { MaxImportBytes = old }(MaxImportBytes)
		MaxImportBytes = 1 << 20
		var w countingWriter
		_, err := copyEntry(&w, sqliteHeader, bytes.NewReader(zeros), 1<<40)
		if got, want := ErrorCode(err), ETooLarge; got != want || w.n > MaxImportBytes {
			t.Fatalf("got %q (%v) after %d bytes, want %q within %d", got, err, w.n, want, MaxImportBytes)
		}
	})
}

func filesIn(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
