package handlers

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"atrium/store"
)

// taskParentURL is the page a task is shown on.
func taskParentURL(workspaceID string, t *store.Task) string {
	return recordURL(workspaceID, t.ContactID, t.CompanyID, t.DealID)
}

// createTask adds a task to a contact, company or deal and goes back to it.
func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	contactID, companyID, dealID := f.Get("contact_id"), f.Get("company_id"), f.Get("deal_id")
	title, due, assignee := f.Get("title"), f.Get("due_date"), f.Get("assignee_id")
	back := recordURL(wc.ws.ID, contactID, companyID, dealID)
	_, err := wc.svc.CreateTask(r.Context(), s.actor(r), store.TaskInput{
		ContactID: &contactID, CompanyID: &companyID, DealID: &dealID, Title: &title, DueDate: &due, AssigneeID: &assignee,
	})
	switch field := store.ErrorField(err); {
	case err == nil:
		s.flash(w, r, "success", "Task added.")
		http.Redirect(w, r, back, http.StatusSeeOther)
	case field == "contact_id" || field == "company_id" || field == "deal_id":
		s.notFound(w, r) // a parent of another workspace, or none
	case store.ErrorCode(err) == store.EValidation:
		s.flash(w, r, "error", store.ErrorMessage(err))
		http.Redirect(w, r, back, http.StatusSeeOther)
	default:
		s.fail(w, r, err)
	}
}

// toggleTask marks a task done, or open again. The form says which, so
// two people ticking the same task both leave it done; a form that does
// not say (an older page) turns it over. From the My tasks page
// (return=my-tasks) it answers that page: its row for htmx, else the page.
func (s *Server) toggleTask(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	t, err := store.GetTask(r.Context(), wc.lease.DB, mux.Vars(r)["task"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done := !t.Done
	if v := r.PostForm.Get("done"); v != "" {
		if done, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, store.Errorf(store.EInvalid, "done must be true or false."))
			return
		}
	}
	if _, err := wc.svc.UpdateTask(r.Context(), s.actor(r), t.ID, store.TaskInput{Done: &done}); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.PostForm.Get("return") == "my-tasks" {
		s.myTaskDone(w, r, t.ID, done)
		return
	}
	http.Redirect(w, r, taskParentURL(wc.ws.ID, t), http.StatusSeeOther)
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	t, err := store.GetTask(r.Context(), wc.lease.DB, mux.Vars(r)["task"])
	if err == nil {
		err = store.DeleteTask(r.Context(), wc.lease.DB, s.actor(r), t.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The task was deleted.")
	http.Redirect(w, r, taskParentURL(wc.ws.ID, t), http.StatusSeeOther)
}
