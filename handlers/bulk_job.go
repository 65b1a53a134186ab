package handlers

import (
	"cmp"
	"net/http"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// bulkJobPage is a bulk action on the contacts a filter matched, run as a
// job: its progress, polled every second, then what it did.
type bulkJobPage struct {
	Poll    jobProgress
	Done    bool
	Failed  string // why it stopped, once done
	Summary string // what it did, once done
	Back    string // the list with the filters it was started from
}

// bulkJob shows a bulk job of the workspace; another workspace's, or a job
// of another kind, is not found.
func (s *Server) bulkJob(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["job"]
	job, err := s.tenants.Job(r.Context(), wc.ws.ID, id)
	if err == nil && job.Kind != tenant.JobBulkContacts {
		err = store.Errorf(store.ENotFound, "That job does not exist.")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	backQuery := r.URL.Query().Get("back")
	done, total := job.Progress, max(job.Total, job.Progress)
	page := bulkJobPage{Done: job.Finished(), Back: contactsBack(wc.ws.ID, backQuery)}
	n, _ := countOf(total, "contact", "contacts")
	page.Poll = jobProgress{ID: "bulk-progress", URL: bulkJobURL(wc.ws.ID, id, backQuery), Done: page.Done,
		Title: "Changing " + n + "…", Label: store.GroupThousands(done) + " of " + n + " done", Percent: jobPercent(done, total)}
	if page.Done {
		page.Summary, page.Failed, err = s.bulkJobResult(r, job)
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	v := s.newView(r, "Bulk change of contacts")
	v.Section = "contacts"
	v.Page = page
	s.render(w, r, http.StatusOK, "bulk_job", v)
}

// bulkJobResult says what a finished bulk job did, from its report in the
// workspace's file, or why it stopped.
func (s *Server) bulkJobResult(r *http.Request, job *store.Job) (summary, failed string, err error) {
	var rep tenant.BulkContactsReport
	err = store.JobReport(r.Context(), workspaceFrom(r).lease.DB, job.ID, &rep)
	switch {
	case store.ErrorCode(err) == store.ENotFound:
		// No report (kept 30 days, or the job was cut short before it
		// could keep one): the job's own record says what it can.
		if job.State != store.JobDone {
			return bulkStoppedNote, bulkFailure(job, ""), nil
		}
		return "The change is done.", "", nil
	case err != nil:
		return "", "", err
	}
	act := rep.Action
	summary = bulkSummary(act.Kind, s.bulkValueLabel(r, act.Kind, act.Value), rep.Result.Changed, rep.Result.Matched)
	if rep.Error != "" || job.State != store.JobDone {
		failed = bulkFailure(job, rep.Error)
		if rep.Result.Matched == 0 {
			summary = ""
		} else {
			summary = "Before it stopped: " + summary + " " + bulkStoppedNote
		}
	}
	return summary, failed, nil
}

// bulkStoppedNote says what a bulk job that stopped left: whole batches.
const bulkStoppedNote = "Contacts changed before it stopped stay changed (a batch is changed whole or not at all); apply the action again to change the rest."

// bulkFailure is why a bulk job stopped. The runner's word for a job a
// restart cut short speaks of a job that keeps nothing, which a bulk job's
// finished batches are not.
func bulkFailure(job *store.Job, reported string) string {
	if job.State == store.JobInterrupted {
		return "The server stopped before this change finished."
	}
	return cmp.Or(reported, job.Error)
}
