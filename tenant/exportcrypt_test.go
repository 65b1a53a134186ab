package tenant

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"atrium/store"
)

// A protected export imports only with its passphrase; a changed byte is
// a clear error, not a workspace.
func TestExportProtected_Import(t *testing.T) {
	defer func(f int) { exportScryptWorkFactor = f }(exportScryptWorkFactor)
	exportScryptWorkFactor = 12
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Acme")
	for range 5 {
		mustExec(t, m, w.ID, `INSERT INTO contacts (id, first_name, created_at, updated_at) VALUES (?, ?, ?, ?)`, uuid.NewString(), knownName, time.Now().UTC(), time.Now().UTC())
	}
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ExportTo(ctx, l, io.Discard, "short"); store.ErrorCode(err) != store.EValidation {
		t.Fatalf("short passphrase: %v", err)
	}
	var buf bytes.Buffer
	_, err = m.ExportTo(ctx, l, &buf, "long enough pass")
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !strings.HasPrefix(string(b), ageMagic) || strings.Contains(string(b), "workspace.db") {
		t.Fatal("not a protected archive")
	}
	path := filepath.Join(t.TempDir(), "acme.zip.age")
	os.WriteFile(path, b, 0o600)
	for pass, want := range map[string]string{"": "protected with a passphrase", "wrong passphrase": "passphrase is wrong"} {
		_, err := m.Import(ctx, path, CreateOptions{Name: "Copy", Passphrase: pass})
		if store.ErrorCode(err) != store.EValidation || !strings.Contains(err.Error(), want) {
			t.Fatalf("import with %q: %v", pass, err)
		}
	}
	bad := []byte(string(b))
	bad[len(bad)-100] ^= 1
	badPath := filepath.Join(t.TempDir(), "bad.zip.age")
	os.WriteFile(badPath, bad, 0o600)
	if _, err := m.Import(ctx, badPath, CreateOptions{Name: "Copy", Passphrase: "long enough pass"}); store.ErrorCode(err) != store.EInvalid || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("import of a changed archive: %v", err)
	}
	n, err := m.Import(ctx, path, CreateOptions{Name: "Copy", Passphrase: "long enough pass"})
	if err != nil {
		t.Fatal(err)
	}
	if got := contactCount(t, m, n.ID); got != 5 {
		t.Fatalf("imported %d contacts", got)
	}
	if left, _ := filepath.Glob(filepath.Join(m.DataDir(), ".import-*")); len(left) != 0 {
		t.Fatalf("staging left: %v", left)
	}
}
