package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"atrium/store"
)

// The API's optimistic concurrency: GET of one record sends its version as
// a strong ETag ("3"); a PATCH that sends it back in If-Match, or as
// "version" in its body, is applied only if the record is still at that
// version, and is otherwise refused with 409 conflict and the current
// version. A PATCH that sends neither overwrites, as before versions.

// setETag sends a record's version as its ETag, when the entity has
// versions (pipelines have none).
func setETag[T any](w http.ResponseWriter, version func(*T) int64, rec *T) {
	if version != nil {
		w.Header().Set("ETag", etag(version(rec)))
	}
}

// etag writes a version as a strong entity tag: "3".
func etag(version int64) string { return strconv.Quote(strconv.FormatInt(version, 10)) }

// ifMatch reads If-Match: one version in quotes, as ETag sends it. ok is
// false without the header, and for "*" (any version: the record must
// only exist, which every PATCH requires anyway).
func ifMatch(r *http.Request) (version int64, ok bool, err error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, false, nil
	}
	unquoted, qerr := strconv.Unquote(h)
	v, perr := strconv.ParseInt(unquoted, 10, 64)
	if qerr != nil || perr != nil || v < 1 {
		return 0, false, store.Errorf(store.EInvalid, `If-Match must be one version in quotes, as the ETag of the record's GET gives it, such as "3".`)
	}
	return v, true, nil
}

// expectIfMatch makes the version of If-Match the one in expects. A body
// that names another version contradicts it; an entity without versions
// cannot honour it.
func expectIfMatch(r *http.Request, in any) error {
	v, ok, err := ifMatch(r)
	if err != nil || !ok {
		return err
	}
	p, versioned := in.(interface{ Precondition() *store.Expect })
	if !versioned {
		return store.Errorf(store.EInvalid, "These records have no versions; send the change without If-Match.")
	}
	e := p.Precondition()
	if e.Version != nil && *e.Version != v {
		return store.FieldError("version", "If-Match names version %d and the body version %d; send one of them.", v, *e.Version)
	}
	e.Version = &v
	return nil
}
