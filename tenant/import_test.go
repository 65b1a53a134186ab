package tenant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atrium/store"
)

// seedForExport fills a workspace with one of everything.
func seedForExport(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	a := store.Actor{Kind: "user", ID: "u1"}
	s := func(v string) *string { return &v }
	if _, err := store.CreateCustomField(ctx, db, a, store.NewCustomField{Entity: "contact", Label: "Tier", Type: "select", Options: []string{"Gold"}}); err != nil {
		t.Fatal(err)
	}
	c, err := store.CreateContact(ctx, db, a, store.ContactInput{FirstName: s("Ana"), Email: s("ana@example.com"), Company: s("Acme"),
		Tags: &[]string{"vip"}, Custom: map[string]any{"tier": "Gold"}})
	if err != nil {
		t.Fatal(err)
	}
	store.CreateNote(ctx, db, a, store.NoteInput{ContactID: c.ID, Body: "Likes long lunches"})
	store.CreateTask(ctx, db, a, store.TaskInput{ContactID: &c.ID, Title: s("Call")})
	store.CreateDeal(ctx, db, a, store.DealInput{Title: s("Renewal"), Value: s("1200.10"), ContactID: &c.ID})
	store.CreateAPIKey(ctx, db, a, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "k", "write")
	if _, err := store.CreateTemplate(ctx, db, a, store.TemplateInput{Name: s("Intro"), Subject: s(`Hi {{first_name | "there"}}`),
		Body: s("<p>Hello {{custom.tier}}</p>\n<p>Bye</p>")}); err != nil {
		t.Fatal(err)
	}
}

// tableDump renders every exported table's rows as text, for comparison.
func tableDump(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range store.ExportTables {
		rows, err := db.R.Queryx(`SELECT * FROM ` + table + ` ORDER BY rowid`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			m := map[string]any{}
			rows.MapScan(m)
			fmt.Fprintf(&b, "%s %v\n", table, m)
		}
		rows.Close()
	}
	return b.String()
}

func TestImport_RoundTrip(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	src := mustCreate(t, m, "Acme")
	l, err := m.Acquire(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	seedForExport(t, l.DB)
	archive := filepath.Join(t.TempDir(), "acme.zip")
	f, _ := os.Create(archive)
	if _, err := store.ExportWorkspace(ctx, l.DB, store.ExportMeta{ID: src.ID, Name: src.Name, Region: src.Region}, t.TempDir(), f, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := tableDump(t, l.DB)
	l.Release()

	w, err := m.Import(ctx, archive, CreateOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if w.ID == src.ID || w.Name != "Acme" {
		t.Fatalf("imported %+v", w)
	}
	l2, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if got := tableDump(t, l2.DB); got != want {
		t.Fatalf("the import differs from the original:\n%s\nwant\n%s", got, want)
	}
	if rs, _ := store.Search(ctx, l2.DB, "lunch", 5); len(rs) != 1 {
		t.Fatal("search does not find the imported note")
	}
	if keys, _ := store.ListAPIKeys(ctx, l2.DB); len(keys) != 0 {
		t.Fatal("API keys came over")
	}
}

func TestImport_BareDBAndRefusals(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	src := mustCreate(t, m, "Source")
	l, _ := m.Acquire(ctx, src.ID)
	seedForExport(t, l.DB)
	bare := filepath.Join(t.TempDir(), "client-file.db")
	if _, err := l.W.Exec(`VACUUM INTO ?`, bare); err != nil {
		t.Fatal(err)
	}
	l.Release()
	w, err := m.Import(ctx, bare, CreateOptions{OwnerEmail: ""})
	if err != nil || w.Name != "client-file" {
		t.Fatalf("bare .db: %+v %v", w, err)
	}
	before, _ := m.List(ctx)
	hostile := filepath.Join(t.TempDir(), "hostile.db")
	os.WriteFile(hostile, mustRead(t, bare), 0o600)
	db, _ := store.Open(hostile, store.OpenOptions{})
	db.W.Exec(`CREATE TRIGGER steal AFTER INSERT ON contacts BEGIN DELETE FROM contacts; END`)
	db.Close()
	text := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(text, []byte("not a database"), 0o600)
	for name, path := range map[string]string{"a trigger": hostile, "not SQLite or zip": text, "missing": filepath.Join(t.TempDir(), "nope.db")} {
		if _, err := m.Import(ctx, path, CreateOptions{Name: "X"}); err == nil || store.ErrorCode(err) == store.EInternal && !strings.Contains(err.Error(), "cannot be read") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	after, _ := m.List(ctx)
	if len(after) != len(before) {
		t.Fatalf("a refused import left a workspace: %d → %d", len(before), len(after))
	}
	leftovers, _ := filepath.Glob(filepath.Join(m.DataDir(), ".import-*"))
	if len(leftovers) != 0 {
		t.Fatalf("staging left behind: %v", leftovers)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exportArchive writes an export of a small workspace of m and returns its path.
func exportArchive(t *testing.T, m *Manager) string {
	t.Helper()
	ctx := context.Background()
	src := mustCreate(t, m, "Source")
	l, err := m.Acquire(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	seedForExport(t, l.DB)
	archive := filepath.Join(t.TempDir(), "source.zip")
	f, _ := os.Create(archive)
	defer f.Close()
	if _, err := store.ExportWorkspace(ctx, l.DB, store.ExportMeta{ID: src.ID, Name: src.Name}, t.TempDir(), f, nil); err != nil {
		t.Fatal(err)
	}
	return archive
}

// TestImport_Limits: a file past the import limit is refused before it is
// staged, and imports together stage no more than MaxStagingBytes.
func TestImport_Limits(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	archive := exportArchive(t, m)
	bare := filepath.Join(t.TempDir(), "bare.db")
	p, _, err := store.ExtractArchive(archive, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bare, mustRead(t, p), 0o600)
	noStaging := func(t *testing.T) {
		t.Helper()
		if left, _ := filepath.Glob(filepath.Join(m.DataDir(), ".import-*")); len(left) != 0 {
			t.Fatalf("staging left behind: %v", left)
		}
	}
	t.Run("ErrPastImportLimit", func(t *testing.T) {
		defer func(old int64) { store.MaxImportBytes = old }(store.MaxImportBytes)
		store.MaxImportBytes = 16 << 10
		for name, src := range map[string]string{"archive": archive, "bare .db": bare} {
			_, err := m.Import(ctx, src, CreateOptions{Name: "X"})
			if got, want := store.ErrorCode(err), store.ETooLarge; got != want || !strings.Contains(err.Error(), "import limit") {
				t.Errorf("%s: got %q (%v), want %q", name, got, err, want)
			}
		}
		noStaging(t)
	})
	t.Run("ErrStagingBudgetHeld", func(t *testing.T) {
		defer func(old int64) { MaxStagingBytes = old }(MaxStagingBytes)
		MaxStagingBytes = 1 << 20
		release, err := reserveStaging(MaxStagingBytes - 1<<10) // another import, staging
		if err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string]string{"archive": archive, "bare .db": bare} {
			_, err := m.Import(ctx, src, CreateOptions{Name: "X"})
			if got, want := store.ErrorCode(err), store.EUnavailable; got != want {
				t.Errorf("%s: got %q (%v), want %q", name, got, err, want)
			}
		}
		noStaging(t)
		release()
		release() // idempotent
		if _, err := m.Import(ctx, archive, CreateOptions{Name: "After"}); err != nil {
			t.Fatalf("with the budget free again: %v", err)
		}
		if got := staging.used; got != 0 {
			t.Fatalf("got %d bytes still reserved, want 0", got)
		}
	})
}

// TestImport_RowLimits: a workspace file whose note is longer than a note
// may be is refused whole, naming the table, row and column, and leaves
// neither a workspace nor staging behind.
func TestImport_RowLimits(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	p, _, err := store.ExtractArchive(exportArchive(t, m), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(p, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`UPDATE notes SET body = ?`, strings.Repeat("x", store.MaxNoteLength+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := m.List(ctx)
	_, err = m.Import(ctx, p, CreateOptions{Name: "X"})
	if got, want := store.ErrorCode(err), store.EInvalid; got != want {
		t.Fatalf("got %q (%v), want %q", got, err, want)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "Table notes, row seq 1, column body: ") {
		t.Fatalf("got %q, want the table, row and column named", msg)
	}
	if after, _ := m.List(ctx); len(after) != len(before) {
		t.Fatalf("a refused import left a workspace: %d → %d", len(before), len(after))
	}
	if left, _ := filepath.Glob(filepath.Join(m.DataDir(), ".import-*")); len(left) != 0 {
		t.Fatalf("staging left behind: %v", left)
	}
}
