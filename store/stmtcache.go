package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
)

// Each connection keeps its prepared statements, by SQL text, and runs a
// query it ran before on the statement prepared then. Without it every
// query parsed and planned its SQL anew: on the contact list page, whose
// request runs a dozen queries, preparing was 13% of the request's CPU,
// more than running them (BenchmarkContactList100k's profile).
//
// A kept statement costs ~19 KB (SQLite's compiled program; the contact
// list's query measured). A connection keeps at most stmtCacheSize of them;
// past that, one not in use is dropped for the new one. All connections
// together keep at most stmtCacheBudget (~40 MB): a file has three
// connections and up to --max-open files are open, 256 × 3 × 32 would be
// 470 MB. Past the budget a connection runs new queries unprepared, as
// before, until connections closing (idle files) free some of it. SQL
// longer than stmtCacheMaxSQL (migrations, scripts) is not kept. A statement whose rows are still open (a query run again while
// iterating its first result) is not reused: that query runs unprepared,
// as before. SQLite re-prepares a kept statement by itself when the schema
// changed (sqlite3_prepare_v2).
const (
	stmtCacheSize   = 32
	stmtCacheMaxSQL = 2048
)

// stmtCacheBudget bounds the statements kept by all connections; a
// variable for the tests. stmtsKept counts them.
var (
	stmtCacheBudget int64 = 2048
	stmtsKept       atomic.Int64
)

// stmtCacheConnector gives each new connection its statement cache.
type stmtCacheConnector struct{ driver.Connector }

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// sqliteConn is what the driver's connections do (and what database/sql
// looks for): the cache passes each on.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

func newCachingConn(conn driver.Conn) (driver.Conn, error) {
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("store: the SQLite driver's connection lacks a method the statement cache needs")
	}
	return &cachingConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}}, nil
}

// cachingConn is a connection with its statement cache. database/sql uses
// a connection from one goroutine at a time, so the cache needs no lock.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	driver.Stmt
	busy bool // its rows are open
}

// stmt returns the kept statement for query, preparing and keeping it the
// first time; nil when query is not to be kept or its statement is in use.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if s := c.stmts[query]; s != nil {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if len(query) > stmtCacheMaxSQL {
		return nil, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		evicted := false
		for q, s := range c.stmts {
			if !s.busy {
				c.drop(q, s)
				evicted = true
				break
			}
		}
		if !evicted {
			return nil, nil
		}
	}
	if stmtsKept.Add(1) > stmtCacheBudget {
		stmtsKept.Add(-1)
		return nil, nil
	}
	ds, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		stmtsKept.Add(-1)
		return nil, err
	}
	s := &cachedStmt{Stmt: ds}
	c.stmts[query] = s
	return s, nil
}

// drop finalizes a kept statement.
func (c *cachingConn) drop(query string, s *cachedStmt) {
	s.Close()
	delete(c.stmts, query)
	stmtsKept.Add(-1)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{rows: rows, s: s}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// dropAll finalizes the kept statements. None is in use: database/sql
// closes a connection, or hands it out, only once its rows are closed.
func (c *cachingConn) dropAll() {
	for q, s := range c.stmts {
		c.drop(q, s)
	}
}

// Close finalizes the kept statements, then closes the connection.
func (c *cachingConn) Close() error {
	c.dropAll()
	return c.sqliteConn.Close()
}

// cachedRows are a kept statement's rows: closing them frees the statement
// for the next query.
type cachedRows struct {
	rows driver.Rows
	s    *cachedStmt
}

func (r *cachedRows) Columns() []string              { return r.rows.Columns() }
func (r *cachedRows) Next(dest []driver.Value) error { return r.rows.Next(dest) }

func (r *cachedRows) Close() error {
	err := r.rows.Close()
	r.s.busy = false
	return err
}

// ColumnTypeDatabaseTypeName passes the driver's column types on
// (sql.Rows.ColumnTypes).
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
