package tenant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

// knownEmail is a user's address the catalog's replica must not show.
const knownEmail = "zebulon.quaxworthy@catalog-secret.example"

func addUser(tb testing.TB, m *Manager, email string) {
	tb.Helper()
	if _, err := store.CreateUser(context.Background(), m.Catalog(), store.NewUser{Email: email, Password: "correct horse battery", Verified: true}); err != nil {
		tb.Fatal(err)
	}
}

func hasUser(tb testing.TB, m *Manager, email string) bool {
	tb.Helper()
	var n int
	if err := m.Catalog().R.Get(&n, `SELECT count(*) FROM users WHERE email = ?`, email); err != nil {
		tb.Fatal(err)
	}
	return n == 1
}

func openErr(dataDir string, cfg *Config) (*Manager, error) {
	return Open(context.Background(), Options{DataDir: dataDir, Config: cfg, SyncInterval: testSyncInterval, JanitorInterval: time.Hour, Logger: testLogger()})
}

// With encrypt: true on the catalog's region, the catalog's replica holds
// no plaintext (without it the same search finds the address: the test can
// tell), on the file replica and on S3, and a disaster recovery brings the
// catalog back from it.
func TestEncryptedCatalogReplica_NoPlaintext(t *testing.T) {
	ctx := context.Background()
	t.Run("Plain", func(t *testing.T) {
		dataDir := t.TempDir()
		cfg, replicas := encryptedFileConfig(t, dataDir, false)
		m := openWithConfig(t, dataDir, cfg)
		addUser(t, m, knownEmail)
		if err := m.SyncCatalog(ctx); err != nil {
			t.Fatal(err)
		}
		m.Close()
		if len(filesContaining(t, filepath.Join(replicas, catalogPrefix), knownEmail)) == 0 {
			t.Fatal("the plain catalog replica does not hold the address: the search cannot tell")
		}
	})
	t.Run("File", func(t *testing.T) {
		t.Setenv(MasterKeyEnv, newKeyText())
		dataDir := t.TempDir()
		cfg, replicas := encryptedFileConfig(t, dataDir, true)
		m := openWithConfig(t, dataDir, cfg)
		addUser(t, m, knownEmail)
		w := mustCreate(t, m, "A")
		addContacts(t, m, w.ID, knownName, 5)
		mustSync(t, m, w.ID)
		if err := m.SyncCatalog(ctx); err != nil {
			t.Fatal(err)
		}
		// Verification and backup status read the encrypted replica.
		v, err := m.VerifyCatalogReplica(ctx)
		if err != nil || v.Failure != "" || v.Pages == 0 {
			t.Fatalf("verify the encrypted catalog replica: %+v, %v", v, err)
		}
		st, err := m.BackupStatus(ctx)
		if err != nil || st[0].WorkspaceID != catalogPrefix || st[0].ReplicatedTXID == 0 || st[0].ReplicatedTXID != st[0].LocalTXID {
			t.Fatalf("backup status %+v, %v", st, err)
		}
		m.Close()
		objects := 0
		filepath.WalkDir(filepath.Join(replicas, catalogPrefix), func(path string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				objects++
			}
			return nil
		})
		if objects == 0 {
			t.Fatal("the catalog replica is empty")
		}
		if found := filesContaining(t, filepath.Join(replicas, catalogPrefix), knownEmail); len(found) != 0 {
			t.Fatalf("plaintext in the encrypted catalog replica: %v", found)
		}
		os.RemoveAll(dataDir)
		m = openWithConfig(t, dataDir, cfg)
		defer m.Close()
		if !m.Recovery().CatalogRestored || !hasUser(t, m, knownEmail) {
			t.Fatal("the catalog did not come back from its encrypted replica")
		}
		if got := contactCount(t, m, w.ID); got != 5 {
			t.Fatalf("recovered %d contacts", got)
		}
	})
	t.Run("S3", func(t *testing.T) {
		t.Setenv(MasterKeyEnv, newKeyText())
		s := newS3(t)
		dataDir := t.TempDir()
		cfg := mustConfig(t, dataDir, "regions:\n  default:\n"+s.replicaYAML("enc")+"      encrypt: true\n")
		m := openWithConfig(t, dataDir, cfg)
		addUser(t, m, knownEmail)
		if err := m.SyncCatalog(ctx); err != nil {
			t.Fatal(err)
		}
		m.Close()
		keys := s.keys(t, "enc/"+catalogPrefix+"/")
		if len(keys) == 0 {
			t.Fatal("the catalog replica is empty")
		}
		for _, k := range keys {
			if bytes.Contains(s.get(t, k), []byte(knownEmail)) {
				t.Fatalf("plaintext in %s", k)
			}
		}
		os.RemoveAll(dataDir)
		m = openWithConfig(t, dataDir, cfg)
		defer m.Close()
		if !hasUser(t, m, knownEmail) {
			t.Fatal("the catalog did not come back from its encrypted S3 replica")
		}
	})
}

// A disaster recovery with another master key fails loudly and restores
// nothing; with the key file lost (a new one is made at start), that new
// file is removed again and the message says where to put the right key;
// with the right key it works.
func TestEncryptedCatalogReplica_WrongMasterKey(t *testing.T) {
	dataDir := t.TempDir()
	cfg, _ := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg) // the key file, made now
	addUser(t, m, knownEmail)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dataDir, masterKeyFile)
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}

	os.RemoveAll(dataDir)
	_, err = openErr(dataDir, cfg)
	if !errors.Is(err, ErrWrongMasterKey) || !strings.Contains(err.Error(), "put the instance's master key at "+keyPath) {
		t.Fatalf("open without the key file: %v", err)
	}
	if _, serr := os.Stat(keyPath); !os.IsNotExist(serr) {
		t.Fatalf("the key file made at start is left: %v", serr)
	}
	if _, serr := os.Stat(filepath.Join(dataDir, "catalog.db")); !os.IsNotExist(serr) {
		t.Fatalf("a catalog was made: %v", serr)
	}

	t.Setenv(MasterKeyEnv, newKeyText())
	if _, err = openErr(dataDir, cfg); !errors.Is(err, ErrWrongMasterKey) || !strings.Contains(err.Error(), "this instance has") {
		t.Fatalf("open with another master key: %v", err)
	}
	t.Setenv(MasterKeyEnv, "")

	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if !hasUser(t, m, knownEmail) {
		t.Fatal("the catalog did not come back with the right key")
	}
}

// After a master key rotation, the catalog's replica holds objects written
// under both keys: a disaster recovery works while the old key is listed
// after the new one (the key file keeps it so), and fails loudly without
// it. The same with the environment.
func TestEncryptedCatalogReplica_RotationThenRestore(t *testing.T) {
	ctx := context.Background()
	t.Run("File", func(t *testing.T) {
		dataDir := t.TempDir()
		cfg, _ := encryptedFileConfig(t, dataDir, true)
		m := openWithConfig(t, dataDir, cfg)
		addUser(t, m, "before@example.com")
		if err := m.SyncCatalog(ctx); err != nil {
			t.Fatal(err)
		}
		keyPath := filepath.Join(dataDir, masterKeyFile)
		old, _ := os.ReadFile(keyPath)
		res, err := m.RotateMasterKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.KeepOld != oldMasterKeyWindow || oldMasterKeyWindow.Hours() != 48 {
			t.Fatalf("keep the old key for %v", res.KeepOld)
		}
		text, _ := os.ReadFile(keyPath)
		lines := strings.Fields(string(text))
		if len(lines) != 2 || lines[1] != strings.TrimSpace(string(old)) || lines[0] == lines[1] {
			t.Fatalf("the key file after the rotation: %q (old %q)", text, old)
		}
		if _, err := os.Stat(keyPath + pendingSuffix); !os.IsNotExist(err) {
			t.Fatalf("the pending key file is left: %v", err)
		}
		addUser(t, m, "after@example.com")
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		// A start with both keys listed is not an interrupted rotation.
		m = openWithConfig(t, dataDir, cfg)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}

		// The old key alone cannot read what was written after the
		// rotation. The new key alone fails too while objects written
		// before it remain, which is why the old key stays listed; once
		// Litestream has written them again under the new key (a snapshot
		// or a compaction, at a time of its choosing), it is enough.
		for _, alone := range []struct {
			key      string
			mustFail bool
		}{{lines[1], true}, {lines[0], false}} {
			os.RemoveAll(dataDir)
			os.MkdirAll(dataDir, 0o700)
			if err := os.WriteFile(keyPath, []byte(alone.key+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := openErr(dataDir, cfg)
			switch {
			case errors.Is(err, ErrWrongMasterKey):
			case err == nil && !alone.mustFail:
				t.Log("every object of the catalog's replica was already written again under the new key")
				m.Close()
			default:
				t.Fatalf("restore with one key alone (old: %v): %v", alone.mustFail, err)
			}
		}
		os.RemoveAll(dataDir)
		os.MkdirAll(dataDir, 0o700)
		if err := os.WriteFile(keyPath, text, 0o600); err != nil {
			t.Fatal(err)
		}
		m = openWithConfig(t, dataDir, cfg)
		defer m.Close()
		if !hasUser(t, m, "before@example.com") || !hasUser(t, m, "after@example.com") {
			t.Fatal("the catalog restored after the rotation lacks a user")
		}
		if n, fails := keyCheckFailures(t, m); len(fails) != 0 {
			t.Fatalf("check: %d keys, %v", n, fails)
		}
	})
	t.Run("Environment", func(t *testing.T) {
		dataDir := t.TempDir()
		cfg, _ := encryptedFileConfig(t, dataDir, true)
		oldKey, newKey := newKeyText(), newKeyText()
		t.Setenv(MasterKeyEnv, oldKey)
		m := openWithConfig(t, dataDir, cfg)
		w := mustCreate(t, m, "A")
		addContacts(t, m, w.ID, knownName, 7)
		mustSync(t, m, w.ID)
		addUser(t, m, "before@example.com")
		m.Close()
		t.Setenv(MasterKeyEnv, newKey+","+oldKey)
		m = openWithConfig(t, dataDir, cfg)
		res, err := m.RotateMasterKey(ctx)
		if err != nil || res.KeepOld == 0 {
			t.Fatalf("rotation %+v, %v", res, err)
		}
		addUser(t, m, "after@example.com")
		m.Close()

		// As with the key file: the old key alone fails, the new one may
		// not (see there).
		for _, alone := range []struct {
			key      string
			mustFail bool
		}{{oldKey, true}, {newKey, false}} {
			os.RemoveAll(dataDir)
			t.Setenv(MasterKeyEnv, alone.key)
			m, err := openErr(dataDir, cfg)
			switch {
			case errors.Is(err, ErrWrongMasterKey):
			case err == nil && !alone.mustFail:
				m.Close()
			default:
				t.Fatalf("restore with one key alone (old: %v): %v", alone.mustFail, err)
			}
		}
		os.RemoveAll(dataDir)
		t.Setenv(MasterKeyEnv, newKey+","+oldKey)
		m = openWithConfig(t, dataDir, cfg)
		defer m.Close()
		if !hasUser(t, m, "before@example.com") || !hasUser(t, m, "after@example.com") {
			t.Fatal("the catalog restored after the rotation lacks a user")
		}
		if got := contactCount(t, m, w.ID); got != 7 {
			t.Fatalf("recovered %d contacts", got)
		}
	})
}

// The catalog's replica decrypts without Atrium with the keys of
// ExportCatalogKeys (atrium keys export catalog), and not with another
// instance's.
func TestEncryptedCatalogReplica_DecryptWithoutAtrium(t *testing.T) {
	ctx := context.Background()
	t.Setenv(MasterKeyEnv, newKeyText())
	dataDir := t.TempDir()
	cfg, replicas := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	addUser(t, m, knownEmail)
	ek, err := m.ExportCatalogKeys()
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	parsed, err := ParseExportedKeys(mustJSON(t, ek))
	if err != nil {
		t.Fatal(err)
	}
	plain := t.TempDir()
	n, err := DecryptReplicaDir(ctx, parsed, filepath.Join(replicas, catalogPrefix), plain)
	if err != nil || n == 0 {
		t.Fatalf("decrypted %d: %v", n, err)
	}
	if len(filesContaining(t, plain, knownEmail)) == 0 {
		t.Fatal("the decrypted catalog replica does not hold the address")
	}
	out := filepath.Join(t.TempDir(), "catalog.db")
	if err := restoreFile(ctx, litestreamFileClient(plain), time.Time{}, out, "catalog", testLogger()); err != nil {
		t.Fatal(err)
	}
	if err := checkFile(ctx, out); err != nil {
		t.Fatal(err)
	}

	t.Setenv(MasterKeyEnv, newKeyText())
	other := t.TempDir()
	ocfg, _ := encryptedFileConfig(t, other, true)
	m = openWithConfig(t, other, ocfg)
	oek, _ := m.ExportCatalogKeys()
	m.Close()
	if _, err := DecryptReplicaDir(ctx, oek, filepath.Join(replicas, catalogPrefix), t.TempDir()); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("decrypted with another instance's keys: %v", err)
	}

	plainDir := t.TempDir()
	pcfg, _ := encryptedFileConfig(t, plainDir, false)
	m = openWithConfig(t, plainDir, pcfg)
	defer m.Close()
	if _, err := m.ExportCatalogKeys(); err == nil || !strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("export of a plain catalog replica's keys: %v", err)
	}
}

// The keys of the catalog's replica are derived again for every object
// read or written: that costs microseconds, next to the milliseconds of
// an upload.
func BenchmarkCatalogKeys(b *testing.B) {
	mk, err := parseKeys(newKeyText() + "," + newKeyText())
	if err != nil {
		b.Fatal(err)
	}
	k := &masterKey{keys: mk}
	for b.Loop() {
		k.catalogKeys()
	}
}

// The catalog's replication lag, plain and encrypted: each iteration
// writes an event and waits until the replica holds it.
func BenchmarkCatalogSync(b *testing.B) {
	for _, encrypt := range []bool{false, true} {
		b.Run(fmt.Sprintf("encrypt=%v", encrypt), func(b *testing.B) {
			b.Setenv(MasterKeyEnv, newKeyText())
			dataDir := b.TempDir()
			cfg, _ := encryptedFileConfig(b, dataDir, encrypt)
			m := openWithConfig(b, dataDir, cfg)
			defer m.Close()
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if err := store.LogEvent(ctx, m.Catalog().W, "bench", "bench.event", "", map[string]any{"i": i, "pad": strings.Repeat("x", 2000)}); err != nil {
					b.Fatal(err)
				}
				if err := m.SyncCatalog(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// An instance whose catalog's region turns encrypt: true on with a plain
// catalog replica already there does not start, and says what to do:
// moving the plain replica away makes the next start write an encrypted
// one from scratch, and a disaster recovery comes back from it.
func TestEncryptedCatalogReplica_SwitchOn(t *testing.T) {
	ctx := context.Background()
	t.Setenv(MasterKeyEnv, newKeyText())
	dataDir := t.TempDir()
	replicas := filepath.Join(t.TempDir(), "replicas")
	plainCfg := mustConfig(t, dataDir, "regions:\n  default:\n    replica:\n      url: file://"+replicas+"\n")
	m := openWithConfig(t, dataDir, plainCfg)
	addUser(t, m, "before@example.com")
	m.Close()

	cfg := mustConfig(t, dataDir, "regions:\n  default:\n    replica:\n      url: file://"+replicas+"\n      encrypt: true\n")
	if _, err := openErr(dataDir, cfg); err == nil || !strings.Contains(err.Error(), "holds plain objects") || !strings.Contains(err.Error(), "move "+"file://"+replicas+"/catalog aside") {
		t.Fatalf("start with a plain catalog replica under encrypt: true: %v", err)
	}
	if err := os.Rename(filepath.Join(replicas, catalogPrefix), filepath.Join(t.TempDir(), "plain-catalog")); err != nil {
		t.Fatal(err)
	}
	m = openWithConfig(t, dataDir, cfg)
	addUser(t, m, knownEmail)
	if err := m.SyncCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if found := filesContaining(t, filepath.Join(replicas, catalogPrefix), "before@example.com"); len(found) != 0 {
		t.Fatalf("plaintext in the catalog replica: %v", found)
	}
	os.RemoveAll(dataDir)
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if !hasUser(t, m, "before@example.com") || !hasUser(t, m, knownEmail) {
		t.Fatal("the catalog did not come back from its new encrypted replica")
	}
}

// A byte changed in each of the catalog replica's objects makes a disaster
// recovery fail loudly instead of restoring a wrong catalog.
func TestEncryptedCatalogReplica_Tampered(t *testing.T) {
	t.Setenv(MasterKeyEnv, newKeyText())
	dataDir := t.TempDir()
	cfg, replicas := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	addUser(t, m, knownEmail)
	m.Close()
	var objects []string
	filepath.WalkDir(filepath.Join(replicas, catalogPrefix), func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(path, ".ltx") {
			objects = append(objects, path)
		}
		return nil
	})
	if len(objects) == 0 {
		t.Fatal("the catalog replica is empty")
	}
	for _, path := range objects {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 1
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(dataDir)
	if m, err := openErr(dataDir, cfg); !errors.Is(err, ErrReplicaTampered) {
		if err == nil {
			m.Close()
		}
		t.Fatalf("recovery from a tampered catalog replica: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "catalog.db")); !os.IsNotExist(err) {
		t.Fatalf("a catalog was made: %v", err)
	}
}
