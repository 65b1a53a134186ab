package tenant

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// The catalog's replica is encrypted when the catalog's region (see
// catalogRegion) has encrypt: true, in the same format as a workspace's
// (replicacrypt.go, with "catalog" in place of the workspace id), under
// the catalog replica key: an HKDF of the master key. The key id in each
// object's header names the master key that wrote it (another HKDF of it,
// 4 bytes, which tells nothing of the key). Reading picks, by that id,
// among every master key the instance is given, the first one writing: the
// objects written before a master key rotation, which Litestream still
// reads to compact them and restores from until a later snapshot replaces
// them, open as long as the old key stays listed after the new one (see
// oldMasterKeyWindow).
const (
	catalogKeyInfo = "atrium catalog replica key v1"
	masterIDInfo   = "atrium master key id v1"
)

// oldMasterKeyWindow is how long, with Litestream's defaults (which
// Atrium keeps), the catalog's replica may hold objects written under a
// master key after a rotation: up to a day until the next snapshot, then a
// day until retention removes what came before it.
const oldMasterKeyWindow = litestream.DefaultSnapshotInterval + litestream.DefaultSnapshotRetention

// ErrWrongMasterKey is the error of a catalog replica object written under
// a master key the instance is not given.
var ErrWrongMasterKey = errors.New("the catalog's replica is encrypted with a master key this instance does not have")

// masterKeyID names a master key in the catalog replica's object headers.
func masterKeyID(key []byte) uint32 {
	b, err := hkdf.Key(sha256.New, key, nil, masterIDInfo, 4)
	if err != nil {
		panic(err) // only for lengths HKDF-SHA256 cannot give
	}
	return binary.BigEndian.Uint32(b)
}

// catalogReplicaKey is the key the catalog's replica objects are derived
// from (as a workspace's are from its data key).
func catalogReplicaKey(key []byte) []byte {
	b, err := hkdf.Key(sha256.New, key, nil, catalogKeyInfo, keyBytes)
	if err != nil {
		panic(err)
	}
	return b
}

// catalogKeys is the catalog replica key of every master key given, by
// master key id; the first master key's writes.
func (k *masterKey) catalogKeys() *workspaceKeySet {
	ks := &workspaceKeySet{keys: map[uint32][]byte{}}
	for i, r := range k.all() {
		id := masterKeyID(r.key)
		if _, ok := ks.keys[id]; ok {
			continue
		}
		ks.keys[id] = catalogReplicaKey(r.key)
		if i == 0 {
			ks.current = id
		}
	}
	return ks
}

// missingMasterKey explains a catalog replica object that none of the
// given keys' ids matches.
func missingMasterKey(have *workspaceKeySet) func(id uint32) error {
	return func(id uint32) error {
		ids := make([]string, 0, len(have.keys))
		for k := range have.keys {
			ids = append(ids, fmt.Sprintf("%08x", k))
		}
		return fmt.Errorf("%w: the object was written under master key %08x, and this instance has %s; give the right master key (ATRIUM_MASTER_KEY, master_key_command or the key file), and after a rotation keep the old key listed after the new one", ErrWrongMasterKey, id, strings.Join(ids, ", "))
	}
}

// newCatalogCryptClient wraps the catalog's replica client.
func newCatalogCryptClient(inner litestream.ReplicaClient, mk *masterKey) *cryptClient {
	return &cryptClient{inner: inner, workspace: catalogPrefix,
		keys: func(context.Context) (*workspaceKeySet, error) { return mk.catalogKeys(), nil },
		missingKey: func(id uint32) error {
			return missingMasterKey(mk.catalogKeys())(id)
		}}
}

// catalogEncrypted says whether the catalog's replica is encrypted.
func (m *Manager) catalogEncrypted() bool {
	t, err := m.catalogTarget()
	return err == nil && t.encrypt
}

// ExportCatalogKeys returns the catalog replica keys of every master key
// the instance has, for `atrium replica decrypt` on the catalog's replica
// (`atrium keys export catalog`). They are derived keys: they read the
// catalog's replica, whose workspace data keys stay wrapped by the master
// key.
func (m *Manager) ExportCatalogKeys() (*ExportedKeys, error) {
	if !m.catalogEncrypted() {
		return nil, fmt.Errorf("the catalog's replica (region %s) is not encrypted: it restores with litestream alone", m.catalogRegion())
	}
	ks := m.master.catalogKeys()
	out := &ExportedKeys{Workspace: catalogPrefix, Keys: map[string]string{}}
	for id, k := range ks.keys {
		out.Keys[strconv.FormatUint(uint64(id), 10)] = base64.StdEncoding.EncodeToString(k)
	}
	return out, nil
}

// checkCatalogReplicaEncrypted refuses a catalog replica that holds plain
// objects when the catalog's region encrypts: Litestream would add
// encrypted objects to it, fail to compact the plain ones, and a disaster
// recovery would fail on them. That is the replica of an instance that
// turned encrypt: true on for the catalog's region, or that had it on
// before the catalog's replica was encrypted. It reads the header of the
// oldest object of each level.
func (m *Manager) checkCatalogReplicaEncrypted(ctx context.Context) error {
	t, err := m.catalogTarget()
	if err != nil || !t.encrypt {
		return err
	}
	c := t.client(catalogPrefix)
	if err := initClient(ctx, c, t); err != nil {
		return err
	}
	for _, level := range []int{litestream.SnapshotLevel, 0, 1, 2, 3} {
		it, err := c.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return err
		}
		var info *ltx.FileInfo
		if it.Next() {
			info = it.Item()
		}
		err = cmpOr(it.Err(), it.Close())
		if err != nil {
			return err
		}
		if info == nil {
			continue
		}
		rc, err := c.OpenLTXFile(ctx, level, info.MinTXID, info.MaxTXID, 0, encHead)
		if err != nil {
			return err
		}
		head := make([]byte, encHead)
		_, err = io.ReadFull(rc, head)
		rc.Close()
		if err == nil && string(head[encCoverSize:encCoverSize+4]) == encMagic {
			continue
		}
		where := t.String() + "/" + catalogPrefix
		return fmt.Errorf("region %s has encrypt: true, but the catalog's replica at %s holds plain objects (%s, level %d): it was written before the catalog's replica was encrypted. Stop Atrium, move %s aside (keep it as a plain backup for 48 hours), and start again: the catalog then replicates afresh, encrypted", m.catalogRegion(), where, ltx.FormatFilename(info.MinTXID, info.MaxTXID), level, where)
	}
	return nil
}
