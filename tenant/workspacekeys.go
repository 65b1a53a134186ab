package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// A workspace has one or more data keys: key 1 is made on first use (see
// dataKey), later ones by RotateWorkspaceKey. The newest encrypts what is
// written from then on (sealed secrets, encrypted replica objects); every
// one is kept to read what it encrypted. Tracking and unsubscribe links
// are signed with keys derived from key 1 so links already sent keep
// working after a rotation.

// keyAAD binds a wrapped data key to its workspace and its id.
func keyAAD(workspaceID string, id uint32) []byte {
	if id == 1 {
		return wrapAAD(workspaceID) // as key 1 was always wrapped
	}
	return append(wrapAAD(workspaceID), []byte("\x00key "+strconv.FormatUint(uint64(id), 10))...)
}

// workspaceKeySet is a workspace's unwrapped data keys.
type workspaceKeySet struct {
	current uint32
	keys    map[uint32][]byte // nil value: the master key cannot unwrap it
}

func (ks *workspaceKeySet) key(id uint32) ([]byte, error) {
	k, ok := ks.keys[id]
	if !ok {
		return nil, fmt.Errorf("the workspace has no data key %d (it was deleted with the workspace, or this is another workspace's data)", id)
	}
	if k == nil {
		return nil, fmt.Errorf("data key %d of the workspace cannot be unwrapped with this instance's master key", id)
	}
	return k, nil
}

func (ks *workspaceKeySet) keyring(id uint32) (*keyring, error) {
	k, err := ks.key(id)
	if err != nil {
		return nil, err
	}
	return newKeyring(k)
}

func (ks *workspaceKeySet) currentKey() (uint32, []byte, error) {
	k, err := ks.key(ks.current)
	return ks.current, k, err
}

func (ks *workspaceKeySet) currentKeyring() (uint32, *keyring, error) {
	k, err := ks.keyring(ks.current)
	return ks.current, k, err
}

// wsKeyCache remembers unwrapped key sets: replication asks for them on
// every upload. Entries go when a key is added or the workspace deleted;
// a set read before that is not remembered after it (see gen).
type wsKeyCache struct {
	mu  sync.Mutex
	m   map[string]*workspaceKeySet
	gen uint64 // counts forgets
}

func (c *wsKeyCache) get(id string) (*workspaceKeySet, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id], c.gen
}

// put remembers ks, read from the catalog when the generation was gen,
// unless a forget came since.
func (c *wsKeyCache) put(id string, ks *workspaceKeySet, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil {
		c.m = map[string]*workspaceKeySet{}
	}
	c.m[id] = ks
}

func (c *wsKeyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	c.gen++
}

// workspaceKeys returns a workspace's data keys; create makes key 1 when
// it has none. A workspace without keys (none made yet, or deleted) is
// ENotFound.
func (m *Manager) workspaceKeys(ctx context.Context, workspaceID string, create bool) (*workspaceKeySet, error) {
	ks, gen := m.wsKeys.get(workspaceID)
	if ks != nil {
		return ks, nil
	}
	rows, err := store.WorkspaceKeys(ctx, m.catalog.R, workspaceID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if !create {
			return nil, store.Errorf(store.ENotFound, "Workspace %s has no data key: it was deleted, or never had one.", workspaceID)
		}
		if _, err := m.dataKey(ctx, workspaceID, true); err != nil {
			return nil, err
		}
		if rows, err = store.WorkspaceKeys(ctx, m.catalog.W, workspaceID); err != nil {
			return nil, err
		}
	}
	ks = &workspaceKeySet{keys: map[uint32][]byte{}}
	for _, r := range rows {
		k, err := m.master.open(r.Wrapped, keyAAD(workspaceID, r.ID))
		if err != nil {
			k = nil
		}
		ks.keys[r.ID] = k
		ks.current = max(ks.current, r.ID)
	}
	m.wsKeys.put(workspaceID, ks, gen)
	return ks, nil
}

// RotateWorkspaceKey gives a workspace a new data key for what is written
// from now on, and returns its id. Earlier keys are kept to read what they
// encrypted (old replica objects, secrets sealed before).
func (m *Manager) RotateWorkspaceKey(ctx context.Context, workspaceID string) (uint32, error) {
	w, err := store.GetWorkspace(ctx, m.catalog.R, workspaceID)
	if err != nil {
		return 0, err
	}
	if _, err := m.dataKey(ctx, w.ID, true); err != nil {
		return 0, err
	}
	var id uint32
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		key := make([]byte, keyBytes)
		rand.Read(key)
		id, err = store.AddWorkspaceKeyVersion(ctx, tx, w.ID, func(id uint32) []byte { return m.master.seal(key, keyAAD(w.ID, id)) })
		if err != nil {
			return err
		}
		return store.LogEvent(ctx, tx, "system", "workspace.key_rotated", w.ID, map[string]any{"key_id": id})
	})
	m.wsKeys.forget(w.ID)
	return id, err
}

// forgetWorkspaceKeys drops a deleted workspace's keys from memory; the
// catalog rows went with the workspace.
func (m *Manager) forgetWorkspaceKeys(workspaceID string) { m.wsKeys.forget(workspaceID) }

// ExportedKeys is the key file of `atrium keys export`: a workspace's
// data keys, unwrapped, for `atrium replica decrypt` on a machine without
// the catalog or the master key. Whoever holds it reads the workspace's
// encrypted replicas.
type ExportedKeys struct {
	Workspace string            `json:"workspace"`
	Keys      map[string]string `json:"keys"` // key id → base64
}

// ExportWorkspaceKeys returns a workspace's data keys for ExportedKeys.
func (m *Manager) ExportWorkspaceKeys(ctx context.Context, workspaceID string) (*ExportedKeys, error) {
	w, err := store.GetWorkspace(ctx, m.catalog.R, workspaceID)
	if err != nil {
		return nil, err
	}
	m.wsKeys.forget(w.ID)
	ks, err := m.workspaceKeys(ctx, w.ID, false)
	if err != nil {
		return nil, err
	}
	out := &ExportedKeys{Workspace: w.ID, Keys: map[string]string{}}
	ids := make([]int, 0, len(ks.keys))
	for id := range ks.keys {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		k, err := ks.key(uint32(id))
		if err != nil {
			return nil, err
		}
		out.Keys[strconv.Itoa(id)] = base64.StdEncoding.EncodeToString(k)
	}
	return out, nil
}

// ParseExportedKeys reads a key file of `atrium keys export`.
func ParseExportedKeys(b []byte) (*ExportedKeys, error) {
	var ek ExportedKeys
	if err := json.Unmarshal(b, &ek); err != nil || ek.Workspace == "" || len(ek.Keys) == 0 {
		return nil, fmt.Errorf("not a key file of atrium keys export")
	}
	for id, k := range ek.Keys {
		b, err := base64.StdEncoding.DecodeString(k)
		if _, perr := strconv.ParseUint(id, 10, 32); err != nil || perr != nil || len(b) != keyBytes {
			return nil, fmt.Errorf("key %q of the key file is not valid", id)
		}
	}
	return &ek, nil
}

// keySet turns an exported key file back into a key set.
func (ek *ExportedKeys) keySet() *workspaceKeySet {
	ks := &workspaceKeySet{keys: map[uint32][]byte{}}
	for id, k := range ek.Keys {
		n, _ := strconv.ParseUint(id, 10, 32)
		b, _ := base64.StdEncoding.DecodeString(k)
		ks.keys[uint32(n)] = b
		ks.current = max(ks.current, uint32(n))
	}
	return ks
}
