package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Expect is the version a change expects its record to be at: the one the
// edit form or API client read. Nil changes the record whatever its version
// (last write wins, as before versions existed).
type Expect struct {
	Version *int64 `json:"version"`
}

// Precondition returns e itself, so code holding any input that embeds an
// Expect (the API's If-Match) can set it.
func (e *Expect) Precondition() *Expect { return e }

// Check fails with a conflict when a version is expected and the record,
// a what, is at current instead. Writes that change a row make the same
// check in their UPDATE (see updateRow); this is for a write that turns
// out to change nothing, inside the same write transaction.
func (e Expect) Check(what string, current int64) error {
	if e.Version != nil && *e.Version != current {
		return staleError(what, current)
	}
	return nil
}

// staleError is the conflict of a write that expected another version of
// a record than its current one.
func staleError(what string, current int64) error {
	return &Error{Code: EConflict, Version: current,
		Message: fmt.Sprintf("Someone else changed this %s since you loaded it (it is now at version %d).", what, current)}
}

// CurrentVersion returns the version a stale write found its record at,
// and false for any other error.
func CurrentVersion(err error) (int64, bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == EConflict && e.Version > 0 {
		return e.Version, true
	}
	return 0, false
}

// updateRow writes the record row id of table: set (named parameters of
// row) plus version = version + 1, so every write of a row moves its
// version. With an expected version, the WHERE holds it too: the check and
// the write are one statement, and a stale write changes nothing and
// returns a conflict. An error of the UPDATE itself is returned as is, for
// the caller to name (a duplicate email).
func updateRow(ctx context.Context, tx *sqlx.Tx, table, what, id string, expect Expect, set string, row any) error {
	query, args, err := sqlx.Named(`UPDATE `+table+` SET `+set+`, version = version + 1`, row)
	if err != nil {
		return err
	}
	query += ` WHERE id = ?`
	args = append(args, id)
	if expect.Version != nil {
		query += ` AND version = ?`
		args = append(args, *expect.Version)
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var current int64
	err = tx.GetContext(ctx, &current, `SELECT version FROM `+table+` WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Errorf(ENotFound, "That %s does not exist.", what)
	}
	if err != nil {
		return err
	}
	return staleError(what, current)
}
