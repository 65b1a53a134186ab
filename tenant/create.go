package tenant

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"atrium/store"
)

// MaxNameLength is the longest workspace name, in characters.
const MaxNameLength = 100

// CreateOptions describe a new workspace.
type CreateOptions struct {
	Name   string
	Region string // "" for the default region
	// OwnerEmail, when set, makes that user the workspace's owner.
	OwnerEmail string
	// Actor is who asked, for the event log ("cli", "user:<id>").
	Actor string
	// From, when set, is a workspace file that passed store.ValidateImport:
	// the new workspace starts as a copy of it instead of empty.
	From string
	// Passphrase opens a passphrase-protected export given to Import.
	Passphrase string
}

// testHookFileWritten, when set by tests, runs after a new workspace's file
// exists and before its catalog row is made active.
var testHookFileWritten func(path string) error

// Create makes a workspace: a catalog row and a file, as one step. The row
// is written first in state "creating", then the file, then the row turns
// "active" in the same transaction as the owner's membership. An error at any
// point removes what was made; a crash leaves a "creating" row that the next
// Open removes together with its file. So there is a whole workspace or none.
func (m *Manager) Create(ctx context.Context, opts CreateOptions) (*store.Workspace, error) {
	name, err := ValidateName(opts.Name)
	if err != nil {
		return nil, err
	}
	region, err := m.cfg.Region(opts.Region)
	if err != nil {
		return nil, store.FieldError("region", "%s.", capitalize(err.Error()))
	}
	var owner *store.User
	if opts.OwnerEmail != "" {
		if owner, err = store.UserByEmail(ctx, m.catalog.R, opts.OwnerEmail); err != nil {
			return nil, err
		}
	}
	w := &store.Workspace{ID: NewID(), Name: name, Region: region.Name, State: store.StateCreating,
		CreatedAt: time.Now().UTC(), Pristine: opts.From == ""}
	if err := m.insertWorkspace(ctx, w, opts.From != ""); err != nil {
		return nil, err
	}
	if err := m.finishCreate(ctx, w, owner, opts); err != nil {
		m.abandonCreate(w)
		return nil, err
	}
	w.State = store.StateActive
	return w, nil
}

// insertWorkspace adds w's catalog row. A file that comes from elsewhere (an
// import, a restore) may carry a retention policy, so the retention job
// looks at it once; the template has none.
func (m *Manager) insertWorkspace(ctx context.Context, w *store.Workspace, fromElsewhere bool) error {
	return m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.InsertWorkspace(ctx, tx, w); err != nil {
			return err
		}
		if !fromElsewhere {
			return nil
		}
		return store.SetDue(ctx, tx, w.ID, store.DueRetention, time.Now())
	})
}

func (m *Manager) finishCreate(ctx context.Context, w *store.Workspace, owner *store.User, opts CreateOptions) error {
	actor := opts.Actor
	path, err := m.FilePath(w)
	if err != nil {
		return err
	}
	content := io.Reader(bytes.NewReader(m.template))
	if opts.From != "" {
		f, err := os.Open(opts.From)
		if err != nil {
			return err
		}
		defer f.Close()
		content = f
	}
	if err := writeFileDurably(path, content); err != nil {
		return fmt.Errorf("cannot write the workspace file: %w", err)
	}
	if testHookFileWritten != nil {
		if err := testHookFileWritten(path); err != nil {
			return err
		}
	}
	err = m.catalog.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.SetWorkspaceState(ctx, tx, w.ID, store.StateCreating, store.StateActive); err != nil {
			return err
		}
		if owner != nil {
			if err := store.AddMember(ctx, tx, owner.ID, w.ID, "owner"); err != nil {
				return err
			}
		}
		return store.LogEvent(ctx, tx, actorOr(actor), "workspace.create", w.ID,
			map[string]string{"name": w.Name, "region": w.Region})
	})
	if err != nil {
		return err
	}
	if w.Pristine {
		// An empty workspace is the template, which needs no backup; its
		// first open registers it with Litestream (see openWorkspace).
		return nil
	}
	// An imported file is replicated at once, so its content has a backup
	// even if it is never opened. The first snapshot and upload run in the
	// background, off the creator's path: a first open registers it too,
	// and waits for this registration when it is under way.
	m.goBackground(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.acquireReplication(ctx, w, path); err != nil {
			m.log.Error("first replication of an imported workspace failed; its first open retries", "workspace", w.ID, "err", err)
			return
		}
		defer m.repl.release(path)
		if err := m.recordTakeIn(ctx, w, actor); err != nil && ctx.Err() == nil {
			m.log.Warn("cannot record the take-in in the workspace's audit log", "workspace", w.ID, "err", err)
		}
	})
	return nil
}

// recordTakeIn writes the take-in of workspace w into its audit log (see
// auditAfterSnapshot).
func (m *Manager) recordTakeIn(ctx context.Context, w *store.Workspace, actor string) error {
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		return err
	}
	defer l.Release()
	return m.auditAfterSnapshot(ctx, l, actorOf(actorOr(actor)), "workspace.take_in",
		map[string]store.Change{"name": {After: w.Name}, "region": {After: w.Region}})
}

// abandonCreate removes the file, replica and row of a workspace whose
// creation failed.
func (m *Manager) abandonCreate(w *store.Workspace) {
	ctx := context.Background()
	if path, err := m.FilePath(w); err == nil {
		m.repl.remove(ctx, path)
		if _, err := m.deleteReplica(ctx, w); err != nil {
			m.log.Error("remove the replica of a half-made workspace", "workspace", w.ID, "err", err)
			return // keep the row, so the next start tries again
		}
		if _, err := removeWorkspaceFiles(path); err != nil {
			m.log.Error("remove half-made workspace file", "workspace", w.ID, "err", err)
			return // keep the row, so the next start tries again
		}
	}
	if err := store.DeleteWorkspaceRow(ctx, m.catalog.W, w.ID); err != nil {
		m.log.Error("remove half-made workspace row", "workspace", w.ID, "err", err)
	}
}

// recover finishes what a crash interrupted.
func (m *Manager) recover(ctx context.Context) error {
	creating, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateCreating)
	if err != nil {
		return err
	}
	for i := range creating {
		m.log.Info("removing a workspace whose creation was interrupted", "workspace", creating[i].ID)
		m.abandonCreate(&creating[i])
	}
	// Deletions a crash interrupted are finished now when they can be; one
	// that fails (say the replica is unreachable) is left to the janitor.
	deleting, err := store.ListWorkspaces(ctx, m.catalog.R, store.StateDeleting)
	if err != nil {
		return err
	}
	for i := range deleting {
		m.log.Info("finishing an interrupted deletion", "workspace", deleting[i].ID)
		if _, err := m.removeAndTombstone(ctx, &deleting[i], actorOr(deleting[i].DeletedBy)); err != nil {
			m.log.Error("interrupted deletion failed again; it will be retried", "workspace", deleting[i].ID, "err", err)
		}
	}
	return nil
}

// ValidateName trims a workspace name and checks it is fit to show.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", store.FieldError("name", "The workspace name is empty.")
	case !utf8.ValidString(name):
		return "", store.FieldError("name", "The workspace name is not valid UTF-8.")
	case utf8.RuneCountInString(name) > MaxNameLength:
		return "", store.FieldError("name", "The workspace name is longer than %d characters.", MaxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", store.FieldError("name", "The workspace name contains control characters.")
	}
	return name, nil
}

// buildTemplate makes an empty workspace file at the current schema version
// and returns its bytes. Creating a workspace copies them, which is several
// times faster than running the schema's DDL for every workspace.
func buildTemplate(ctx context.Context, dataDir string) ([]byte, error) {
	dir, err := os.MkdirTemp(dataDir, ".template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "build.db"), store.OpenOptions{Create: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, _, err := store.Migrate(ctx, db, store.WorkspaceSchema); err != nil {
		return nil, err
	}
	if err := store.PrepareForReplication(ctx, db); err != nil {
		return nil, err
	}
	// VACUUM INTO writes a compact, self-contained file with no WAL.
	out := filepath.Join(dir, "template.db")
	if _, err := db.W.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return nil, err
	}
	if err := setWALMode(out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// setWALMode marks a file as a WAL database in its header. VACUUM INTO
// writes rollback-journal files; switching a new workspace to WAL on first
// open needs an exclusive lock, which can time out while Litestream, which
// tracks the file from its creation, is reading it.
func setWALMode(path string) error {
	db, err := store.Open(path, store.OpenOptions{Transient: true})
	if err != nil {
		return err
	}
	// Open already ran PRAGMA journal_mode(wal); closing the last
	// connection checkpoints and removes the WAL, and the mode stays.
	return db.Close()
}

// writeFileDurably writes what r holds to a new file at path through a
// temporary file, fsyncs it, renames it into place and fsyncs the
// directory. It never replaces an existing file.
func writeFileDurably(path string, r io.Reader) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists", path)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func actorOr(actor string) string {
	if actor == "" {
		return "system"
	}
	return actor
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
