package tenant

import (
	"context"
	"testing"

	"atrium/store"
)

// mustService opens a Manager with workspace A, owned by owner@example.com
// and with member@example.com as a viewer, and workspace B owned by
// other@example.com; it returns A's service and the three users.
func mustService(t *testing.T) (svc *Service, owner, member, other *store.User) {
	t.Helper()
	m := MustOpenManager(t, 0)
	ctx := t.Context()
	user := func(email string) *store.User {
		u, err := store.CreateUser(ctx, m.Catalog(), store.NewUser{Email: email, Password: "correct horse battery", Verified: true})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	owner, member, other = user("owner@example.com"), user("member@example.com"), user("other@example.com")
	a, err := m.Create(ctx, CreateOptions{Name: "A", OwnerEmail: owner.Email})
	if err == nil {
		_, err = m.Create(ctx, CreateOptions{Name: "B", OwnerEmail: other.Email})
	}
	if err == nil {
		err = store.AddMember(ctx, m.Catalog().W, member.ID, a.ID, "viewer")
	}
	if err != nil {
		t.Fatal(err)
	}
	lease, err := m.Acquire(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lease.Release)
	return m.Service(lease), owner, member, other
}

func TestService_MemberRule(t *testing.T) {
	svc, owner, member, other := mustService(t)
	ctx := t.Context()
	a := store.Actor{Kind: "user", ID: owner.ID}
	name := "Ana"
	parent, err := svc.CreateContact(ctx, a, store.ContactInput{FirstName: &name})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		ok       bool
	}{
		{"the owner of another workspace", other.ID, false},
		{"nobody at all", "nobody-at-all", false},
		{"empty", "", true},
		{"a viewer (who cannot act on records)", member.ID, false},
		{"a member, with spaces the store trims", " " + owner.ID + " ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.CreateContact(ctx, a, store.ContactInput{FirstName: &name, OwnerID: &tc.id})
			wantMemberRule(t, "contact owner", err, "owner_id", tc.ok)
			_, err = svc.CreateTask(ctx, a, store.TaskInput{ContactID: &parent.ID, Title: &name, AssigneeID: &tc.id})
			wantMemberRule(t, "task assignee", err, "assignee_id", tc.ok)
		})
	}
}

// wantMemberRule checks err is nil when ok, else a validation error on field.
func wantMemberRule(t *testing.T, what string, err error, field string, ok bool) {
	t.Helper()
	if ok && err != nil {
		t.Fatalf("%s: %v, want no error", what, err)
	}
	if !ok && (store.ErrorCode(err) != store.EValidation || store.ErrorField(err) != field) {
		t.Fatalf("%s: %v (code %q, field %q), want a validation error on %s", what, err, store.ErrorCode(err), store.ErrorField(err), field)
	}
}

func TestService_Members(t *testing.T) {
	svc, owner, member, _ := mustService(t)
	ms, err := svc.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].UserID != owner.ID || ms[1].UserID != member.ID {
		t.Fatalf("members %+v, want the owner then the viewer", ms)
	}
}

func TestService_NoteSignIn(t *testing.T) {
	svc, owner, _, _ := mustService(t)
	ctx := t.Context()
	token, err := store.CreateSession(ctx, svc.m.Catalog(), owner.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	session, err := store.SessionByToken(ctx, svc.m.Catalog().R, token)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: owner.ID}
	for range 2 {
		if err := svc.NoteSignIn(ctx, a, session); err != nil {
			t.Fatal(err)
		}
	}
	if stored, _ := store.SessionByToken(ctx, svc.m.Catalog().R, token); stored.WorkspaceID != svc.lease.ID {
		t.Errorf("the session's workspace is %q, want this one", stored.WorkspaceID)
	}
	if n := signIns(t, ctx, svc); n != 1 {
		t.Errorf("%d sign-in events after two requests of one session, want 1", n)
	}
}

func signIns(t *testing.T, ctx context.Context, svc *Service) int {
	t.Helper()
	events, _, err := store.ListAudit(ctx, svc.DB(), store.AuditFilter{Action: "member.sign_in", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}
