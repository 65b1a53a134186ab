package store

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes shared by every layer; handlers map each to one HTTP status.
const (
	EInvalid      = "invalid"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	EForbidden    = "forbidden"
	EQuota        = "quota_exceeded" // a plan's quota would be passed
	ERateLimited  = "rate_limited"
	EValidation   = "validation"
	ETooLarge     = "too_large"
	EUnavailable  = "unavailable"
	EInternal     = "internal"
	EUnauthorized = "unauthenticated"
	ETimeout      = "timeout" // the request took too long to arrive
)

// Error is a domain error: a code for programs and a message safe to show
// users. Field names the input at fault, when one is. Version is, for the
// conflict of a stale write, the record's current version.
type Error struct {
	Code    string
	Message string
	Field   string
	Version int64
}

// FieldError returns a validation error about one input field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EValidation, Message: fmt.Sprintf(format, args...), Field: field}
}

// ErrorField returns the field a domain error is about, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func (e *Error) Error() string { return e.Message }

// Errorf returns a domain error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of a domain error, EInternal for any other error
// and "" for nil.
func ErrorCode(err error) string {
	err = asDomain(err)
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the user-facing message of a domain error; any other
// error is internal and its details are not shown.
func ErrorMessage(err error) string {
	err = asDomain(err)
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}

// isUniqueViolation reports whether err is a SQLite UNIQUE or PRIMARY KEY
// constraint failure; it is the one place that turns them into EConflict.
func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// ErrorMessageOrText returns a domain error's message, or the text of any
// other error: for command-line output, where the user is the operator.
func ErrorMessageOrText(err error) string {
	err = asDomain(err)
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
