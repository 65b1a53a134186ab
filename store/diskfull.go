package store

import (
	"errors"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// EStorageFull is the code of a change refused because the server's disk
// is full (or below its reserve, for heavy work).
const EStorageFull = "storage_full"

// storageFullMessage says what a full disk means to the person whose
// change it refused.
const storageFullMessage = "The server has run out of disk space, so nothing of this change was saved. Try again once an administrator has freed space."

// IsDiskFull reports whether err comes from a full disk: SQLite's
// SQLITE_FULL, or ENOSPC from any file operation (uploads, staging files,
// exports).
func IsDiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

// asDomain turns a full disk into its domain error; other errors are
// returned as they are.
func asDomain(err error) error {
	if IsDiskFull(err) {
		var e *Error
		if !errors.As(err, &e) {
			return &Error{Code: EStorageFull, Message: storageFullMessage}
		}
	}
	return err
}
