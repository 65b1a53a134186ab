// Package tenant owns the lifecycle of workspaces: the catalog of them, their
// files and regions, the cache of open handles, creation and deletion.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"atrium/store"
)

// Options configure a Manager.
type Options struct {
	// DataDir holds catalog.db and, by default, the workspace files.
	DataDir string
	// Config gives the regions; nil means the embedded defaults.
	Config *Config
	// MaxOpen bounds the idle open workspace handles (DefaultMaxOpen if 0).
	MaxOpen int
	Logger  *slog.Logger
}

// Manager is the one entry point to workspaces: it creates, opens, lists and
// deletes them, and owns the catalog.
type Manager struct {
	dataDir  string
	cfg      *Config
	log      *slog.Logger
	catalog  *store.DB
	cache    *Cache
	template []byte // an empty, migrated workspace file, copied on create
}

// Open opens (creating if needed) the data directory and the catalog,
// migrates the catalog, and finishes what a crash interrupted: half-made
// workspaces are removed, half-deleted ones are deleted.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data directory %s: %w", dataDir, unwrapPathError(err))
	}
	cfg := opts.Config
	if cfg == nil {
		if cfg, err = LoadConfig("", dataDir); err != nil {
			return nil, err
		}
	}
	for _, r := range cfg.Regions {
		if err := os.MkdirAll(r.Data, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the data directory of region %s, %s: %w", r.Name, r.Data, unwrapPathError(err))
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	catalog, err := store.Open(filepath.Join(dataDir, "catalog.db"), store.OpenOptions{Create: true, Synchronous: "full"})
	if err != nil {
		return nil, fmt.Errorf("cannot open the catalog in %s: %w", dataDir, err)
	}
	m := &Manager{dataDir: dataDir, cfg: cfg, log: log, catalog: catalog}
	m.cache = newCache(opts.MaxOpen, m.openWorkspace, m.closeWorkspace)
	if err := m.init(ctx); err != nil {
		catalog.Close()
		return nil, err
	}
	return m, nil
}

func (m *Manager) init(ctx context.Context) error {
	if _, _, err := store.Migrate(ctx, m.catalog, store.CatalogSchema); err != nil {
		return fmt.Errorf("cannot migrate the catalog: %w", err)
	}
	tmpl, err := buildTemplate(ctx, m.dataDir)
	if err != nil {
		return fmt.Errorf("cannot build the workspace template: %w", err)
	}
	m.template = tmpl
	return m.recover(ctx)
}

// Close closes every open workspace and the catalog.
func (m *Manager) Close() error {
	m.cache.Close()
	return m.catalog.Close()
}

// Catalog returns the catalog database.
func (m *Manager) Catalog() *store.DB { return m.catalog }

// Config returns the regions in use.
func (m *Manager) Config() *Config { return m.cfg }

// DataDir returns the absolute data directory.
func (m *Manager) DataDir() string { return m.dataDir }

// Acquire parses id and returns a lease on its open workspace. An id that is
// not canonical, unknown, deleted or being deleted is ENotFound or EInvalid.
func (m *Manager) Acquire(ctx context.Context, id string) (*Lease, error) {
	id, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	return m.cache.Acquire(ctx, id)
}

// OpenHandles returns how many workspace files are open now.
func (m *Manager) OpenHandles() int { return m.cache.Len() }

// FilePath returns the path of a workspace's file in its region.
func (m *Manager) FilePath(w *store.Workspace) (string, error) {
	r, ok := m.cfg.Regions[w.Region]
	if !ok {
		return "", fmt.Errorf("workspace %s is in region %q, which is not configured", w.ID, w.Region)
	}
	id, err := ParseID(w.ID)
	if err != nil {
		return "", err
	}
	return filepath.Join(r.Data, id+".db"), nil
}

func (m *Manager) openWorkspace(ctx context.Context, id string) (*store.DB, *store.Workspace, error) {
	w, err := store.GetWorkspace(ctx, m.catalog.R, id)
	if err != nil {
		return nil, nil, err
	}
	if w.State != store.StateActive {
		return nil, nil, errNoWorkspace(id)
	}
	path, err := m.FilePath(w)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(path, store.OpenOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open workspace %s: %w", id, err)
	}
	if _, _, err := store.Migrate(ctx, db, store.WorkspaceSchema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("cannot migrate workspace %s: %w", id, err)
	}
	return db, w, nil
}

func (m *Manager) closeWorkspace(db *store.DB, w *store.Workspace) {
	if err := db.Close(); err != nil {
		m.log.Error("close workspace", "workspace", w.ID, "err", err)
	}
}

func errNoWorkspace(id string) error {
	return store.Errorf(store.ENotFound, "Workspace %s does not exist.", id)
}

// unwrapPathError drops the path from an fs.PathError: callers name the path
// in their own sentence.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Info is a workspace with the size of its files on disk.
type Info struct {
	store.Workspace
	SizeBytes int64 `json:"size_bytes"`
}

// List returns the live workspaces (active, and deleting if any) with their
// sizes, oldest first.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	ws, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateActive, store.StateDeleting)
	if err != nil {
		return nil, err
	}
	infos := make([]Info, len(ws))
	for i, w := range ws {
		infos[i] = Info{Workspace: w}
		if path, err := m.FilePath(&w); err == nil {
			infos[i].SizeBytes = fileSize(path) + fileSize(path+"-wal")
		}
	}
	return infos, nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
