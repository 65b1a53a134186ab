package tenant

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"atrium/store"
)

// Import makes a new workspace from an export archive or a bare workspace
// .db file at src. The file is checked before anything goes live (see
// store.ExtractArchive and store.ValidateImport), in a staging directory
// inside the data directory; any problem is one clear error and nothing is
// created. Without a name, the archive's workspace name or the file's name
// is used. API keys never come along.
func (m *Manager) Import(ctx context.Context, src string, opts CreateOptions) (*store.Workspace, error) {
	staging, err := os.MkdirTemp(m.dataDir, ".import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	path, name, err := stageImport(src, staging)
	if err != nil {
		return nil, err
	}
	if err := store.ValidateImport(ctx, path); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = name
	}
	opts.From = path
	return m.Create(ctx, opts)
}

// stageImport copies a bare .db, or extracts an archive's workspace.db,
// into dir, and returns its path and a name for the workspace.
func stageImport(src, dir string) (path, name string, err error) {
	isDB, err := store.IsSQLiteFile(src)
	if err != nil {
		return "", "", store.Errorf(store.EInvalid, "%s cannot be read: %v.", src, unwrapPathError(err))
	}
	if !isDB {
		p, manifest, err := store.ExtractArchive(src, dir)
		if err != nil {
			return "", "", err
		}
		return p, manifest.Workspace.Name, nil
	}
	path = filepath.Join(dir, "workspace.db")
	if err := copyFile(src, path); err != nil {
		return "", "", err
	}
	return path, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, store.MaxImportBytes+1)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
