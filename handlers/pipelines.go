package handlers

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"atrium/store"
)

// pipelinesPage edits pipelines and their stages.
type pipelinesPage struct {
	Pipelines []store.Pipeline
}

func (s *Server) pipelines(w http.ResponseWriter, r *http.Request) {
	s.renderPipelines(w, r, http.StatusOK, newForm(nil))
}

func (s *Server) renderPipelines(w http.ResponseWriter, r *http.Request, status int, f *form) {
	ps, err := store.Pipelines(r.Context(), workspaceFrom(r).lease.DB)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Pipelines")
	v.Section = "settings"
	v.Form = f
	v.Page = pipelinesPage{Pipelines: ps}
	s.render(w, r, status, "pipelines", v)
}

// pipelineChange runs one change from the pipelines page and comes back to
// it; a validation error is shown on the page with 422.
func (s *Server) pipelineChange(w http.ResponseWriter, r *http.Request, done string, change func(a store.Actor, db *store.DB) error) {
	wc := workspaceFrom(r)
	err := change(s.actor(r), wc.lease.DB)
	switch code := store.ErrorCode(err); code {
	case "":
		s.flash(w, r, "success", done)
		http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "pipelines"), http.StatusSeeOther)
	case store.EValidation, store.EConflict:
		f := newForm(r.PostForm)
		f.Fail("", store.ErrorMessage(err)) // the page has a form per pipeline and stage: the error is the page's
		s.renderPipelines(w, r, statusOf(code), f)
	default:
		s.fail(w, r, err)
	}
}

func (s *Server) createPipeline(w http.ResponseWriter, r *http.Request) {
	s.pipelineChange(w, r, "Pipeline added.", func(a store.Actor, db *store.DB) error {
		_, err := store.CreatePipeline(r.Context(), db, a, r.PostForm.Get("name"))
		return err
	})
}

func (s *Server) renamePipeline(w http.ResponseWriter, r *http.Request) {
	s.pipelineChange(w, r, "Pipeline renamed.", func(a store.Actor, db *store.DB) error {
		return store.RenamePipeline(r.Context(), db, a, mux.Vars(r)["pipeline"], r.PostForm.Get("name"))
	})
}

func (s *Server) deletePipeline(w http.ResponseWriter, r *http.Request) {
	s.pipelineChange(w, r, "Pipeline deleted.", func(a store.Actor, db *store.DB) error {
		return store.DeletePipeline(r.Context(), db, a, mux.Vars(r)["pipeline"])
	})
}

func stageInput(r *http.Request) store.StageInput {
	p, err := strconv.Atoi(r.PostForm.Get("probability"))
	if err != nil {
		p = -1 // refused by validation with a clear message
	}
	return store.StageInput{Name: r.PostForm.Get("name"), Probability: p}
}

func (s *Server) addStage(w http.ResponseWriter, r *http.Request) {
	s.pipelineChange(w, r, "Stage added.", func(a store.Actor, db *store.DB) error {
		_, err := store.AddStage(r.Context(), db, a, mux.Vars(r)["pipeline"], stageInput(r))
		return err
	})
}

func (s *Server) updateStage(w http.ResponseWriter, r *http.Request) {
	s.pipelineChange(w, r, "Stage saved.", func(a store.Actor, db *store.DB) error {
		return store.UpdateStage(r.Context(), db, a, mux.Vars(r)["stage"], stageInput(r))
	})
}

func (s *Server) moveStage(w http.ResponseWriter, r *http.Request) {
	delta := 1
	if r.PostForm.Get("direction") == "up" {
		delta = -1
	}
	s.pipelineChange(w, r, "Stage moved.", func(a store.Actor, db *store.DB) error {
		return store.MoveStage(r.Context(), db, a, mux.Vars(r)["stage"], delta)
	})
}

func (s *Server) deleteStage(w http.ResponseWriter, r *http.Request) {
	s.pipelineChange(w, r, "Stage deleted.", func(a store.Actor, db *store.DB) error {
		return store.DeleteStage(r.Context(), db, a, mux.Vars(r)["stage"], r.PostForm.Get("move_to"))
	})
}
