package handlers

import (
	"net/http"
	"strings"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// restoreWorkspace brings the workspace back to a moment of its restorable
// window (owners only). The file is restored beside the live one, checked,
// then swapped in; this request lets go of its own lease first, as the swap
// waits for every lease to end.
func (s *Server) restoreWorkspace(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	at, err := parseRestoreTime(f.Get("at"), f.Get("tz_offset"))
	if err != nil {
		f.Fail("at", store.ErrorMessage(err))
		s.renderSettings(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	opts := tenant.RestoreOptions{At: at, Actor: "user:" + authFrom(r).user.ID}
	if f.Get("as_new") != "" {
		opts.AsNew = f.Get("as_new")
	}
	id := wc.ws.ID
	if opts.AsNew == "" {
		wc.lease.Release()
	}
	restored, err := s.tenants.Restore(r.Context(), id, opts)
	if err != nil {
		if code := store.ErrorCode(err); code == store.ENotFound || code == store.EValidation || code == store.EInvalid {
			s.flash(w, r, "error", store.ErrorMessage(err))
			http.Redirect(w, r, workspaceURL(id, "settings"), http.StatusSeeOther)
			return
		}
		s.fail(w, r, err)
		return
	}
	when := "its latest backup"
	if !at.IsZero() {
		when = clockOf(authFrom(r).user).Seconds(at)
	}
	s.flash(w, r, "success", restored.Name+" was restored to "+when+".")
	http.Redirect(w, r, workspaceURL(restored.ID, "settings"), http.StatusSeeOther)
}

// parseRestoreTime reads a datetime-local value ("" means the latest
// state), in the browser's time zone given as minutes east of UTC.
func parseRestoreTime(value, offset string) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, nil
	}
	layouts := []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"}
	for _, layout := range layouts {
		t, err := time.Parse(layout, value)
		if err != nil {
			continue
		}
		if offset = strings.TrimSpace(offset); layout != time.RFC3339 && offset != "" {
			d, err := time.ParseDuration(offset + "m")
			if err != nil {
				// A wrong zone would restore to a moment hours away.
				return time.Time{}, store.FieldError("at", "The time zone of the moment could not be read; reload the page and try again.")
			}
			t = t.Add(-d)
		}
		return t.UTC(), nil
	}
	return time.Time{}, store.FieldError("at", "Give the moment as a date and time, such as 2026-11-27T14:30.")
}
