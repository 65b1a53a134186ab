package handlers

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"atrium/store"
)

// createNote adds a note to a contact, company or deal and goes back to it.
func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	in := store.NoteInput{ContactID: r.PostForm.Get("contact_id"), CompanyID: r.PostForm.Get("company_id"),
		DealID: r.PostForm.Get("deal_id"), Body: r.PostForm.Get("body")}
	_, err := wc.svc.CreateNote(r.Context(), s.actor(r), in)
	back := recordURL(wc.ws.ID, in.ContactID, in.CompanyID, in.DealID)
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

// recordURL is the page of the record a note or task is on.
func recordURL(workspaceID, contactID, companyID, dealID string) string {
	switch {
	case dealID != "":
		return dealURL(workspaceID, dealID)
	case companyID != "":
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
	http.Redirect(w, r, recordURL(wc.ws.ID, n.ContactID, n.CompanyID, n.DealID), http.StatusSeeOther)
}

// updateNote saves a note's new text. Only its author or an admin may; the
// form sends the version it showed, so an edit made meanwhile is not
// overwritten unseen.
func (s *Server) updateNote(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	n, err := store.GetNote(r.Context(), wc.lease.DB, mux.Vars(r)["note"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !store.MayEditNote(n, s.actor(r), wc.role) {
		s.renderError(w, r, http.StatusForbidden, "Only the note's author or an admin can edit it.")
		return
	}
	var expect store.Expect
	if v := r.PostForm.Get("version"); v != "" {
		version, err := strconv.ParseInt(v, 10, 64)
		if err != nil || version < 1 {
			s.fail(w, r, store.Errorf(store.EInvalid, "The note's version must be a whole number from 1."))
			return
		}
		expect.Version = &version
	}
	body := r.PostForm.Get("body")
	_, err = wc.svc.UpdateNote(r.Context(), s.actor(r), n.ID, body, expect)
	back := recordURL(wc.ws.ID, n.ContactID, n.CompanyID, n.DealID)
	switch {
	case err == nil:
		s.flash(w, r, "success", "Note saved.")
	case store.ErrorField(err) == "body":
		s.flash(w, r, "error", store.ErrorMessage(err))
	case store.ErrorCode(err) == store.EConflict:
		s.flash(w, r, "error", "Someone changed this note while you were editing it, so your text was not saved. What you wrote: "+shorten(body, 500))
	default:
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// shorten cuts s to at most n characters, marking the cut.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
