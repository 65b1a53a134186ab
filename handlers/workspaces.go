package handlers

import (
	"net/http"
	"strings"

	"atrium/store"
	"atrium/tenant"
)

// homePage is the workspace picker.
type homePage struct {
	Regions []string
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.renderHome(w, r, http.StatusOK, nil)
}

func (s *Server) renderHome(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v := s.newView(r, "Your workspaces")
	if f != nil {
		v.Form = f
	}
	v.Page = homePage{Regions: s.tenants.Config().RegionNames()}
	s.render(w, r, status, "home", v)
}

// createWorkspace makes a workspace owned by the signed-in user.
func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) {
	u := authFrom(r).user
	f := newForm(r.PostForm)
	ws, err := s.tenants.Create(r.Context(), tenant.CreateOptions{
		Name: f.Get("name"), Region: f.Get("region"), OwnerEmail: u.Email, Actor: "user:" + u.ID,
	})
	if err != nil {
		if store.ErrorCode(err) == store.EInternal {
			s.serverError(w, r, err)
			return
		}
		field := "name"
		if strings.Contains(strings.ToLower(store.ErrorMessage(err)), "region") {
			field = "region"
		}
		f.Fail(field, store.ErrorMessage(err))
		s.renderHome(w, r, statusOf(store.ErrorCode(err)), f)
		return
	}
	s.flash(w, r, "success", "Workspace "+ws.Name+" is ready.")
	http.Redirect(w, r, "/w/"+ws.ID+"/", http.StatusSeeOther)
}

// switchWorkspace moves the session into another workspace: it gets a new
// token, so the old cookie no longer works, and the workspace middleware
// records the sign-in into the new workspace on arrival.
func (s *Server) switchWorkspace(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	id, err := tenant.ParseID(r.PostForm.Get("workspace"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	if _, err := store.MemberRole(r.Context(), s.catalog.R, a.user.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	token, err := store.RotateSession(r.Context(), s.catalog, a.session.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	a.cookie.Values["sid"] = token
	s.saveCookie(w, r, a.cookie)
	http.Redirect(w, r, "/w/"+id+"/", http.StatusSeeOther)
}

// workspacePage is the overview of one workspace.
type workspacePage struct {
	Members []store.Member
}

func (s *Server) workspaceHome(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	members, err := store.WorkspaceMembers(r.Context(), s.catalog.R, wc.ws.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, wc.ws.Name)
	v.Section = "overview"
	v.Page = workspacePage{Members: members}
	s.render(w, r, http.StatusOK, "workspace", v)
}

// settingsPage is a workspace's settings.
type settingsPage struct {
	SizeBytes int64
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, http.StatusOK, nil)
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, f *form) {
	wc := workspaceFrom(r)
	v := s.newView(r, "Settings")
	v.Section = "settings"
	if f != nil {
		v.Form = f
	} else {
		v.Form.Values.Set("name", wc.ws.Name)
	}
	var size int64
	if infos, err := s.tenants.List(r.Context()); err == nil {
		for _, info := range infos {
			if info.ID == wc.ws.ID {
				size = info.SizeBytes
			}
		}
	}
	v.Page = settingsPage{SizeBytes: size}
	s.render(w, r, status, "settings", v)
}

func (s *Server) renameWorkspace(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	name, err := tenant.ValidateName(f.Get("name"))
	if err == nil {
		err = store.RenameWorkspace(r.Context(), s.catalog, wc.ws.ID, name)
	}
	if err != nil {
		if store.ErrorCode(err) == store.EInternal {
			s.serverError(w, r, err)
			return
		}
		f.Fail("name", store.ErrorMessage(err))
		s.renderSettings(w, r, statusOf(store.ErrorCode(err)), f)
		return
	}
	s.flash(w, r, "success", "The workspace is now called "+name+".")
	http.Redirect(w, r, "/w/"+wc.ws.ID+"/settings", http.StatusSeeOther)
}

// deleteWorkspace deletes the workspace once the owner has typed its name.
func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ws := wc.ws
	f := newForm(r.PostForm)
	if f.Get("confirm") != ws.Name {
		f.Fail("confirm", "Type the workspace name exactly, "+ws.Name+", to delete it.")
		s.renderSettings(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	// The deletion waits for every lease to end, this request's included.
	wc.lease.Release()
	if _, err := s.tenants.Delete(r.Context(), ws.ID, "user:"+authFrom(r).user.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "Workspace "+ws.Name+" was deleted.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
