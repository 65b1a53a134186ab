package tenant

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// The master key comes, first found, from the environment
// (ATRIUM_MASTER_KEY), from a command the config names
// (master_key_command, for a secret manager), or from a file
// (master_key_file, else <data>/master.key, made 0600 on the first start).
//
// Each source may give several keys, separated by commas or new lines:
// the first wraps, every one unwraps. That is how a rotation is carried
// out without a moment where a key in use is missing (see RotateMasterKey).
const (
	MasterKeyEnv  = "ATRIUM_MASTER_KEY"
	masterKeyFile = "master.key"
	// pendingSuffix names the new master key file of a rotation of the
	// file source that has not finished (master.key.new).
	pendingSuffix = ".new"
	// masterKeyCommandTimeout bounds master_key_command.
	masterKeyCommandTimeout = 30 * time.Second
)

// Master key sources, as messages name them.
const (
	sourceEnv     = "environment"
	sourceCommand = "command"
	sourceFile    = "file"
)

// masterKey holds the master key(s): keys[0] wraps, each one unwraps.
type masterKey struct {
	mu     sync.RWMutex
	keys   []*keyring
	source string
	path   string // the key file, for sourceFile
	// created: the key file was made by this start (there was none), so
	// it cannot be the key of a catalog restored from a replica.
	created bool
}

func (k *masterKey) seal(plaintext, aad []byte) []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0].seal(plaintext, aad)
}

// open unwraps with the first key that opens the sealed value.
func (k *masterKey) open(sealed, aad []byte) ([]byte, error) {
	_, b, err := k.openWhich(sealed, aad)
	return b, err
}

// openWhich also says which key opened it (0 is the wrapping key).
func (k *masterKey) openWhich(sealed, aad []byte) (int, []byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	err := errors.New("no master key opens it")
	for i, r := range k.keys {
		var b []byte
		if b, err = r.open(sealed, aad); err == nil {
			return i, b, nil
		}
	}
	return -1, nil, err
}

func (k *masterKey) set(keys []*keyring) {
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
}

func (k *masterKey) all() []*keyring {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]*keyring(nil), k.keys...)
}

// loadMasterKey reads the master key from its source; see above. path is
// the key file (<data>/master.key unless master_key_file names another);
// command is master_key_command.
func loadMasterKey(path, command string) (*masterKey, error) {
	if v := os.Getenv(MasterKeyEnv); v != "" {
		keys, err := parseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s must be %d random bytes in base64 (for example the output of: head -c 32 /dev/urandom | base64), or several such keys separated by commas", MasterKeyEnv, keyBytes)
		}
		return &masterKey{keys: keys, source: sourceEnv}, nil
	}
	if command != "" {
		out, err := runKeyCommand(command)
		if err != nil {
			return nil, err
		}
		keys, err := parseKeys(string(out))
		if err != nil {
			return nil, fmt.Errorf("master_key_command printed no valid master key: it must print %d random bytes in base64 (one key a line; the first wraps)", keyBytes)
		}
		return &masterKey{keys: keys, source: sourceCommand}, nil
	}
	keys, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, perr := os.Stat(path + pendingSuffix); perr == nil {
			return nil, fmt.Errorf("the master key %s is missing but %s exists: a rotation was interrupted; move %s to %s and start again", path, path+pendingSuffix, path+pendingSuffix, path)
		}
		k, err := createKeyFile(path, nil)
		if err != nil {
			return nil, err
		}
		return &masterKey{keys: []*keyring{k}, source: sourceFile, path: path, created: true}, nil
	} else if err != nil {
		return nil, err
	}
	// An interrupted rotation: its new key wraps from now on (Open
	// finishes the rotation), the old one still unwraps.
	if pending, err := readKeyFile(path + pendingSuffix); err == nil {
		keys = append(pending, keys...)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return &masterKey{keys: keys, source: sourceFile, path: path}, nil
}

func runKeyCommand(command string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), masterKeyCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		if msg != "" {
			return nil, fmt.Errorf("master_key_command failed: %v: %s", err, msg)
		}
		return nil, fmt.Errorf("master_key_command failed: %v", err)
	}
	return out, nil
}

// parseKeys reads base64 keys separated by commas, spaces or new lines.
func parseKeys(text string) ([]*keyring, error) {
	var keys []*keyring
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(b) != keyBytes {
			return nil, errors.New("not a key")
		}
		k, err := newKeyring(b)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	return keys, nil
}

func readKeyFile(path string) ([]*keyring, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
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
	keys, err := parseKeys(string(text))
	if err != nil {
		return nil, fmt.Errorf("the master key %s is not %d bytes in base64", path, keyBytes)
	}
	return keys, nil
}

// createKeyFile writes key (a new random one when nil) to a new file
// readable by its owner only, synced with its directory.
func createKeyFile(path string, key []byte) (*keyring, error) {
	if key == nil {
		key = make([]byte, keyBytes)
		rand.Read(key)
	}
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

// MasterRotation says what a master key rotation did.
type MasterRotation struct {
	Rewrapped int // workspace data keys now wrapped by the new master key
	// Unreadable are the data keys no master key given opens (wrapped by
	// a lost key): left as they are.
	Unreadable []string
	// Source is where the master key comes from; for the environment and
	// a command, the operator must now give the new key alone (after
	// KeepOld, when it is set).
	Source string
	// KeepOld, when not zero, is how long the old master key must stay
	// listed after the new one: the catalog's replica is encrypted, and
	// holds objects written under the old key for that long (see
	// oldMasterKeyWindow). With the key file, Atrium keeps it listed.
	KeepOld time.Duration
}

// RotateMasterKey wraps every workspace data key with a new master key;
// the data keys and so every file, secret and replica stay as they are.
//
// With the key file (the default), the new key is written first to
// master.key.new, the data keys are re-wrapped in one catalog
// transaction, then the new file replaces master.key: a crash at any point
// leaves keys that open every data key, and the next start finishes the
// rotation. With the environment or master_key_command, the source must
// already give the new key first and the current one after it; once this
// returns, the source should give the new key alone.
func (m *Manager) RotateMasterKey(ctx context.Context) (*MasterRotation, error) {
	m.rotateMu.Lock()
	defer m.rotateMu.Unlock()
	mk := m.master
	switch mk.source {
	case sourceFile:
		// A master.key.new already there is an interrupted rotation, whose
		// key is first already: this finishes it.
		if _, err := os.Stat(mk.path + pendingSuffix); errors.Is(err, fs.ErrNotExist) {
			k, err := createKeyFile(mk.path+pendingSuffix, nil)
			if err != nil {
				return nil, err
			}
			mk.set(append([]*keyring{k}, mk.all()...))
		}
	default:
		if len(mk.all()) < 2 {
			what := MasterKeyEnv
			if mk.source == sourceCommand {
				what = "the output of master_key_command"
			}
			return nil, store.Errorf(store.EInvalid, "The master key comes from %s, so Atrium cannot replace it there: make %s give the new key first and the current one after it (separated by a comma), restart Atrium, run this again, then make it give the new key alone.", mk.source, what)
		}
	}
	return m.rewrapAll(ctx)
}

// rewrapAll wraps with the first master key every data key another of the
// master keys opens, then keeps the first master key only.
func (m *Manager) rewrapAll(ctx context.Context) (*MasterRotation, error) {
	mk := m.master
	res := &MasterRotation{Source: mk.source}
	if m.catalogEncrypted() {
		res.KeepOld = oldMasterKeyWindow
	}
	// A data key made while the transaction ran is wrapped by the new key
	// already (it wraps since before); the loop catches one wrapped by
	// the old key just before.
	for pass := 0; pass < 3; pass++ {
		n := 0
		res.Unreadable = nil
		err := m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
			keys, err := store.AllWorkspaceKeys(ctx, tx)
			if err != nil {
				return err
			}
			for _, k := range keys {
				aad := keyAAD(k.WorkspaceID, k.ID)
				which, plain, err := mk.openWhich(k.Wrapped, aad)
				if err != nil {
					res.Unreadable = append(res.Unreadable, fmt.Sprintf("%s key %d", k.WorkspaceID, k.ID))
					continue
				}
				if which == 0 {
					continue
				}
				k.Wrapped = mk.seal(plain, aad)
				if err := store.RewrapWorkspaceKey(ctx, tx, k); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		res.Rewrapped += n
		if n == 0 {
			break
		}
	}
	if _, err := os.Stat(mk.path + pendingSuffix); mk.source == sourceFile && err == nil {
		keep := mk.all()[:1]
		if res.KeepOld > 0 {
			// The catalog's replica holds objects written under the
			// older keys: they stay listed, after the new one.
			keep = distinctKeys(mk.all())
		}
		if err := replaceKeyFile(mk.path, keep); err != nil {
			return nil, fmt.Errorf("the workspace keys are wrapped by the new master key, but it could not replace the old one: %w; move %s to %s yourself", err, mk.path+pendingSuffix, mk.path)
		}
		mk.set(keep)
	}
	if len(res.Unreadable) > 0 {
		m.log.Warn("master key rotation: some workspace keys open with no master key given and were left as they are", "keys", len(res.Unreadable))
	}
	m.log.Info("master key rotated", "rewrapped", res.Rewrapped, "source", mk.source)
	return res, nil
}

// distinctKeys is keys without repeats, in order (an interrupted rotation
// may list the new key twice).
func distinctKeys(keys []*keyring) []*keyring {
	var out []*keyring
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[string(k.key)] {
			seen[string(k.key)] = true
			out = append(out, k)
		}
	}
	return out
}

// replaceKeyFile makes the key file list keys, the first wrapping: with
// one key, master.key.new becomes it; with more, they are written to
// master.key.new first. Either way a rename replaces it, so a crash leaves
// the old file or the new one.
func replaceKeyFile(path string, keys []*keyring) error {
	if len(keys) > 1 {
		var text strings.Builder
		for _, k := range keys {
			text.WriteString(base64.StdEncoding.EncodeToString(k.key) + "\n")
		}
		tmp := path + ".tmp"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = f.WriteString(text.String())
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, path+pendingSuffix)
		}
		if err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(path+pendingSuffix, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// finishMasterRotation completes a rotation of the key file that a crash
// interrupted (master.key.new exists).
func (m *Manager) finishMasterRotation(ctx context.Context) error {
	if m.master.source != sourceFile {
		return nil
	}
	if _, err := os.Stat(m.master.path + pendingSuffix); err != nil {
		return nil
	}
	m.log.Warn("finishing an interrupted master key rotation", "path", m.master.path+pendingSuffix)
	m.rotateMu.Lock()
	defer m.rotateMu.Unlock()
	_, err := m.rewrapAll(ctx)
	return err
}

// CheckKeys tries to unwrap every workspace data key with the master key
// and calls fail for each that does not unwrap, or unwraps only with a
// master key kept for a rotation. It returns how many keys it checked.
func (m *Manager) CheckKeys(ctx context.Context, fail func(what string, err error)) (int, error) {
	keys, err := store.AllWorkspaceKeys(ctx, m.catalog.R)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		which, _, err := m.master.openWhich(k.Wrapped, keyAAD(k.WorkspaceID, k.ID))
		what := fmt.Sprintf("key %d of workspace %s", k.ID, k.WorkspaceID)
		switch {
		case err != nil:
			fail(what, errors.New("the master key cannot unwrap it; what it encrypted (secrets, encrypted replicas) cannot be read"))
		case which > 0:
			fail(what, errors.New("it unwraps only with an older master key; run atrium keys rotate-master"))
		}
	}
	return len(keys), nil
}
