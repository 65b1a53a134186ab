package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"atrium/store"
	"atrium/tenant"
)

// templatesAPI is /api/v1/templates. A template concerns only the
// workspace file (its fields are checked against the file's custom
// fields), so the service hands the file to the store.
var templatesAPI = resource[store.Template, store.TemplateInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Template, string, error) {
		return store.ListTemplates(ctx, db, store.TemplateFilter{Cursor: p.cursor, Limit: p.limit})
	},
	create: func(svc *tenant.Service, ctx context.Context, a store.Actor, in store.TemplateInput) (*store.Template, error) {
		return store.CreateTemplate(ctx, svc.DB(), a, in)
	},
	get: store.GetTemplate,
	update: func(svc *tenant.Service, ctx context.Context, a store.Actor, id string, in store.TemplateInput) (*store.Template, error) {
		return store.UpdateTemplate(ctx, svc.DB(), a, id, in)
	},
	delete: store.DeleteTemplate,
}

// previewInput is the body of POST /api/v1/templates/{id}/preview.
type previewInput struct {
	ContactID string `json:"contact_id"`
}

// apiPreviewTemplate renders a template for a contact of the key's
// workspace: {"subject","html","text"}. Either id from another workspace
// is not found. It changes nothing, but is a POST (as the API documents),
// so it takes a write key like every POST.
func (s *Server) apiPreviewTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var in previewInput
	if err == nil {
		err = decodeJSON(w, r, &in)
	}
	if err == nil && strings.TrimSpace(in.ContactID) == "" {
		err = store.FieldError("contact_id", "contact_id is required: the contact to render the template for.")
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	m, err := store.RenderTemplate(r.Context(), callerFrom(r).db(), id, strings.TrimSpace(in.ContactID))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
