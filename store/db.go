// Package store holds Atrium's SQL: the catalog schema (users, workspaces,
// memberships, events), the workspace schema, their embedded migrations and
// the queries on both.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"modernc.org/libc"
	"modernc.org/sqlite" // the only SQLite driver in the binary
	sqlite3 "modernc.org/sqlite/lib"
)

// ReaderConns is the size of each database's read pool; two cores make more
// concurrent readers per file pointless.
const ReaderConns = 2

// WALSizeLimit is the size a WAL file is cut back to when SQLite starts
// it over after a checkpoint (journal_size_limit): 64 MB. SQLite keeps a
// WAL file at the largest it ever grew and writes over it; after a bulk
// import that was hundreds of megabytes beside the file for good. A
// variable only so that a test can lower it; connections read it when
// they open.
var WALSizeLimit atomic.Int64

// Litestream's connections get the limit: a WAL is cut back by the first
// commit after it starts over, which is Litestream's (the sequence row it
// writes after each of its checkpoints), and only frames that checkpoint
// copied into the file, after Litestream copied them to its replica, are
// cut. The app's connections choose no limit in their DSN (see dsn).
func init() {
	WALSizeLimit.Store(64 << 20)
	configureLookaside()
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, dsn string) error {
		if strings.Contains(dsn, "journal_size_limit") {
			return nil
		}
		_, err := conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA journal_size_limit = %d", WALSizeLimit.Load()), nil)
		return err
	})
}

// DB is one SQLite file opened as a single writer connection plus a small pool
// of read-only connections. Writes go through W (BEGIN IMMEDIATE, so a write
// transaction never has to upgrade a read lock), reads through R.
type DB struct {
	Path string
	W    *sqlx.DB
	R    *sqlx.DB
	// OnDue, when set, records in the catalog's due-work index that the
	// workspace has work of a kind due at a moment. Writes that create
	// such work call it inside their transaction, so a job reading the
	// workspace cannot miss them (see tenant's scheduler).
	OnDue func(ctx context.Context, kind string, at time.Time) error
}

// due records work due through OnDue, when set.
func (db *DB) due(ctx context.Context, kind string, at time.Time) error {
	if db.OnDue == nil {
		return nil
	}
	return db.OnDue(ctx, kind, at)
}

// Catalog is the instance's catalog file: users, workspaces, memberships,
// sessions, invitations. It is its own type, not a *DB, so that handing the
// catalog to a function that queries a workspace's tables (or a workspace
// file to one that queries the catalog's) does not compile. Embedding keeps
// W, R, InTx and Close as they are; the one way back to a bare *DB is to
// write c.DB, which a reviewer sees.
type Catalog struct{ *DB }

// OpenCatalog opens the catalog file at path, as Open does.
func OpenCatalog(path string, opts OpenOptions) (*Catalog, error) {
	db, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	return &Catalog{db}, nil
}

// OpenOptions tune how a file is opened.
type OpenOptions struct {
	// Create allows the file to be created; otherwise a missing file is an error.
	Create bool
	// Synchronous is SQLite's synchronous setting; "normal" when empty.
	Synchronous string
	// Transient is for a brief look at a file nothing replicates now (a
	// check, a migration of a never-opened workspace, a file being made):
	// the last connection to close removes the WAL and shared-memory files,
	// and commits may checkpoint, as SQLite does by default. Other files
	// are replicated by Litestream, which must see every WAL frame before
	// it reaches the database file (see openPool).
	Transient bool
}

// Open opens the SQLite file at path. The pragmas are in the DSN so every
// pooled connection gets them, not only the first.
func Open(path string, opts OpenOptions) (*DB, error) {
	if !opts.Create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	sync := opts.Synchronous
	if sync == "" {
		sync = "normal"
	}
	mode := "rw"
	if opts.Create {
		mode = "rwc"
	}
	w, err := openPool(dsn(path, mode, sync, "_txlock=immediate"), !opts.Transient)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	// The first connection sets WAL mode, which needs a write lock; doing it
	// here surfaces a broken or unwritable file at open, not at first query.
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := openPool(dsn(path, "rw", sync, "_pragma=query_only(1)"), !opts.Transient)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(ReaderConns)
	r.SetMaxIdleConns(ReaderConns)
	return &DB{Path: path, W: w, R: r}, nil
}

// openPool opens a connection pool. For a replicated file, its
// connections never checkpoint on commit and keep the WAL file when they
// close (SQLITE_FCNTL_PERSIST_WAL), as Litestream's own connection does.
//
// Checkpoints are Litestream's alone: it copies the WAL's new frames to
// LTX files first. A checkpoint by a commit (SQLite's default once the WAL
// holds 1,000 pages) at a moment Litestream held no read transaction (from
// a registration until its first sync) let the next commit restart the
// WAL over frames Litestream had not read; their changes were missing from
// the replica, which restored as a corrupt file (issue 25).
//
// Whichever connection to a file closes last checkpoints it without
// restarting the WAL; without PERSIST_WAL, when that was one of ours,
// SQLite deleted the WAL, and Litestream, finding it gone the next time the
// file was registered, uploaded a full snapshot of the file instead of
// what changed.
func openPool(dsn string, replicated bool) (*sqlx.DB, error) {
	if replicated {
		dsn += "&_pragma=wal_autocheckpoint(0)"
	}
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	if !replicated {
		return sqlx.NewDb(sql.OpenDB(stmtCacheConnector{base}), "sqlite"), nil
	}
	return sqlx.NewDb(sql.OpenDB(stmtCacheConnector{persistWAL{base}}), "sqlite"), nil
}

type persistWAL struct{ driver.Connector }

func (c persistWAL) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.(sqlite.FileControl).FileControlPersistWAL("main", 1); err != nil {
		conn.Close()
		return nil, fmt.Errorf("keep the WAL on close: %w", err)
	}
	return conn, nil
}

// dsn builds a file: URI so SQLite's mode parameter applies ("rw" never
// creates a missing file) and the path is escaped.
func dsn(path, mode, sync, extra string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	q := "mode=" + mode +
		"&_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(wal)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(" + sync + ")" +
		// Deleted and overwritten record bytes are zeroed in their pages, so
		// what is erased does not linger in the file (GDPR erasure).
		"&_pragma=secure_delete(fast)" +
		// Statement journals and temp tables stay in memory: on disk, every
		// statement in a transaction wrote its sub-journal with pwrite.
		"&_pragma=temp_store(memory)" +
		// No WAL size limit: with one, the last connection to close a file
		// cuts its WAL to nothing even where it is kept (PERSIST_WAL), and
		// Litestream, finding it so at the next registration, uploads a
		// full snapshot. The app's connections, or HoldWAL's, close last.
		"&_pragma=journal_size_limit(-1)" +
		"&" + extra
	return u.String() + "?" + q
}

// lookasideSlotSize and lookasideSlots size each connection's lookaside
// buffer, SQLite's per-connection pool for small allocations. SQLite's
// default, 1,200 bytes by 100 slots, made ~46 KB of each connection's
// ~560 KB of RSS; with two connections per open workspace (the writer's and
// Litestream's) and 256 workspaces open that is ~24 MB. The driver's malloc
// is Go code and cheap, and opening a connection and parsing the schema took
// the same CPU with no lookaside at all (BENCHMARKS.md, session 12); 64
// slots of 128 bytes keep it for the smallest, most frequent allocations.
const (
	lookasideSlotSize = 128
	lookasideSlots    = 64
)

// configureLookaside sets the lookaside size of every SQLite connection of
// the process (ours, Litestream's). SQLite takes it only before its first
// connection opens, which package initialisation precedes; when refused,
// connections keep SQLite's default, which costs memory but nothing else.
func configureLookaside() {
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.Xmalloc(tls, 16) // libc.VaList packs each argument in 8 bytes
	if args == 0 {
		return
	}
	defer libc.Xfree(tls, args)
	sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_LOOKASIDE, libc.VaList(args, int32(lookasideSlotSize), int32(lookasideSlots)))
}

// ReleaseMemory gives back what an idle file's connections hold beyond the
// writer's parsed schema: the writer's cached pages (PRAGMA shrink_memory;
// read again from the file, or the OS's cache, when needed) and its kept
// statements (which also frees their share of the statement cache's budget
// for files in use), and the idle reader connections, each a parse of the
// schema (~0.5 MB with its page cache). Nothing about the file changes: the
// writer stays open, so the file keeps its WAL and the next write needs no
// new connection. For files not used lately (see tenant's Cache).
func (db *DB) ReleaseMemory(ctx context.Context) error {
	db.R.SetMaxIdleConns(0) // closes the idle readers now
	db.R.SetMaxIdleConns(ReaderConns)
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		c.dropAll()
		// On the driver's connection: the cache would keep this statement.
		_, err := c.sqliteConn.ExecContext(ctx, `PRAGMA shrink_memory`, nil)
		return err
	})
}

// CloseIdleWriter closes the writer's connection if it is idle; the next
// write opens another. Only while another connection that has read the
// file stays open (Litestream's): the last connection to close a file
// checkpoints its WAL into it (see openPool).
func (db *DB) CloseIdleWriter() {
	db.W.SetMaxIdleConns(0) // closes the idle one now
	db.W.SetMaxIdleConns(1)
}

// Close closes both pools.
func (db *DB) Close() error {
	rerr := db.R.Close()
	if err := db.W.Close(); err != nil {
		return err
	}
	return rerr
}

// InTx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.W.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil when it says ok.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	return db.check(ctx, "integrity_check", "integrity check")
}

// QuickCheck runs PRAGMA quick_check and returns nil when it says ok: the
// b-trees and records well formed, as integrity_check, but not that each
// index holds exactly its table's rows, which takes most of
// integrity_check's time on a big file.
func (db *DB) QuickCheck(ctx context.Context) error {
	return db.check(ctx, "quick_check", "quick check")
}

func (db *DB) check(ctx context.Context, pragma, name string) error {
	var rows []string
	if err := db.R.SelectContext(ctx, &rows, "PRAGMA "+pragma); err != nil {
		return err
	}
	if len(rows) == 1 && rows[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%s of %s failed: %v", name, db.Path, rows)
}

// HoldWAL opens a connection to the replicated file at path that keeps the
// file's WAL as it is when it closes: hold it while Litestream closes its
// own connections to the file (whose WAL size limit would cut the WAL to
// nothing as the last to close), and close it after them.
func HoldWAL(path string) (release func() error, err error) {
	db, err := openPool(dsn(path, "rw", "normal", "_pragma=query_only(1)"), true)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	// A connection takes its lasting shared lock on a file in WAL mode at
	// its first read.
	if _, err := db.Exec(`SELECT count(*) FROM sqlite_schema`); err != nil {
		db.Close()
		return nil, err
	}
	return db.Close, nil
}

// snapshotTo writes a consistent copy of the file to path (VACUUM INTO).
// It reads on a connection of its own: on the writer it would hold back the
// workspace's writes for as long as the copy takes (seconds for a large
// file), and the readers refuse it (query_only). The copy is a temporary
// file, so it is not synced (synchronous off, which VACUUM INTO takes from
// the connection): syncing the 758 MB of the 1M-contact workspace's copy
// took 1.5 s, with both cores idle.
func (db *DB) snapshotTo(ctx context.Context, path string) error {
	conn, err := openPool(dsn(db.Path, "ro", "off", "_pragma=busy_timeout(5000)"), true)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}
