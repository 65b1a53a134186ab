package handlers

import (
	"context"
	"net/http"
	"net/url"

	"atrium/store"
	"atrium/tenant"
)

var dealsAPI = resource[store.Deal, store.DealInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Deal, string, error) {
		return store.ListDeals(ctx, db, store.DealFilter{Query: q.Get("q"), PipelineID: q.Get("pipeline_id"), StageID: q.Get("stage_id"),
			Status: q.Get("status"), OwnerID: q.Get("owner_id"), ContactID: q.Get("contact_id"), CompanyID: q.Get("company_id"),
			CloseFrom: q.Get("close_from"), CloseTo: q.Get("close_to"), Cursor: p.cursor, Limit: p.limit})
	},
	create:  (*tenant.Service).CreateDeal,
	get:     store.GetDeal,
	update:  (*tenant.Service).UpdateDeal,
	delete:  store.DeleteDeal,
	version: func(d *store.Deal) int64 { return d.Version },
}

// pipelineInput is a pipeline's create or patch body; stages are managed in
// the UI, and every pipeline starts with the default ones.
type pipelineInput struct {
	Name *string `json:"name"`
}

var pipelinesAPI = resource[store.Pipeline, pipelineInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Pipeline, string, error) {
		ps, err := store.Pipelines(ctx, db)
		return ps, "", err // a workspace has a handful: one page
	},
	create: func(svc *tenant.Service, ctx context.Context, a store.Actor, in pipelineInput) (*store.Pipeline, error) {
		return store.CreatePipeline(ctx, svc.DB(), a, deref(in.Name))
	},
	get: store.GetPipeline,
	update: func(svc *tenant.Service, ctx context.Context, a store.Actor, id string, in pipelineInput) (*store.Pipeline, error) {
		if in.Name != nil {
			if err := store.RenamePipeline(ctx, svc.DB(), a, id, *in.Name); err != nil {
				return nil, err
			}
		}
		return store.GetPipeline(ctx, svc.DB(), id)
	},
	delete: store.DeletePipeline,
}

// apiExport streams the workspace export archive of the key's workspace.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	ws, err := s.tenants.Workspace(r.Context(), c.lease.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.streamExport(w, r, ws, c.lease, c.actor, s.apiFail)
}
