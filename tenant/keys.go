package tenant

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"atrium/store"
)

// The master key wraps every workspace's data key. It comes from the
// environment, or from a file in the data directory made on first start.
// It is never in the catalog or a replica: losing it loses every secret
// sealed in the workspaces (their SMTP passwords must then be entered
// again).
const (
	MasterKeyEnv  = "ATRIUM_MASTER_KEY"
	masterKeyFile = "master.key"
	keyBytes      = 32 // AES-256
)

// sealedPrefix marks the format of a sealed secret: version 1 is
// base64url(nonce || AES-256-GCM ciphertext).
const sealedPrefix = "v1."

// keyring seals with one AES-256-GCM key; key is kept to derive the
// workspace's other keys from (see macKey).
type keyring struct {
	aead cipher.AEAD
	key  []byte
}

func newKeyring(key []byte) (*keyring, error) {
	if len(key) != keyBytes {
		return nil, fmt.Errorf("a key must be %d bytes, not %d", keyBytes, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keyring{aead: aead, key: key}, nil
}

// seal encrypts plaintext; aad binds it to where it belongs, so a sealed
// value copied elsewhere does not open.
func (k *keyring) seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, aad)
}

func (k *keyring) open(sealed, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return k.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

// loadMasterKey reads the master key from the environment or the file
// path (<data>/master.key unless the config's master_key_file names
// another), making the file (0600) on the first start.
func loadMasterKey(path string) (*keyring, error) {
	if v := os.Getenv(MasterKeyEnv); v != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(key) != keyBytes {
			return nil, fmt.Errorf("%s must be %d random bytes in base64 (for example the output of: head -c 32 /dev/urandom | base64)", MasterKeyEnv, keyBytes)
		}
		return newKeyring(key)
	}
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the master key %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the master key %s can be read by others (mode %v); make it readable by its owner only: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(key) != keyBytes {
		return nil, fmt.Errorf("the master key %s is not %d bytes in base64", path, keyBytes)
	}
	return newKeyring(key)
}

func createMasterKey(path string) (*keyring, error) {
	key := make([]byte, keyBytes)
	rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the master key's directory: %w", unwrapPathError(err))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create the master key %s: %w", path, err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("cannot write the master key %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return newKeyring(key)
}

// wrapAAD binds a wrapped data key to its workspace.
func wrapAAD(workspaceID string) []byte { return []byte("atrium workspace key\x00" + workspaceID) }

// dataKey returns the keyring of a workspace's data key, making the key on
// first use. A key the master key cannot unwrap (the master key was lost
// or changed) is replaced when forSealing: what it sealed is lost anyway,
// and new secrets must be sealable.
func (m *Manager) dataKey(ctx context.Context, workspaceID string, forSealing bool) (*keyring, error) {
	wrapped, ok, err := store.WrappedWorkspaceKey(ctx, m.catalog.R, workspaceID)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := store.AddWorkspaceKey(ctx, m.catalog.W, workspaceID, m.newWrappedKey(workspaceID)); err != nil {
			return nil, err
		}
		// Another request may have added one first: use the stored one.
		if wrapped, _, err = store.WrappedWorkspaceKey(ctx, m.catalog.W, workspaceID); err != nil {
			return nil, err
		}
	}
	key, err := m.master.open(wrapped, wrapAAD(workspaceID))
	if err == nil {
		return newKeyring(key)
	}
	if !forSealing {
		return nil, errKeyLost
	}
	m.log.Warn("a workspace's data key cannot be unwrapped by this master key; it is replaced, and the secrets sealed with it must be entered again", "workspace", workspaceID)
	fresh := m.newWrappedKey(workspaceID)
	if err := store.ReplaceWorkspaceKey(ctx, m.catalog.W, workspaceID, fresh); err != nil {
		return nil, err
	}
	key, err = m.master.open(fresh, wrapAAD(workspaceID))
	if err != nil {
		return nil, err
	}
	return newKeyring(key)
}

func (m *Manager) newWrappedKey(workspaceID string) []byte {
	key := make([]byte, keyBytes)
	rand.Read(key)
	return m.master.seal(key, wrapAAD(workspaceID))
}

// errKeyLost says a secret cannot be read: it was sealed under a master key
// this instance no longer has, or in another workspace.
var errKeyLost = store.Errorf(store.EConflict, "This secret cannot be read with this instance's master key; enter it again.")

// secretAAD binds a sealed secret to its workspace and its place in it.
func secretAAD(workspaceID, purpose string) []byte {
	return []byte("atrium secret\x00" + workspaceID + "\x00" + purpose)
}

// Seal encrypts a secret of the workspace with its data key. purpose names
// its place ("mailbox:<id>:password"): the sealed text opens only there.
func (s *Service) Seal(ctx context.Context, purpose, secret string) (string, error) {
	k, err := s.m.dataKey(ctx, s.lease.ID, true)
	if err != nil {
		return "", err
	}
	sealed := k.seal([]byte(secret), secretAAD(s.lease.ID, purpose))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Unseal decrypts a secret Seal made for the same workspace and purpose.
func (s *Service) Unseal(ctx context.Context, purpose, sealed string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errKeyLost
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", errKeyLost
	}
	k, err := s.m.dataKey(ctx, s.lease.ID, false)
	if err != nil {
		return "", err
	}
	secret, err := k.open(b, secretAAD(s.lease.ID, purpose))
	if err != nil {
		return "", errKeyLost
	}
	return string(secret), nil
}
