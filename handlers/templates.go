package handlers

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/outreach/mailmerge"
	"atrium/store"
)

// Pages of outreach templates: a list, a form to write one, and a page
// that shows one rendered for a contact of the workspace.

// templateURL is the page of a template, or one of its sub-pages.
func templateURL(workspaceID, id string, parts ...string) string {
	return workspaceURL(workspaceID, append([]string{"templates", id}, parts...)...)
}

// templatesPage is the list of templates.
type templatesPage struct {
	Templates []store.Template
	Next      string
	Cursor    string
	Total     int
}

func (s *Server) templateList(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	cursor := r.URL.Query().Get("cursor")
	list, next, err := store.ListTemplates(r.Context(), wc.lease.DB, store.TemplateFilter{Cursor: cursor})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	total, err := store.CountTemplates(r.Context(), wc.lease.DB)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Templates")
	v.Section = "templates"
	v.Page = templatesPage{Templates: list, Next: next, Cursor: cursor, Total: total}
	s.render(w, r, http.StatusOK, "templates", v)
}

// templateFormPage is the new and edit form of a template, and the
// preview of what is in it.
type templateFormPage struct {
	Template *store.Template // nil when new
	Fields   []string        // the merge fields this workspace's templates may use
	Draft    *draftPreview   // after "Preview"
}

// draftPreview is the form's text rendered for a contact, or why it
// cannot be.
type draftPreview struct {
	Contact *store.Contact // nil when the workspace has no contact
	Message *mailmerge.Message
	HTML    template.HTML // Message.HTML, sanitised by mailmerge
	Error   string
}

func (s *Server) newTemplate(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("body", "<p>Hi {{first_name | \"there\"}},</p>\n\n<p></p>\n")
	f.Values.Set("contact", r.URL.Query().Get("contact"))
	s.renderTemplateForm(w, r, http.StatusOK, nil, f)
}

func (s *Server) editTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := store.GetTemplate(r.Context(), workspaceFrom(r).lease.DB, mux.Vars(r)["template"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("name", t.Name)
	f.Values.Set("subject", t.Subject)
	f.Values.Set("body", t.Body)
	f.Values.Set("version", strconv.Itoa(t.Version))
	f.Values.Set("contact", r.URL.Query().Get("contact")) // whom the page previewed for
	s.renderTemplateForm(w, r, http.StatusOK, t, f)
}

func (s *Server) renderTemplateForm(w http.ResponseWriter, r *http.Request, status int, t *store.Template, f *form) {
	s.renderTemplateFormPreview(w, r, status, t, f, nil)
}

func (s *Server) renderTemplateFormPreview(w http.ResponseWriter, r *http.Request, status int, t *store.Template, f *form, d *draftPreview) {
	known, err := store.MergeFields(r.Context(), workspaceFrom(r).lease.DB)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	title := "New template"
	if t != nil {
		title = "Edit " + t.Name
	}
	v := s.newView(r, title)
	v.Section = "templates"
	v.Form = f
	v.Page = templateFormPage{Template: t, Fields: mergeFieldNames(known), Draft: d}
	s.render(w, r, status, "template_form", v)
}

// mergeFieldNames lists the fields a template may use, as written.
func mergeFieldNames(k mailmerge.Known) []string {
	names := append([]string{}, mailmerge.Fields...)
	for _, key := range k.Custom {
		names = append(names, "custom."+key)
	}
	return names
}

// templateInput reads the template form. The body is taken as typed (not
// trimmed), so the line and column of a mistake match what is shown.
func templateInput(f *form) (store.TemplateInput, error) {
	name, subject, body := f.Get("name"), f.Get("subject"), f.Values.Get("body")
	in := store.TemplateInput{Name: &name, Subject: &subject, Body: &body}
	if v := f.Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return in, store.Errorf(store.EInvalid, "The form's version is not a number; open the template again.")
		}
		in.Version = &n
	}
	return in, nil
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	in, err := templateInput(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := store.CreateTemplate(r.Context(), wc.lease.DB, s.actor(r), in)
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderTemplateForm(w, r, status, nil, f) })
		return
	}
	s.flash(w, r, "success", "The template "+t.Name+" was saved.")
	http.Redirect(w, r, templateURL(wc.ws.ID, t.ID), http.StatusSeeOther)
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	current, err := store.GetTemplate(r.Context(), wc.lease.DB, mux.Vars(r)["template"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	in, err := templateInput(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := store.UpdateTemplate(r.Context(), wc.lease.DB, s.actor(r), current.ID, in); err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderTemplateForm(w, r, status, current, f) })
		return
	}
	s.flash(w, r, "success", "Saved.")
	http.Redirect(w, r, templateURL(wc.ws.ID, current.ID), http.StatusSeeOther)
}

// previewDraft renders the form's subject and body, not saved, for the
// newest contact (or the form's contact), below the form; a mistake shows
// on its field and in the preview. It answers 200 either way (the preview
// is what was asked for), so htmx, which swaps in only the preview, shows
// the mistake too. The form's template_id says which template is being
// edited, so the form keeps posting to it.
func (s *Server) previewDraft(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	f := newForm(r.PostForm)
	var current *store.Template
	if id := f.Get("template_id"); id != "" {
		var err error
		if current, err = store.GetTemplate(ctx, wc.lease.DB, id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d := &draftPreview{}
	contactID := f.Get("contact")
	if contactID == "" {
		newest, _, err := store.ListContacts(ctx, wc.lease.DB, store.ContactFilter{Limit: 1})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if len(newest) == 0 {
			s.renderTemplateFormPreview(w, r, http.StatusOK, current, f, d)
			return
		}
		contactID = newest[0].ID
	}
	c, err := store.GetContact(ctx, wc.lease.DB, contactID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Contact = c
	d.Message, err = store.RenderDraft(ctx, wc.lease.DB, f.Get("subject"), f.Values.Get("body"), c.ID)
	switch code := store.ErrorCode(err); {
	case err == nil:
		d.HTML = template.HTML(d.Message.HTML)
	case code == store.EValidation:
		d.Error = store.ErrorMessage(err)
		f.Fail(store.ErrorField(err), d.Error)
	default:
		s.fail(w, r, err)
		return
	}
	s.renderTemplateFormPreview(w, r, http.StatusOK, current, f, d)
}

// templatePage is one template, rendered for a contact of the workspace.
type templatePage struct {
	Template *store.Template
	Fields   []string // the fields it uses
	Query    string   // the contact search
	Matches  []store.Contact
	Contact  *store.Contact // whom the preview is for; nil when the workspace has no contact
	Preview  *mailmerge.Message
	HTML     template.HTML // Preview.HTML, sanitised by mailmerge when rendered
}

// maxContactMatches bounds the contact search of the preview.
const maxContactMatches = 10

// templateShow shows a template and its preview for ?contact= (by
// default the newest contact); ?q= searches contacts to pick another.
func (s *Server) templateShow(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	db := wc.lease.DB
	t, err := store.GetTemplate(ctx, db, mux.Vars(r)["template"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := templatePage{Template: t, Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	if p.Query != "" {
		p.Matches, _, err = store.ListContacts(ctx, db, store.ContactFilter{Query: p.Query, Limit: maxContactMatches})
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	contactID := r.URL.Query().Get("contact")
	if contactID == "" {
		newest, _, err := store.ListContacts(ctx, db, store.ContactFilter{Limit: 1})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if len(newest) > 0 {
			contactID = newest[0].ID
		}
	}
	if contactID != "" {
		// A contact of another workspace is not in this file: 404.
		if p.Contact, err = store.GetContact(ctx, db, contactID); err == nil {
			p.Preview, err = store.RenderTemplate(ctx, db, t.ID, contactID)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p.HTML = template.HTML(p.Preview.HTML)
	}
	if e, err := mailmerge.Parse(t.Subject, t.Body, mailmerge.Known{AnyCustom: true}); err == nil {
		p.Fields = e.Fields()
	}
	v := s.newView(r, t.Name)
	v.Section = "templates"
	v.Page = p
	s.render(w, r, http.StatusOK, "template", v)
}

func (s *Server) confirmDeleteTemplate(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	t, err := store.GetTemplate(r.Context(), wc.lease.DB, mux.Vars(r)["template"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderConfirm(w, r, confirmPage{
		Question: "Delete the template " + t.Name + "?",
		Detail:   "This cannot be undone.",
		Action:   templateURL(wc.ws.ID, t.ID, "delete"),
		Button:   "Delete template",
		Cancel:   templateURL(wc.ws.ID, t.ID),
	})
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.DeleteTemplate(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["template"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The template was deleted.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "templates"), http.StatusSeeOther)
}
