package handlers

import (
	"net/http"

	"github.com/gorilla/mux"

	"atrium/store"
)

// confirmEraseContact asks before a GDPR erasure; the owner of the request
// types the contact's name, as erasure cannot be undone.
func (s *Server) confirmEraseContact(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	c, err := store.GetContact(r.Context(), wc.lease.DB, mux.Vars(r)["contact"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderConfirm(w, r, confirmPage{
		Question: "Erase every trace of " + c.Name() + "?",
		Detail: "For a GDPR erasure request: the contact, their notes, tasks and timeline, their search entries, and their " +
			"personal data in the audit log are removed for good. Deals stay, without them. The audit log keeps only the fact of the erasure. " +
			"Backups taken before now still hold them until they age out of the restore window; a restore, or an import of this " +
			"workspace's archive, erases them again.",
		Action: contactURL(wc.ws.ID, c.ID, "erase"), Button: "Erase for good", Cancel: contactURL(wc.ws.ID, c.ID),
	})
}

func (s *Server) eraseContact(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := wc.svc.EraseContact(r.Context(), s.actor(r), mux.Vars(r)["contact"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The contact was erased.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "contacts"), http.StatusSeeOther)
}

// contactSubjectAccess downloads everything held about a contact as JSON.
func (s *Server) contactSubjectAccess(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	sa, err := store.ContactSubjectAccess(r.Context(), wc.lease.DB, mux.Vars(r)["contact"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	download(w, "", "contact-"+sa.Contact.ID+".json")
	writeJSON(w, http.StatusOK, sa)
}

// apiEraseContact is POST /api/v1/contacts/{id}/erase.
func (s *Server) apiEraseContact(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	if err == nil {
		c := callerFrom(r)
		err = c.svc.EraseContact(r.Context(), c.actor, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiContactSubjectAccess is GET /api/v1/contacts/{id}/export.
func (s *Server) apiContactSubjectAccess(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var sa *store.SubjectAccess
	if err == nil {
		sa, err = store.ContactSubjectAccess(r.Context(), callerFrom(r).db(), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sa)
}
