package handlers

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// homePage is the workspace picker, with the owner's workspaces waiting
// in the trash.
type homePage struct {
	Regions []string
	Trashed []store.TrashedWorkspace
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.renderHome(w, r, http.StatusOK, nil)
}

func (s *Server) renderHome(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v := s.newView(r, "Your workspaces")
	if f != nil {
		v.Form = f
	}
	trashed, err := store.OwnedTrashedWorkspaces(r.Context(), s.catalog.R, authFrom(r).user.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.Page = homePage{Regions: s.tenants.Config().RegionNames(), Trashed: trashed}
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
		s.failForm(w, r, f, err, func(status int) { s.renderHome(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", "Workspace "+ws.Name+" is ready.")
	http.Redirect(w, r, workspaceURL(ws.ID), http.StatusSeeOther)
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
	http.Redirect(w, r, workspaceURL(id), http.StatusSeeOther)
}

// workspacePage is the overview of one workspace.
type workspacePage struct {
	Members   []store.Member
	Dashboard *dashboard
}

func (s *Server) workspaceHome(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	members, err := wc.svc.Members(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	dash, err := s.readDashboard(r, members)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, wc.ws.Name)
	v.Section = "overview"
	v.Page = workspacePage{Members: members, Dashboard: dash}
	s.render(w, r, http.StatusOK, "workspace", v)
}

// settingsPage is a workspace's settings.
type settingsPage struct {
	SizeBytes int64
	// WindowRead says the restorable span was read: it takes several LIST
	// calls per replica generation, so the page asks for it after loading
	// (?window=1, swapped in by htmx), or when a restore form comes back.
	WindowRead bool
	Window     *tenant.Window // the restorable span, when the replica has one
	WindowErr  string
	Retention  store.Retention
	Backup     *tenant.BackupStatus
	Plan       *tenant.Plan
	Quotas     []tenant.QuotaUse
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
	page := settingsPage{SizeBytes: s.tenants.Size(wc.ws)}
	var err error
	if page.Retention, err = store.GetRetention(r.Context(), wc.lease.DB); err != nil {
		s.serverError(w, r, err)
		return
	}
	if page.Plan, page.Quotas, err = wc.svc.QuotaUses(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	if store.RoleRank(wc.role) >= store.RoleRank("admin") {
		if st, err := s.tenants.WorkspaceBackupStatus(r.Context(), wc.ws.ID); err == nil {
			page.Backup = &st
		}
	}
	if !v.Form.Values.Has("list_export") {
		if err := s.listExportValue(r, v.Form); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	if f == nil {
		v.Form.Values.Set("audit_days", strconv.Itoa(page.Retention.AuditDays))
		v.Form.Values.Set("activity_days", strconv.Itoa(page.Retention.ActivityDays))
	}
	if wc.role == "owner" && (f != nil || r.URL.Query().Get("window") != "") {
		page.WindowRead = true
		win, err := s.tenants.RestoreWindow(r.Context(), wc.ws.ID)
		switch {
		case err == nil:
			page.Window = &win
		case store.ErrorCode(err) != store.ENotFound: // none yet: the page says so
			page.WindowErr = store.ErrorMessage(err)
		}
	}
	v.Page = page
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
		s.failForm(w, r, f, err, func(status int) { s.renderSettings(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", "The workspace is now called "+name+".")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings"), http.StatusSeeOther)
}

// deleteWorkspace moves the workspace to the trash once the owner has typed
// its name; it is deleted for good when the grace period ends, and until
// then an owner can restore it from the workspace list.
func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ws := wc.ws
	f := newForm(r.PostForm)
	if f.Get("confirm") != ws.Name {
		f.Fail("confirm", "Type the workspace name exactly, "+ws.Name+", to delete it.")
		s.renderSettings(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	// Trashing waits for every lease to end, this request's included.
	wc.lease.Release()
	trashed, err := s.tenants.Trash(r.Context(), ws.ID, "user:"+authFrom(r).user.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "Workspace "+ws.Name+" is in the trash. It will be deleted for good on "+
		clockOf(authFrom(r).user).DateTime(trashed.PurgeAt.Time)+"; until then, its owners can restore it below.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// untrashWorkspace restores a workspace from the trash: its owners and
// superadmins may.
func (s *Server) untrashWorkspace(w http.ResponseWriter, r *http.Request) {
	u := authFrom(r).user
	id, err := tenant.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.notFound(w, r)
		return
	}
	if owner, err := store.IsOwner(r.Context(), s.catalog.R, u.ID, id); err != nil || (!owner && !u.Superadmin) {
		s.notFound(w, r)
		return
	}
	if err := s.tenants.Untrash(r.Context(), id, "user:"+u.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The workspace is back.")
	back := "/"
	if r.PostForm.Get("from") == "admin" && u.Superadmin {
		back = "/admin"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// setRetention changes how long the workspace keeps its history.
func (s *Server) setRetention(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	days := func(name string) int {
		n, err := strconv.Atoi(f.Get(name))
		if err != nil {
			return -1 // refused with a clear message
		}
		return n
	}
	err := wc.svc.SetRetention(r.Context(), s.actor(r), store.Retention{AuditDays: days("audit_days"), ActivityDays: days("activity_days")})
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderSettings(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", "The retention policy was saved; it is applied within a few hours.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings"), http.StatusSeeOther)
}

// importWorkspace makes a workspace from an uploaded export archive or .db
// file; the signed-in user owns it.
func (s *Server) importWorkspace(w http.ResponseWriter, r *http.Request) {
	u := authFrom(r).user
	f := newForm(r.PostForm)
	fail := func(status int, msg string) {
		f.Fail("archive", msg)
		s.renderHome(w, r, status, f)
	}
	file, fh, err := r.FormFile("archive")
	if err != nil {
		fail(http.StatusUnprocessableEntity, "Choose an export archive (.zip) or a workspace file (.db).")
		return
	}
	defer file.Close()
	// The upload keeps its file's name: a bare .db imported without a name
	// is named after it.
	dir, err := os.MkdirTemp(s.tenants.DataDir(), ".upload-")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer os.RemoveAll(dir)
	upload, err := os.Create(filepath.Join(dir, uploadName(fh.Filename)))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	_, err = io.Copy(upload, file)
	if cerr := upload.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	ws, err := s.tenants.Import(r.Context(), upload.Name(), tenant.CreateOptions{
		Name: f.Get("name"), Region: f.Get("region"), OwnerEmail: u.Email, Actor: "user:" + u.ID,
		Passphrase: f.Get("passphrase"),
	})
	if err != nil {
		if store.ErrorCode(err) == store.EInternal {
			s.serverError(w, r, err)
			return
		}
		fail(statusOf(store.ErrorCode(err)), store.ErrorMessage(err))
		return
	}
	s.flash(w, r, "success", "Workspace "+ws.Name+" was imported.")
	http.Redirect(w, r, workspaceURL(ws.ID), http.StatusSeeOther)
}

// uploadName is a safe local name for an uploaded file: the base of the
// name the browser sent, without separators or a leading dot.
func uploadName(sent string) string {
	name := strings.TrimLeft(filepath.Base(strings.ReplaceAll(sent, "\\", "/")), ".")
	if name == "" || name == "/" {
		return "upload"
	}
	if r := []rune(name); len(r) > 100 {
		name = string(r[len(r)-100:]) // keep the extension
	}
	return name
}
