package handlers

import (
	"strings"

	"net/http"

	"github.com/gorilla/mux"

	"atrium/store"
)

// membersPage lists a workspace's members and pending invitations.
type membersPage struct {
	Members     []store.Member
	Invitations []store.Invitation
	NewLink     string // an invitation link just made, shown once to copy
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	s.renderMembers(w, r, http.StatusOK, nil, "")
}

func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, status int, f *form, link string) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	members, err := wc.svc.Members(ctx)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var invs []store.Invitation
	if store.RoleRank(wc.role) >= store.RoleRank("admin") {
		if invs, err = store.PendingInvitations(ctx, s.catalog.R, wc.ws.ID); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	v := s.newView(r, "Members")
	v.Section = "members"
	if f != nil {
		v.Form = f
	}
	v.Page = membersPage{Members: members, Invitations: invs, NewLink: link}
	s.render(w, r, status, "members", v)
}

// invite makes an invitation link and shows it to copy; email delivery
// comes with outreach.
func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	token, err := s.tenants.Invite(r.Context(), wc.ws.ID, f.Get("role"), f.Get("email"), "user:"+authFrom(r).user.ID)
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderMembers(w, r, status, f, "") })
		return
	}
	s.renderMembers(w, r, http.StatusCreated, nil, s.baseURL(r)+"/invite/"+token)
}

func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if s.isHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) changeRole(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	userID, role := mux.Vars(r)["user"], r.PostForm.Get("role")
	if role == "owner" && wc.role != "owner" {
		s.renderError(w, r, http.StatusForbidden, "Only an owner can make someone owner.")
		return
	}
	if !s.canManage(w, r, userID) {
		return
	}
	if err := store.SetMemberRole(r.Context(), s.catalog, wc.ws.ID, userID, role); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The role was changed.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "members"), http.StatusSeeOther)
}

// canManage refuses an admin changing an owner; owners may change anyone.
func (s *Server) canManage(w http.ResponseWriter, r *http.Request, userID string) bool {
	wc := workspaceFrom(r)
	target, err := store.MemberRole(r.Context(), s.catalog.R, userID, wc.ws.ID)
	if err != nil {
		s.notFound(w, r)
		return false
	}
	if target == "owner" && wc.role != "owner" {
		s.renderError(w, r, http.StatusForbidden, "Only an owner can change or remove another owner.")
		return false
	}
	return true
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	userID := mux.Vars(r)["user"]
	if !s.canManage(w, r, userID) {
		return
	}
	if err := store.RemoveMember(r.Context(), s.catalog, wc.ws.ID, userID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The member was removed from this workspace.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "members"), http.StatusSeeOther)
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.RevokeInvitation(r.Context(), s.catalog, wc.ws.ID, mux.Vars(r)["invitation"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The invitation was revoked; its link no longer works.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "members"), http.StatusSeeOther)
}

// invitationPage shows an invitation to its recipient.
type invitationPage struct {
	Invitation *store.Invitation
	Token      string
}

func (s *Server) invitation(w http.ResponseWriter, r *http.Request) {
	token := mux.Vars(r)["token"]
	inv, err := store.InvitationByToken(r.Context(), s.catalog.R, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderInvitation(w, r, http.StatusOK, inv, token, nil)
}

func (s *Server) renderInvitation(w http.ResponseWriter, r *http.Request, status int, inv *store.Invitation, token string, f *form) {
	v := s.newView(r, "Join "+inv.WorkspaceName)
	if f != nil {
		v.Form = f
	} else {
		v.Form.Values.Set("email", inv.Email)
	}
	v.Page = invitationPage{Invitation: inv, Token: token}
	s.render(w, r, status, "invitation", v)
}

// acceptInvitation joins the signed-in user, or creates an account for a new
// one and signs them in, then opens the workspace.
func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := mux.Vars(r)["token"]
	inv, err := store.InvitationByToken(ctx, s.catalog.R, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	user := authFrom(r).user
	if user == nil {
		f := newForm(r.PostForm)
		if inv.Email != "" && !equalFoldTrim(f.Get("email"), inv.Email) {
			f.Fail("email", "This invitation is for "+inv.Email+".")
			s.renderInvitation(w, r, http.StatusUnprocessableEntity, inv, token, f)
			return
		}
		// An invitation addressed to this address proves it: an account
		// that only claimed the address (through an open link) gives it up.
		// An open link proves nothing, so its account stays unverified.
		addressed := inv.Email != ""
		if addressed {
			if _, err := store.ClaimAddress(ctx, s.catalog, inv.Email); err != nil {
				s.serverError(w, r, err)
				return
			}
		}
		user, err = store.CreateUser(ctx, s.catalog, store.NewUser{Email: f.Get("email"), Name: f.Get("name"), Password: f.Values.Get("password"), Verified: addressed})
		if err != nil {
			if store.ErrorCode(err) == store.EConflict {
				err = &store.Error{Code: store.EConflict, Field: "email", Message: "An account with this email exists; sign in first, then open the link again."}
			}
			s.failForm(w, r, f, err, func(status int) { s.renderInvitation(w, r, status, inv, token, f) })
			return
		}
		if err := s.signIn(w, r, user); err != nil {
			s.serverError(w, r, err)
			return
		}
	} else if inv.Email != "" && !equalFoldTrim(user.Email, inv.Email) {
		s.renderError(w, r, http.StatusForbidden, "This invitation is for "+inv.Email+", and you are signed in as "+user.Email+".")
		return
	}
	if _, err := store.AcceptInvitation(ctx, s.catalog, token, user.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "You have joined "+inv.WorkspaceName+" as "+inv.Role+".")
	http.Redirect(w, r, workspaceURL(inv.WorkspaceID), http.StatusSeeOther)
}

func equalFoldTrim(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
