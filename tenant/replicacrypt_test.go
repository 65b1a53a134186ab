package tenant

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/benbjohnson/litestream"
	lsfile "github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"

	"atrium/store"
)

// fakeLTX is n bytes that start like an LTX file (the replica clients read
// the header's timestamp), the rest random.
func fakeLTX(tb testing.TB, n int, minTXID, maxTXID ltx.TXID) []byte {
	tb.Helper()
	b := make([]byte, max(n, ltx.HeaderSize))
	rand.Read(b)
	copy(b, ltx.Magic)
	binary.BigEndian.PutUint64(b[16:], uint64(minTXID))
	binary.BigEndian.PutUint64(b[24:], uint64(maxTXID))
	binary.BigEndian.PutUint64(b[32:], uint64(1700000000000+maxTXID))
	return b
}

func testKeySet(ids ...uint32) *workspaceKeySet {
	ks := &workspaceKeySet{keys: map[uint32][]byte{}}
	for _, id := range ids {
		k := make([]byte, keyBytes)
		rand.Read(k)
		ks.keys[id] = k
		ks.current = max(ks.current, id)
	}
	return ks
}

func staticKeys(ks *workspaceKeySet) func(context.Context) (*workspaceKeySet, error) {
	return func(context.Context) (*workspaceKeySet, error) { return ks, nil }
}

func readAll(tb testing.TB, c litestream.ReplicaClient, level int, minTXID, maxTXID ltx.TXID, off, size int64) ([]byte, error) {
	tb.Helper()
	rc, err := c.OpenLTXFile(context.Background(), level, minTXID, maxTXID, off, size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Objects round-trip through the encrypting client over a real file
// replica, whole and by ranges, at sizes around the chunk boundaries, and
// the listing reports plaintext sizes.
func TestReplicaCrypt_RoundTripAndRanges(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		testRoundTripAndRanges(t, lsfile.NewReplicaClient(dir), func(name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, "ltx", "0", name))
		})
	})
	t.Run("s3", func(t *testing.T) {
		s := newS3(t)
		cfg := mustConfig(t, t.TempDir(), "regions:\n  default:\n"+s.replicaYAML("ranges"))
		tgt := cfg.Regions[DefaultRegion].Replica.target
		inner := tgt.client("ws-a")
		if err := initClient(context.Background(), inner, tgt); err != nil {
			t.Fatal(err)
		}
		testRoundTripAndRanges(t, inner, func(name string) ([]byte, error) {
			for _, k := range s.keys(t, "ranges/ws-a/") {
				if strings.HasSuffix(k, "/"+name) && strings.Contains(k, "/0000/") || strings.HasSuffix(k, "/0/"+name) {
					return s.get(t, k), nil
				}
			}
			return nil, fmt.Errorf("no object %s in %v", name, s.keys(t, "ranges/ws-a/"))
		})
	})
}

func testRoundTripAndRanges(t *testing.T, inner litestream.ReplicaClient, raw func(name string) ([]byte, error)) {
	ctx := context.Background()
	ks := testKeySet(1)
	c := newCryptClient(inner, "ws-a", staticKeys(ks))
	sizes := []int{ltx.HeaderSize, 1000, encChunk - 1, encChunk, encChunk + 1, 2 * encChunk, 3*encChunk + 77}
	for i, n := range sizes {
		txid := ltx.TXID(i + 1)
		plain := fakeLTX(t, n, txid, txid)
		info, err := c.WriteLTXFile(ctx, 0, txid, txid, bytes.NewReader(plain))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(plain)) {
			t.Fatalf("size %d: written info says %d", len(plain), info.Size)
		}
		raw, err := raw(ltx.FormatFilename(txid, txid))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, plain[ltx.HeaderSize:min(len(plain), ltx.HeaderSize+64)]) && len(plain) > ltx.HeaderSize {
			t.Fatalf("size %d: the object holds plaintext", n)
		}
		got, err := readAll(t, c, 0, txid, txid, 0, 0)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: whole read differs (%d bytes, %v)", n, len(got), err)
		}
		for _, r := range [][2]int64{{0, 1}, {5, 100}, {encChunk - 3, 10}, {encChunk, 1}, {int64(len(plain)) - 1, 1}, {int64(len(plain)) / 2, 0}, {encChunk + 5, encChunk}} {
			off, size := r[0], r[1]
			if off >= int64(len(plain)) {
				continue
			}
			want := plain[off:]
			if size > 0 && off+size < int64(len(plain)) {
				want = plain[off : off+size]
			}
			got, err := readAll(t, c, 0, txid, txid, off, size)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("size %d, range %d+%d: got %d bytes, want %d (%v)", n, off, size, len(got), len(want), err)
			}
		}
	}
	itr, err := c.LTXFiles(ctx, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer itr.Close()
	i := 0
	for itr.Next() {
		if want := max(sizes[itr.Item().MinTXID-1], ltx.HeaderSize); itr.Item().Size != int64(want) {
			t.Fatalf("listed size %d, want %d", itr.Item().Size, want)
		}
		i++
	}
	if i != len(sizes) {
		t.Fatalf("listed %d objects", i)
	}
}

// Any change to an object, a chunk cut off, or an object moved to another
// name, workspace or key fails loudly.
func TestReplicaCrypt_Tampering(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := testKeySet(1)
	c := newCryptClient(lsfile.NewReplicaClient(dir), "ws-a", staticKeys(ks))
	plain := fakeLTX(t, 3*encChunk+10, 1, 1)
	if _, err := c.WriteLTXFile(ctx, 0, 1, 1, bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ltx", "0", ltx.FormatFilename(1, 1))
	orig, _ := os.ReadFile(path)
	mustFail := func(what string, off, size int64) {
		t.Helper()
		_, err := readAll(t, c, 0, 1, 1, off, size)
		if !errors.Is(err, ErrReplicaTampered) {
			t.Fatalf("%s: err = %v", what, err)
		}
	}
	for _, at := range []int{20, 33, encCoverSize + 5, encCoverSize + 20, encHead + 5, len(orig) - 1, int(chunkOffset(2)) + 100} {
		b := bytes.Clone(orig)
		b[at] ^= 1
		os.WriteFile(path, b, 0o600)
		mustFail(fmt.Sprintf("byte %d flipped", at), 0, 0)
		if at < encHead || at >= int(chunkOffset(1)) { // the range reads the header and chunk 1 on
			mustFail(fmt.Sprintf("byte %d flipped, ranged", at), encChunk+1, 0)
		}
	}
	// The key id changed names a key the workspace does not have.
	b := bytes.Clone(orig)
	b[encCoverSize+11] ^= 2
	os.WriteFile(path, b, 0o600)
	if _, err := readAll(t, c, 0, 1, 1, 0, 0); err == nil || !strings.Contains(err.Error(), "no data key 3") {
		t.Fatalf("key id changed: %v", err)
	}
	// A whole chunk cut off: the new last chunk was not sealed as last.
	os.WriteFile(path, orig[:chunkOffset(3)], 0o600)
	mustFail("last chunk cut off", 0, 0)
	mustFail("last chunk cut off, ranged", encChunk*2+5, 10)
	os.WriteFile(path, orig[:len(orig)-3], 0o600)
	mustFail("truncated", 0, 0)

	// The same object under another name, or read as another workspace's.
	os.WriteFile(path, orig, 0o600)
	os.WriteFile(filepath.Join(dir, "ltx", "0", ltx.FormatFilename(2, 2)), orig, 0o600)
	mustFailOther := func(what string, c litestream.ReplicaClient, txid ltx.TXID) {
		t.Helper()
		if _, err := readAll(t, c, 0, txid, txid, 0, 0); err == nil {
			t.Fatalf("%s: read", what)
		}
	}
	mustFailOther("renamed", c, 2)
	mustFailOther("another workspace", newCryptClient(lsfile.NewReplicaClient(dir), "ws-b", staticKeys(ks)), 1)
	mustFailOther("another key", newCryptClient(lsfile.NewReplicaClient(dir), "ws-a", staticKeys(testKeySet(1))), 1)
	if got, err := readAll(t, c, 0, 1, 1, 0, 0); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the untouched object: %v", err)
	}
}

// addContacts adds n contacts, the first named name, with enough text that
// the file spans several encryption chunks.
func addContacts(tb testing.TB, m *Manager, id, name string, n int) {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	for i := range n {
		first := fmt.Sprintf("Person%05d", i)
		if i == 0 {
			first = name
		}
		if _, err := l.W.Exec(`INSERT INTO contacts (id, first_name, last_name, title, created_at, updated_at) VALUES (?, ?, 'Smith', ?, 0, 0)`,
			fmt.Sprintf("c%05d", i), first, strings.Repeat("notes ", 40)); err != nil {
			tb.Fatal(err)
		}
	}
}

// filesContaining lists the files under dir that contain needle.
func filesContaining(tb testing.TB, dir, needle string) []string {
	tb.Helper()
	var found []string
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(needle)) {
				found = append(found, path)
			}
		}
		return nil
	})
	return found
}

func encryptedFileConfig(tb testing.TB, dataDir string, encrypt bool) (*Config, string) {
	replicas := filepath.Join(tb.TempDir(), "replicas")
	return mustConfig(tb, dataDir, fmt.Sprintf("regions:\n  default:\n    replica:\n      url: file://%s\n      encrypt: %v\n", replicas, encrypt)), replicas
}

const knownName = "Zebulon Quaxworthy"

// With encrypt: true the file replica holds no plaintext (without it, the
// same search finds the name: the test can tell), and losing the file,
// point-in-time restore, backup status and verification work as before.
func TestEncryptedReplica_File(t *testing.T) {
	ctx := context.Background()
	t.Run("Plain", func(t *testing.T) {
		dataDir := t.TempDir()
		cfg, replicas := encryptedFileConfig(t, dataDir, false)
		m := openWithConfig(t, dataDir, cfg)
		defer m.Close()
		w := mustCreate(t, m, "Plain")
		addContacts(t, m, w.ID, knownName, 10)
		mustSync(t, m, w.ID)
		if len(filesContaining(t, filepath.Join(replicas, w.ID), knownName)) == 0 {
			t.Fatal("the plain replica does not hold the name: the search cannot tell")
		}
	})
	dataDir := t.TempDir()
	cfg, replicas := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Secret")
	addContacts(t, m, w.ID, knownName, 400)
	afterFirst := syncedMoment(t, m, w.ID)
	addContacts2 := func() { mustExec(t, m, w.ID, `DELETE FROM contacts WHERE id >= 'c00200'`) }
	addContacts2()
	mustSync(t, m, w.ID)
	if found := filesContaining(t, replicas, knownName); len(found) != 0 {
		t.Fatalf("plaintext in the replica: %v", found)
	}
	if found := filesContaining(t, replicas, "Person00123"); len(found) != 0 {
		t.Fatalf("plaintext in the replica: %v", found)
	}
	st, err := m.BackupStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.LastError != "" {
			t.Fatalf("backup status: %+v", s)
		}
	}
	v, err := m.VerifyReplica(ctx, w.ID)
	if err != nil || v.Failure != "" {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	n, err := m.Restore(ctx, w.ID, RestoreOptions{At: afterFirst, AsNew: "Secret before"})
	if err != nil {
		t.Fatal(err)
	}
	if got := contactCount(t, m, n.ID); got != 400 {
		t.Fatalf("point-in-time restore: %d contacts", got)
	}
	path, _ := m.FilePath(w)
	m.Close()
	removeWorkspaceFiles(path)
	m = openWithConfig(t, dataDir, cfg)
	if got := contactCount(t, m, w.ID); got != 200 {
		t.Fatalf("after losing the file: %d contacts", got)
	}
	if found := filesContaining(t, replicas, knownName); len(found) != 0 {
		t.Fatalf("plaintext in the replica: %v", found)
	}

	// One byte flipped in each object: restore fails, and says why. The
	// manager is closed meanwhile, so nothing writes new objects.
	m.Close()
	var objects []string
	filepath.WalkDir(filepath.Join(replicas, w.ID), func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ltx") {
			objects = append(objects, p)
		}
		return nil
	})
	if len(objects) == 0 {
		t.Fatal("no objects")
	}
	for _, obj := range objects {
		b, _ := os.ReadFile(obj)
		b[len(b)/2] ^= 0x10
		os.WriteFile(obj, b, 0o600)
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	_, err = m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Tampered"})
	if err == nil || !strings.Contains(err.Error(), "failed authentication") {
		t.Fatalf("restore of a tampered replica: %v", err)
	}
}

// The same over S3 (the in-process server, or the gateway CI names).
func TestEncryptedReplica_S3(t *testing.T) {
	ctx := context.Background()
	s := newS3(t)
	dataDir := t.TempDir()
	cfg := mustConfig(t, dataDir, "regions:\n  default:\n"+s.replicaYAML("ws")+"      encrypt: true\n")
	m := openWithConfig(t, dataDir, cfg)
	w := mustCreate(t, m, "Secret")
	addContacts(t, m, w.ID, knownName, 300)
	afterFirst := syncedMoment(t, m, w.ID)
	mustExec(t, m, w.ID, `DELETE FROM contacts WHERE id >= 'c00100'`)
	mustSync(t, m, w.ID)
	keys := s.keys(t, "ws/"+w.ID+"/")
	if len(keys) == 0 {
		t.Fatal("nothing replicated")
	}
	for _, k := range keys {
		if b := s.get(t, k); bytes.Contains(b, []byte(knownName)) || bytes.Contains(b, []byte("Person00123")) {
			t.Fatalf("plaintext in %s", k)
		}
	}
	n, err := m.Restore(ctx, w.ID, RestoreOptions{At: afterFirst, AsNew: "Before"})
	if err != nil {
		t.Fatal(err)
	}
	if got := contactCount(t, m, n.ID); got != 300 {
		t.Fatalf("point-in-time restore: %d contacts", got)
	}
	path, _ := m.FilePath(w)
	m.Close()
	removeWorkspaceFiles(path)
	m = openWithConfig(t, dataDir, cfg)
	if got := contactCount(t, m, w.ID); got != 100 {
		t.Fatalf("after losing the file: %d contacts", got)
	}
	// Closed meanwhile, so nothing writes new objects.
	m.Close()
	keys = s.keys(t, "ws/"+w.ID+"/")
	for _, k := range keys {
		b := s.get(t, k)
		b[len(b)-5] ^= 1
		s.put(t, k, b)
	}
	m = openWithConfig(t, dataDir, cfg)
	defer m.Close()
	if _, err := m.Restore(ctx, w.ID, RestoreOptions{AsNew: "Tampered"}); err == nil || !strings.Contains(err.Error(), "failed authentication") {
		t.Fatalf("restore of a tampered replica: %v", err)
	}
}

// Restore without Atrium: the exported keys decrypt a copy of the replica
// into plain LTX files that Litestream alone restores.
func TestEncryptedReplica_DecryptWithoutAtrium(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	cfg, replicas := encryptedFileConfig(t, dataDir, true)
	m := openWithConfig(t, dataDir, cfg)
	defer m.Close()
	w := mustCreate(t, m, "Secret")
	addContacts(t, m, w.ID, knownName, 150)
	mustSync(t, m, w.ID)
	if _, err := m.RotateWorkspaceKey(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	mustExec(t, m, w.ID, `DELETE FROM contacts WHERE id >= 'c00100'`)
	mustSync(t, m, w.ID)
	ek, err := m.ExportWorkspaceKeys(ctx, w.ID)
	if err != nil || len(ek.Keys) != 2 {
		t.Fatalf("exported %+v, %v", ek, err)
	}
	ek, err = ParseExportedKeys(mustJSON(t, ek))
	if err != nil {
		t.Fatal(err)
	}
	plain := t.TempDir()
	gen := filepath.Join(replicas, w.ID, "g1")
	n, err := DecryptReplicaDir(ctx, ek, gen, plain)
	if err != nil || n == 0 {
		t.Fatalf("decrypted %d: %v", n, err)
	}
	out := filepath.Join(t.TempDir(), "restored.db")
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = out
	if err := litestream.NewReplicaWithClient(nil, lsfile.NewReplicaClient(plain)).Restore(ctx, opt); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(out, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var count int
	if err := db.R.Get(&count, `SELECT COUNT(*) FROM contacts`); err != nil || count != 100 {
		t.Fatalf("restored %d contacts, %v", count, err)
	}
	// Another workspace's keys do not decrypt it.
	other := mustCreate(t, m, "Other")
	oek, err := m.ExportWorkspaceKeys(ctx, other.ID)
	if err == nil {
		oek.Workspace = w.ID
		if _, err := DecryptReplicaDir(ctx, oek, gen, t.TempDir()); err == nil {
			t.Fatal("another workspace's keys decrypted it")
		}
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func (s *s3Server) client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.key, s.secret, ""),
	})
}

// get reads the object at key (under the test's prefix).
func (s *s3Server) get(tb testing.TB, key string) []byte {
	tb.Helper()
	out, err := s.client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + "/" + key)})
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// put writes the object at key (under the test's prefix).
func (s *s3Server) put(tb testing.TB, key string, b []byte) {
	tb.Helper()
	if _, err := s.client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + "/" + key), Body: bytes.NewReader(b)}); err != nil {
		tb.Fatal(err)
	}
}
