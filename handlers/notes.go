package handlers

import (
	"net/http"

	"github.com/gorilla/mux"

	"atrium/store"
)

// createNote adds a note to a contact or company and goes back to it.
func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	in := store.NoteInput{ContactID: r.PostForm.Get("contact_id"), CompanyID: r.PostForm.Get("company_id"), Body: r.PostForm.Get("body")}
	_, err := wc.svc.CreateNote(r.Context(), s.actor(r), in)
	back := noteParentURL(wc.ws.ID, in.ContactID, in.CompanyID)
	switch {
	case err == nil:
		http.Redirect(w, r, back, http.StatusSeeOther)
	case store.ErrorField(err) == "body":
		s.flash(w, r, "error", store.ErrorMessage(err))
		http.Redirect(w, r, back, http.StatusSeeOther)
	case store.ErrorCode(err) == store.EValidation:
		s.notFound(w, r) // a parent of another workspace, or none: nothing to add to
	default:
		s.fail(w, r, err)
	}
}

func noteParentURL(workspaceID, contactID, companyID string) string {
	if companyID != "" {
		return companyURL(workspaceID, companyID)
	}
	return contactURL(workspaceID, contactID)
}

func (s *Server) deleteNote(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	n, err := store.GetNote(r.Context(), wc.lease.DB, mux.Vars(r)["note"])
	if err == nil {
		err = store.DeleteNote(r.Context(), wc.lease.DB, s.actor(r), n.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The note was deleted.")
	http.Redirect(w, r, noteParentURL(wc.ws.ID, n.ContactID, n.CompanyID), http.StatusSeeOther)
}
