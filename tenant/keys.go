package tenant

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"atrium/store"
)

// The master key wraps every workspace's data key (see masterkey.go). It
// is never in the catalog or a replica: losing it loses every secret
// sealed in the workspaces and every encrypted replica.
const keyBytes = 32 // AES-256

// sealedPrefix marks the format of a sealed secret: version 1 is
// base64url(nonce || AES-256-GCM ciphertext) under the workspace's first
// data key; version 2 is "v2.<key id>." then the same under that key.
const (
	sealedPrefix   = "v1."
	sealedPrefixV2 = "v2."
)

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
	m.wsKeys.forget(workspaceID)
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

// Seal encrypts a secret of the workspace with its current data key.
// purpose names its place ("mailbox:<id>:password"): the sealed text opens
// only there.
func (s *Service) Seal(ctx context.Context, purpose, secret string) (string, error) {
	ks, err := s.m.workspaceKeys(ctx, s.lease.ID, true)
	if err != nil {
		return "", err
	}
	id, k, err := ks.currentKeyring()
	if err != nil {
		// The master key that wrapped it is lost: dataKey replaces the
		// workspace's keys, and the secret is sealed with the new one.
		if _, err := s.m.dataKey(ctx, s.lease.ID, true); err != nil {
			return "", err
		}
		if ks, err = s.m.workspaceKeys(ctx, s.lease.ID, true); err != nil {
			return "", err
		}
		if id, k, err = ks.currentKeyring(); err != nil {
			return "", err
		}
	}
	sealed := k.seal([]byte(secret), secretAAD(s.lease.ID, purpose))
	return sealedPrefixV2 + strconv.FormatUint(uint64(id), 10) + "." + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Unseal decrypts a secret Seal made for the same workspace and purpose,
// with whichever of the workspace's data keys sealed it.
func (s *Service) Unseal(ctx context.Context, purpose, sealed string) (string, error) {
	id, raw, ok := uint64(1), "", false
	if raw, ok = strings.CutPrefix(sealed, sealedPrefix); !ok {
		rest, ok2 := strings.CutPrefix(sealed, sealedPrefixV2)
		idText, r, ok3 := strings.Cut(rest, ".")
		n, err := strconv.ParseUint(idText, 10, 32)
		if !ok2 || !ok3 || err != nil {
			return "", errKeyLost
		}
		id, raw = n, r
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", errKeyLost
	}
	ks, err := s.m.workspaceKeys(ctx, s.lease.ID, false)
	if store.ErrorCode(err) == store.ENotFound {
		return "", errKeyLost
	}
	if err != nil {
		return "", err
	}
	k, err := ks.keyring(uint32(id))
	if err != nil {
		return "", errKeyLost
	}
	secret, err := k.open(b, secretAAD(s.lease.ID, purpose))
	if err != nil {
		return "", errKeyLost
	}
	return string(secret), nil
}
