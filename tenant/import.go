package tenant

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"atrium/store"
)

// MaxStagingBytes bounds the bytes all imports of the process stage at
// once: each reserves its workspace file's size before writing it, so
// parallel imports cannot together fill the disk. It is twice the
// default store.MaxImportBytes; tests lower it.
var MaxStagingBytes int64 = 2 * store.DefaultMaxImportBytes

// staging is the process-wide reservation against MaxStagingBytes.
var staging struct {
	mu   sync.Mutex
	used int64
}

// reserveStaging takes n bytes of the staging budget, or refuses at once
// when other imports hold too much of it; release gives them back.
func reserveStaging(n int64) (release func(), err error) {
	staging.mu.Lock()
	defer staging.mu.Unlock()
	if staging.used+n > MaxStagingBytes {
		return nil, store.Errorf(store.EUnavailable, "Other imports are being checked; try again in a few minutes.")
	}
	staging.used += n
	var once sync.Once
	return func() {
		once.Do(func() {
			staging.mu.Lock()
			staging.used -= n
			staging.mu.Unlock()
		})
	}, nil
}

// Import makes a new workspace from an export archive or a bare workspace
// .db file at src. The file is checked before anything goes live (see
// store.OpenArchive and store.ValidateImport), in a staging directory
// inside the data directory, after its size is reserved from the staging
// budget; any problem is one clear error and nothing is created. Without a
// name, the archive's workspace name or the file's name is used. API keys
// never come along.
func (m *Manager) Import(ctx context.Context, src string, opts CreateOptions) (*store.Workspace, error) {
	if r, err := m.cfg.Region(opts.Region); err == nil {
		if err := m.checkReserve(r.Name); err != nil {
			return nil, err
		}
	}
	// A protected export is decrypted first, into its own staging.
	if prot, err := isProtected(src); err != nil {
		return nil, err
	} else if prot {
		st, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		release, err := reserveStaging(st.Size())
		if err != nil {
			return nil, err
		}
		defer release()
		dir, err := os.MkdirTemp(m.dataDir, ".import-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if src, err = decryptExport(src, dir, opts.Passphrase, store.MaxImportBytes); err != nil {
			return nil, err
		}
	}
	in, err := openImport(src)
	if err != nil {
		return nil, err
	}
	defer in.close()
	release, err := reserveStaging(in.size)
	if err != nil {
		return nil, err
	}
	defer release()
	dir, err := os.MkdirTemp(m.dataDir, ".import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // before release: the bytes are gone first
	path, err := in.stage(dir)
	if err != nil {
		return nil, err
	}
	if err := store.ValidateImport(ctx, path); err != nil {
		return nil, err
	}
	if err := m.eraseAgainIn(ctx, in.origin(), path); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = in.name
	}
	opts.From = path
	return m.Create(ctx, opts)
}

// importSource is a file to import, opened and sized but not yet staged.
type importSource struct {
	path    string
	archive *store.Archive // nil for a bare .db
	size    int64          // the most staging writes
	name    string         // the workspace's name unless one is given
}

// openImport opens src as an export archive or a bare .db and learns how
// much staging it needs; a file past store.MaxImportBytes is refused here,
// before anything is written.
func openImport(src string) (*importSource, error) {
	isDB, err := store.IsSQLiteFile(src)
	if err != nil {
		return nil, store.Errorf(store.EInvalid, "%s cannot be read: %v.", src, unwrapPathError(err))
	}
	if !isDB {
		a, err := store.OpenArchive(src)
		if err != nil {
			return nil, err
		}
		return &importSource{path: src, archive: a, size: a.DBSize(), name: a.Manifest.Workspace.Name}, nil
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, store.Errorf(store.EInvalid, "%s cannot be read: %v.", src, unwrapPathError(err))
	}
	if st.Size() > store.MaxImportBytes {
		return nil, store.ErrImportTooLarge()
	}
	return &importSource{path: src, size: st.Size(), name: strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))}, nil
}

// origin is the id of the workspace an archive was exported from ("" for
// a bare .db, which does not say).
func (s *importSource) origin() string {
	if s.archive == nil {
		return ""
	}
	return s.archive.Manifest.Workspace.ID
}

// eraseAgainIn erases, in the staged file at path exported from workspace
// origin, the people erased there since the export: an old archive must
// not bring them back.
func (m *Manager) eraseAgainIn(ctx context.Context, origin, path string) error {
	if _, err := ParseID(origin); err != nil {
		return nil // not an archive of one of this instance's workspaces
	}
	db, err := store.Open(path, store.OpenOptions{Transient: true})
	if err != nil {
		return err
	}
	defer db.Close()
	return m.eraseAgain(ctx, origin, db, false)
}

// stage writes the workspace file into dir and returns its path.
func (s *importSource) stage(dir string) (string, error) {
	if s.archive != nil {
		return s.archive.ExtractDB(dir)
	}
	path := filepath.Join(dir, "workspace.db")
	return path, copyFile(s.path, path, s.size)
}

func (s *importSource) close() {
	if s.archive != nil {
		s.archive.Close()
	}
}

// copyFile copies src to dst, stopping at max bytes (the size reserved for
// it): a file that grows meanwhile is cut short and fails validation.
func copyFile(src, dst string, max int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, max)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
