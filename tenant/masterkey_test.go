package tenant

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atrium/store"
)

func newKeyText() string {
	b := make([]byte, keyBytes)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func keyCheckFailures(tb testing.TB, m *Manager) (int, []string) {
	tb.Helper()
	var fails []string
	n, err := m.CheckKeys(context.Background(), func(what string, err error) { fails = append(fails, what+": "+err.Error()) })
	if err != nil {
		tb.Fatal(err)
	}
	return n, fails
}

// Rotating the file master key re-wraps every workspace key: secrets and
// encrypted replicas read as before, with the new key alone.
func TestKeys_RotateMasterFile(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, _ := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	a, b := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	addContacts(t, m, a.ID, knownName, 50)
	mustSync(t, m, a.ID)
	svc, release := leasedService(t, m, b.ID)
	sealed, err := svc.Seal(ctx, "smtp", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	release()
	keyPath := filepath.Join(dataDir, masterKeyFile)
	before, _ := os.ReadFile(keyPath)

	res, err := m.RotateMasterKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewrapped != 2 || len(res.Unreadable) != 0 {
		t.Fatalf("rotation %+v", res)
	}
	after, _ := os.ReadFile(keyPath)
	if bytes.Equal(before, after) {
		t.Fatal("the key file did not change")
	}
	if _, err := os.Stat(keyPath + pendingSuffix); !os.IsNotExist(err) {
		t.Fatalf("the pending key file is left: %v", err)
	}
	if st, _ := os.Stat(keyPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	path, _ := m.FilePath(a)
	m.Close()
	removeWorkspaceFiles(path)

	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if n, fails := keyCheckFailures(t, m); n != 2 || len(fails) != 0 {
		t.Fatalf("check: %d keys, %v", n, fails)
	}
	if got := contactCount(t, m, a.ID); got != 50 {
		t.Fatalf("restored from the encrypted replica after the rotation: %d contacts", got)
	}
	svc, release = leasedService(t, m, b.ID)
	defer release()
	if got, err := svc.Unseal(ctx, "smtp", sealed); err != nil || got != "hunter2" {
		t.Fatalf("unseal after rotation: %q, %v", got, err)
	}
}

// A rotation interrupted after the new key file was written is finished
// by the next start; master.key alone then opens everything.
func TestKeys_InterruptedRotationFinishesAtStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := mustOpenManagerAt(t, dir, 0)
	w := mustCreate(t, m, "A")
	svc, release := leasedService(t, m, w.ID)
	sealed, err := svc.Seal(ctx, "p", "secret")
	if err != nil {
		t.Fatal(err)
	}
	release()
	m.Close()
	keyPath := filepath.Join(dir, masterKeyFile)
	if _, err := createKeyFile(keyPath+pendingSuffix, nil); err != nil {
		t.Fatal(err)
	}
	pending, _ := os.ReadFile(keyPath + pendingSuffix)

	m = mustOpenManagerAt(t, dir, 0)
	if now, _ := os.ReadFile(keyPath); !bytes.Equal(now, pending) {
		t.Fatal("the start did not finish the rotation")
	}
	if _, err := os.Stat(keyPath + pendingSuffix); !os.IsNotExist(err) {
		t.Fatal("the pending key file is left")
	}
	if _, fails := keyCheckFailures(t, m); len(fails) != 0 {
		t.Fatal(fails)
	}
	svc, release = leasedService(t, m, w.ID)
	defer release()
	if got, err := svc.Unseal(ctx, "p", sealed); err != nil || got != "secret" {
		t.Fatalf("%q, %v", got, err)
	}
}

// With the key in the environment, a rotation needs the new key first and
// the current one after it; atrium check then finds keys the old key alone
// cannot open, and the new key alone opens them.
func TestKeys_RotateMasterEnvironment(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newKey := newKeyText(), newKeyText()
	t.Setenv(MasterKeyEnv, oldKey)
	m := mustOpenManagerAt(t, dir, 0)
	w := mustCreate(t, m, "A")
	svc, release := leasedService(t, m, w.ID)
	sealed, err := svc.Seal(ctx, "p", "secret")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := m.RotateMasterKey(ctx); store.ErrorCode(err) != store.EInvalid || !strings.Contains(err.Error(), "new key first") {
		t.Fatalf("rotation with one key in the environment: %v", err)
	}
	m.Close()

	t.Setenv(MasterKeyEnv, newKey+","+oldKey)
	m = mustOpenManagerAt(t, dir, 0)
	if _, fails := keyCheckFailures(t, m); len(fails) != 1 || !strings.Contains(fails[0], "older master key") {
		t.Fatalf("check before the rotation: %v", fails)
	}
	res, err := m.RotateMasterKey(ctx)
	if err != nil || res.Rewrapped != 1 || res.Source != sourceEnv {
		t.Fatalf("%+v, %v", res, err)
	}
	m.Close()

	t.Setenv(MasterKeyEnv, oldKey)
	m = mustOpenManagerAt(t, dir, 0)
	if _, fails := keyCheckFailures(t, m); len(fails) != 1 || !strings.Contains(fails[0], "cannot unwrap") {
		t.Fatalf("check with the old key alone: %v", fails)
	}
	m.Close()

	t.Setenv(MasterKeyEnv, newKey)
	m = mustOpenManagerAt(t, dir, 0)
	if _, fails := keyCheckFailures(t, m); len(fails) != 0 {
		t.Fatal(fails)
	}
	svc, release = leasedService(t, m, w.ID)
	defer release()
	if got, err := svc.Unseal(ctx, "p", sealed); err != nil || got != "secret" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestKeys_MasterKeyCommand(t *testing.T) {
	dir := t.TempDir()
	key := newKeyText()
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), "printf '%s\\n' "+key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key file was made although the command gave the key")
	}
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), "echo vault sealed >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "vault sealed") {
		t.Fatalf("a failing command: %v", err)
	}
	if _, err := loadMasterKey(filepath.Join(dir, masterKeyFile), "echo not-a-key"); err == nil || !strings.Contains(err.Error(), "no valid master key") {
		t.Fatalf("a command printing junk: %v", err)
	}
	// The config key reaches Open.
	cfg := mustConfig(t, dir, "master_key_command: \"printf '%s' "+key+"\"\n")
	m := openWithConfig(t, dir, cfg)
	defer m.Close()
	if m.master.source != sourceCommand {
		t.Fatalf("source %s", m.master.source)
	}
}

// A workspace key rotation: new secrets use the new key, old ones still
// open, replica objects written after it carry its id, and the replica
// restores across both keys.
func TestKeys_RotateWorkspaceKey(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "A")
	addContacts(t, m, w.ID, knownName, 20)
	mustSync(t, m, w.ID)
	svc, release := leasedService(t, m, w.ID)
	old, err := svc.Seal(ctx, "p", "old")
	if err != nil {
		t.Fatal(err)
	}
	release()
	id, err := m.RotateWorkspaceKey(ctx, w.ID)
	if err != nil || id != 2 {
		t.Fatalf("rotation: %d, %v", id, err)
	}
	mustExec(t, m, w.ID, `DELETE FROM contacts WHERE id >= 'c00010'`)
	mustSync(t, m, w.ID)
	svc, release = leasedService(t, m, w.ID)
	fresh, err := svc.Seal(ctx, "p", "new")
	if err != nil || !strings.HasPrefix(fresh, "v2.2.") {
		t.Fatalf("sealed after rotation: %q, %v", fresh, err)
	}
	for s, want := range map[string]string{old: "old", fresh: "new"} {
		if got, err := svc.Unseal(ctx, "p", s); err != nil || got != want {
			t.Fatalf("unseal %q: %q, %v", s, got, err)
		}
	}
	// A secret written before key versions (format v1, key 1) still opens.
	k1, err := m.dataKey(ctx, w.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	v1 := sealedPrefix + base64.RawURLEncoding.EncodeToString(k1.seal([]byte("older"), secretAAD(w.ID, "p")))
	if got, err := svc.Unseal(ctx, "p", v1); err != nil || got != "older" {
		t.Fatalf("v1 secret: %q, %v", got, err)
	}
	release()
	if _, err := m.RotateWorkspaceKey(ctx, "00000000-0000-0000-0000-000000000000"); store.ErrorCode(err) != store.ENotFound {
		t.Fatalf("rotation of an unknown workspace: %v", err)
	}
	ids := map[uint32]bool{}
	filepath.WalkDir(filepath.Join(replicas, w.ID), func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ltx") {
			b, _ := os.ReadFile(p)
			ids[uint32(b[encCoverSize+8])<<24|uint32(b[encCoverSize+9])<<16|uint32(b[encCoverSize+10])<<8|uint32(b[encCoverSize+11])] = true
		}
		return nil
	})
	if !ids[1] || !ids[2] {
		t.Fatalf("key ids in the replica objects: %v", ids)
	}
	path, _ := m.FilePath(w)
	m.Close()
	removeWorkspaceFiles(path)
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if got := contactCount(t, m, w.ID); got != 10 {
		t.Fatalf("restored across both keys: %d contacts", got)
	}
	if n, fails := keyCheckFailures(t, m); n != 2 || len(fails) != 0 {
		t.Fatalf("check: %d, %v", n, fails)
	}
}

// The secrets a workspace file keeps (SMTP and IMAP passwords, the DKIM
// private key) are sealed with the workspace's current data key: the file
// holds none of them in the clear, and after a key rotation the old ones
// still open while a changed one is sealed with the new key.
func TestKeys_MailboxSecretsSealedInTheFile(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "Acme")
	p := func(s string) *string { return &s }
	const smtpPass, imapPass = "smtp-Pl41nText-Secret", "imap-Pl41nText-Secret"
	svc, release := leasedService(t, m, w.ID)
	a := store.Actor{Kind: "system", ID: "test"}
	mb, err := svc.CreateMailbox(ctx, a, store.MailboxInput{Name: p("Sales"), FromEmail: p("ana@acme.example"),
		SMTPHost: p("127.0.0.1"), SMTPPort: ptrInt(2525), TLSMode: p("none"), Username: p("ana"), Password: p(smtpPass),
		IMAPHost: p("127.0.0.1"), IMAPPort: ptrInt(1143), IMAPTLS: p("none"), IMAPUsername: p("ana"), IMAPPassword: p(imapPass),
		DKIMSelector: p("s1"), DKIMGenerate: p("ed25519")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.GetMailbox(ctx, svc.DB(), mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]string{"password": got.Password, "imap": got.IMAPPassword, "dkim": got.DKIMKey} {
		if !strings.HasPrefix(v, sealedPrefixV2+"1.") {
			t.Fatalf("%s is not sealed with key 1: %.20q", what, v)
		}
	}
	if pass, err := svc.Unseal(ctx, store.MailboxPasswordPurpose(mb.ID), got.Password); err != nil || pass != smtpPass {
		t.Fatalf("%q, %v", pass, err)
	}
	dkimKey, err := svc.Unseal(ctx, store.MailboxDKIMPurpose(mb.ID), got.DKIMKey)
	if err != nil || !strings.Contains(dkimKey, "PRIVATE KEY") {
		t.Fatalf("dkim key: %v", err)
	}
	release()
	if err := m.Close(); err != nil { // checkpointed into the file
		t.Fatal(err)
	}
	path := filepath.Join(m.DataDir(), "workspaces", w.ID+".db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(path + "-wal")
	raw = append(raw, wal...)
	for _, secret := range []string{smtpPass, imapPass, strings.Split(dkimKey, "\n")[1]} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("the workspace file holds %.12q… in the clear", secret)
		}
	}
	if !bytes.Contains(raw, []byte(sealedPrefixV2+"1.")) {
		t.Fatal("the search found no sealed value: it cannot tell")
	}

	m = mustOpenManagerAt(t, m.DataDir(), 0)
	if _, err := m.RotateWorkspaceKey(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	svc, release = leasedService(t, m, w.ID)
	defer release()
	if pass, err := svc.Unseal(ctx, store.MailboxPasswordPurpose(mb.ID), got.Password); err != nil || pass != smtpPass {
		t.Fatalf("after rotation: %q, %v", pass, err)
	}
	if _, err := svc.UpdateMailbox(ctx, a, mb.ID, store.MailboxInput{Password: p("new-" + smtpPass)}); err != nil {
		t.Fatal(err)
	}
	after, _ := store.GetMailbox(ctx, svc.DB(), mb.ID)
	if !strings.HasPrefix(after.Password, sealedPrefixV2+"2.") || !strings.HasPrefix(after.IMAPPassword, sealedPrefixV2+"1.") {
		t.Fatalf("after rotation: password %.8q, imap %.8q", after.Password, after.IMAPPassword)
	}
}
