package tenant

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/litestream"
	lsfile "github.com/benbjohnson/litestream/file"

	"atrium/store"
)

// copyTree copies every file under src to the same place under dst.
func copyTree(tb testing.TB, src, dst string) int {
	tb.Helper()
	n := 0
	err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o700); err != nil {
			return err
		}
		n++
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// Crypto-shredding: a copy of every replica object of a workspace, kept
// as a versioned bucket would, cannot be read once the workspace is
// hard-deleted, by any key this instance still has.
func TestEncryptedReplica_HardDeleteShredsTheKey(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w, other := mustCreate(t, m, "Doomed"), mustCreate(t, m, "Other")
	addContacts(t, m, w.ID, knownName, 100)
	mustSync(t, m, w.ID)
	if _, err := m.RotateWorkspaceKey(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	mustExec(t, m, w.ID, `DELETE FROM contacts WHERE id >= 'c00050'`)
	mustSync(t, m, w.ID)
	addContacts(t, m, other.ID, "Someone Else", 5)
	mustSync(t, m, other.ID)
	kept := t.TempDir()
	if n := copyTree(t, filepath.Join(replicas, w.ID), kept); n == 0 {
		t.Fatal("no replica objects to keep")
	}
	// While the workspace lives, the kept copy restores.
	restoreCopy := func(ks func(context.Context) (*workspaceKeySet, error)) error {
		c := newCryptClient(litestreamFileClient(filepath.Join(kept, "g1")), w.ID, ks)
		opt := litestream.NewRestoreOptions()
		opt.OutputPath = filepath.Join(t.TempDir(), "out.db")
		return litestream.NewReplicaWithClient(nil, c).Restore(ctx, opt)
	}
	live := func(ctx context.Context) (*workspaceKeySet, error) { return m.workspaceKeys(ctx, w.ID, false) }
	if err := restoreCopy(live); err != nil {
		t.Fatalf("the copy does not restore before the deletion: %v", err)
	}

	if _, err := m.Delete(ctx, w.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if keys, err := store.WorkspaceKeys(ctx, m.Catalog().R, w.ID); err != nil || len(keys) != 0 {
		t.Fatalf("keys left in the catalog: %d, %v", len(keys), err)
	}
	if err := restoreCopy(live); err == nil {
		t.Fatal("the kept copy restored after the workspace was deleted")
	}
	if _, err := m.ExportWorkspaceKeys(ctx, w.ID); err == nil {
		t.Fatal("the deleted workspace's keys were exported")
	}
	// Nor with any key the instance still has, whoever it belongs to.
	all, err := store.AllWorkspaceKeys(ctx, m.Catalog().R)
	if err != nil || len(all) == 0 {
		t.Fatalf("%d keys, %v", len(all), err)
	}
	for _, k := range all {
		plain, err := m.master.open(k.Wrapped, keyAAD(k.WorkspaceID, k.ID))
		if err != nil {
			t.Fatal(err)
		}
		ks := &workspaceKeySet{keys: map[uint32][]byte{1: plain, 2: plain}, current: 2}
		if err := restoreCopy(staticKeys(ks)); err == nil {
			t.Fatalf("the copy restored with key %d of workspace %s", k.ID, k.WorkspaceID)
		}
		ek := &ExportedKeys{Workspace: w.ID, Keys: map[string]string{"1": b64(plain), "2": b64(plain)}}
		if _, err := DecryptReplicaDir(ctx, ek, kept, t.TempDir()); err == nil {
			t.Fatalf("replica decrypt read the copy with key %d of workspace %s", k.ID, k.WorkspaceID)
		}
	}
	// The other workspace is untouched.
	if got := contactCount(t, m, other.ID); got != 5 {
		t.Fatalf("other workspace: %d contacts", got)
	}
}

func litestreamFileClient(dir string) litestream.ReplicaClient { return lsfile.NewReplicaClient(dir) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Disaster recovery from encrypted replicas: with the master key (kept
// apart, here in the environment) every workspace comes back; with another
// master key nothing does, not even the catalog (its replica is encrypted
// with the master key), and the error says so.
func TestEncryptedReplica_DisasterRecovery(t *testing.T) {
	dataDir := t.TempDir()
	cfg, _ := encryptedFileConfig(t, dataDir, true)
	key := newKeyText()
	t.Setenv(MasterKeyEnv, key)
	m := openWithConfig(t, dataDir, cfg)
	a := mustCreate(t, m, "A")
	addContacts(t, m, a.ID, knownName, 30)
	mustSync(t, m, a.ID)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	t.Setenv(MasterKeyEnv, newKeyText())
	os.RemoveAll(dataDir)
	if m, err := openErr(dataDir, cfg); !errors.Is(err, ErrWrongMasterKey) {
		if err == nil {
			m.Close()
		}
		t.Fatalf("recovery with another master key: %v", err)
	}

	t.Setenv(MasterKeyEnv, key)
	os.RemoveAll(dataDir)
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := contactCount(t, m, a.ID); got != 30 {
		t.Fatalf("recovered %d contacts", got)
	}
}

// A move from a plain region to an encrypted one: the workspace's replica
// in the new region holds no plaintext and restores from there.
func TestEncryptedReplica_MoveIntoEncryptedRegion(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	other := t.TempDir()
	cfg := mustConfig(t, dataDir, `
regions:
  default:
    replica:
      url: file://`+other+`/default-replica
  eu:
    data: `+other+`/eu-data
    replica:
      url: file://`+other+`/eu-replica
      encrypt: true
`)
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Home")
	addContacts(t, m, w.ID, knownName, 40)
	mustSync(t, m, w.ID)
	if len(filesContaining(t, filepath.Join(other, "default-replica", w.ID), knownName)) == 0 {
		t.Fatal("the plain region's replica does not hold the name: the search cannot tell")
	}
	if _, err := m.Move(ctx, w.ID, "eu", "test"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, m, w.ID, `DELETE FROM contacts WHERE id >= 'c00030'`)
	mustSync(t, m, w.ID)
	if found := filesContaining(t, filepath.Join(other, "eu-replica"), knownName); len(found) != 0 {
		t.Fatalf("plaintext in the encrypted region: %v", found)
	}
	path := mustPath(t, m, w.ID)
	m.Close()
	removeWorkspaceFiles(path)
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := contactCount(t, m, w.ID); got != 30 {
		t.Fatalf("restored in the encrypted region: %d contacts", got)
	}
}
