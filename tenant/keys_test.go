package tenant

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atrium/store"
)

// leasedService returns the service of workspace id and the lease's
// release.
func leasedService(tb testing.TB, m *Manager, id string) (*Service, func()) {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.Release)
	return m.Service(l), l.Release
}

func TestKeys_SealAndUnseal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := mustOpenManagerAt(t, dir, 0)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	svcA, releaseA := leasedService(t, m, a.ID)
	svcB, _ := leasedService(t, m, b.ID)

	sealed, err := svcA.Seal(ctx, "mailbox:1:password", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := svcA.Seal(ctx, "mailbox:1:password", "hunter2")
	if sealed == again || strings.Contains(sealed, "hunter2") {
		t.Fatalf("sealed %q, %q", sealed, again)
	}
	if got, err := svcA.Unseal(ctx, "mailbox:1:password", sealed); err != nil || got != "hunter2" {
		t.Fatalf("unseal: %q, %v", got, err)
	}
	// Bound to its place and its workspace.
	if _, err := svcA.Unseal(ctx, "mailbox:2:password", sealed); err == nil {
		t.Fatal("a secret opened under another purpose")
	}
	if _, err := svcB.Unseal(ctx, "mailbox:1:password", sealed); err == nil {
		t.Fatal("workspace B opened A's secret")
	}
	// The catalog holds the data key wrapped, never as is.
	wrapped, ok, err := store.WrappedWorkspaceKey(ctx, m.Catalog().R, a.ID)
	if err != nil || !ok || len(wrapped) < keyBytes+16 {
		t.Fatalf("wrapped key %x, %v, %v", wrapped, ok, err)
	}
	// The master key file is the owner's alone.
	st, err := os.Stat(filepath.Join(dir, masterKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, %v", st, err)
	}

	// Deleting the workspace deletes its key.
	releaseA()
	if _, err := m.Delete(ctx, a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := store.WrappedWorkspaceKey(ctx, m.Catalog().R, a.ID); ok {
		t.Fatal("the deleted workspace's key is still in the catalog")
	}
}

// Without the master key that wrapped them, secrets do not open; a new one
// can be sealed (the user enters the password again).
func TestKeys_LostMasterKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := mustOpenManagerAt(t, dir, 0)
	w := mustCreate(t, m, "A")
	svc, release := leasedService(t, m, w.ID)
	sealed, err := svc.Seal(ctx, "p", "old secret")
	if err != nil {
		t.Fatal(err)
	}
	release()
	m.Close()
	if err := os.Remove(filepath.Join(dir, masterKeyFile)); err != nil {
		t.Fatal(err)
	}
	m = mustOpenManagerAt(t, dir, 0)
	svc, _ = leasedService(t, m, w.ID)
	if _, err := svc.Unseal(ctx, "p", sealed); store.ErrorCode(err) != store.EConflict {
		t.Fatalf("unseal with another master key: %v", err)
	}
	fresh, err := svc.Seal(ctx, "p", "new secret")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Unseal(ctx, "p", fresh); err != nil || got != "new secret" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestKeys_MasterKeyFromEnvironmentAndPermissions(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, keyBytes)
	t.Setenv(MasterKeyEnv, base64.StdEncoding.EncodeToString(key))
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key file was made although the environment gave the key")
	}
	t.Setenv(MasterKeyEnv, "short")
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), ""); err == nil || !strings.Contains(err.Error(), MasterKeyEnv) {
		t.Fatalf("a bad key in the environment: %v", err)
	}
	t.Setenv(MasterKeyEnv, "")
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, masterKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key file others can read: %v", err)
	}
}
