package tenant

import (
	"github.com/google/uuid"

	"atrium/store"
)

// ParseID accepts a workspace id only in its canonical form: a lower-case,
// hyphenated UUID. The returned string is re-formatted from the parsed UUID,
// so it is the only form that ever becomes part of a file path.
func ParseID(s string) (string, error) {
	if s == "" {
		return "", store.Errorf(store.EInvalid, "The workspace id is empty.")
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return "", store.Errorf(store.EInvalid, "%q is not a workspace id; ids are lower-case UUIDs such as 0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e.", truncate(s, 80))
	}
	return u.String(), nil
}

// NewID returns a new workspace id: a UUIDv7, so ids sort by creation time.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
