package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// RoleRank orders roles: a higher rank can do everything a lower one can.
func RoleRank(role string) int {
	switch role {
	case "owner":
		return 4
	case "admin":
		return 3
	case "member":
		return 2
	case "viewer":
		return 1
	}
	return 0
}

// MemberWorkspace is a workspace seen by one of its members.
type MemberWorkspace struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	Region    string    `db:"region"`
	Role      string    `db:"role"`
	CreatedAt time.Time `db:"created_at"`
}

// UserWorkspaces returns the active workspaces a user belongs to, by name.
func UserWorkspaces(ctx context.Context, q sqlx.QueryerContext, userID string) ([]MemberWorkspace, error) {
	var ws []MemberWorkspace
	err := sqlx.SelectContext(ctx, q, &ws, `SELECT w.id, w.name, w.region, m.role, w.created_at
		FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND w.state = 'active' ORDER BY w.name COLLATE NOCASE, w.id`, userID)
	return ws, err
}

// SwitcherWorkspaces returns, by name, the first limit of a user's active
// workspaces whose name holds query in any case (every one when query is
// empty), and whether more match.
func SwitcherWorkspaces(ctx context.Context, q sqlx.QueryerContext, userID, query string, limit int) ([]MemberWorkspace, bool, error) {
	var ws []MemberWorkspace
	err := sqlx.SelectContext(ctx, q, &ws, `SELECT w.id, w.name, w.region, m.role, w.created_at
		FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ?1 AND w.state = 'active' AND (?2 = '' OR instr(lower(w.name), lower(?2)) > 0)
		ORDER BY w.name COLLATE NOCASE, w.id LIMIT ?3`, userID, strings.TrimSpace(query), limit+1)
	if err != nil || len(ws) <= limit {
		return ws, false, err
	}
	return ws[:limit], true, nil
}

// MemberRole returns a user's role in an active workspace, or ENotFound when
// either does not exist or the user is not a member: callers answer 404 in
// every case, so existence does not leak.
func MemberRole(ctx context.Context, q sqlx.QueryerContext, userID, workspaceID string) (string, error) {
	var role string
	err := sqlx.GetContext(ctx, q, &role, `SELECT m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND m.workspace_id = ? AND w.state = 'active'`, userID, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Errorf(ENotFound, "Workspace %s does not exist.", workspaceID)
	}
	return role, err
}

// Member is a user as a member of one workspace.
type Member struct {
	UserID    string    `db:"user_id"`
	Email     string    `db:"email"`
	Name      string    `db:"name"`
	Role      string    `db:"role"`
	CreatedAt time.Time `db:"created_at"`
	// EmailVerified says the member's address is proven (see User).
	EmailVerified bool `db:"email_verified"`
}

// WorkspaceMembers lists a workspace's members, owners first.
func WorkspaceMembers(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]Member, error) {
	var ms []Member
	err := sqlx.SelectContext(ctx, q, &ms, `SELECT m.user_id, u.email, u.name, m.role, m.created_at, u.email_verified
		FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ?
		ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2 ELSE 3 END, u.email`, workspaceID)
	return ms, err
}

// SetMemberRole changes a member's role. The last owner keeps the role, so a
// workspace always has someone who can delete it.
func SetMemberRole(ctx context.Context, db *Catalog, workspaceID, userID, role string) error {
	if !validRole(role) {
		return Errorf(EValidation, "%q is not a role; use owner, admin, member or viewer.", role)
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := guardLastOwner(ctx, tx, workspaceID, userID, role); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE memberships SET role = ? WHERE workspace_id = ? AND user_id = ?`, role, workspaceID, userID)
		if err != nil || RoleRank(role) >= RoleRank("admin") {
			return err
		}
		return revokeInvitationsBy(ctx, tx, workspaceID, userID)
	})
}

// RemoveMember takes a user out of a workspace; the last owner stays.
func RemoveMember(ctx context.Context, db *Catalog, workspaceID, userID string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := guardLastOwner(ctx, tx, workspaceID, userID, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID)
		if err != nil {
			return err
		}
		return revokeInvitationsBy(ctx, tx, workspaceID, userID)
	})
}

// revokeInvitationsBy deletes the pending invitations a user made to a
// workspace, when the user leaves it or can no longer invite: otherwise a
// removed admin could come back through a link of their own.
func revokeInvitationsBy(ctx context.Context, tx *sqlx.Tx, workspaceID, userID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM invitations WHERE workspace_id = ? AND created_by = ? AND accepted_by = ''`,
		workspaceID, "user:"+userID)
	return err
}

// guardLastOwner fails when userID is a member whose change to newRole ("" for
// removal) would leave the workspace without an owner; ENotFound when userID
// is not a member.
func guardLastOwner(ctx context.Context, tx *sqlx.Tx, workspaceID, userID, newRole string) error {
	var current string
	err := tx.GetContext(ctx, &current, `SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return Errorf(ENotFound, "That user is not a member of this workspace.")
	}
	if err != nil || current != "owner" || newRole == "owner" {
		return err
	}
	var owners int
	if err := tx.GetContext(ctx, &owners, `SELECT count(*) FROM memberships WHERE workspace_id = ? AND role = 'owner'`, workspaceID); err != nil {
		return err
	}
	if owners <= 1 {
		return Errorf(EConflict, "A workspace needs at least one owner; make someone else owner first.")
	}
	return nil
}

// RenameWorkspace changes an active workspace's name (already validated).
func RenameWorkspace(ctx context.Context, db *Catalog, workspaceID, name string) error {
	res, err := db.W.ExecContext(ctx, `UPDATE workspaces SET name = ? WHERE id = ? AND state = 'active'`, name, workspaceID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Errorf(ENotFound, "Workspace %s does not exist.", workspaceID)
	}
	return nil
}

// MemberCounts returns the number of members of every workspace that has any.
func MemberCounts(ctx context.Context, q sqlx.QueryerContext) (map[string]int, error) {
	var rows []struct {
		WorkspaceID string `db:"workspace_id"`
		N           int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT workspace_id, count(*) AS n FROM memberships GROUP BY workspace_id`); err != nil {
		return nil, err
	}
	counts := make(map[string]int, len(rows))
	for _, r := range rows {
		counts[r.WorkspaceID] = r.N
	}
	return counts, nil
}

// WorkspaceForMember returns an active workspace's catalog row and the user's
// role in it, or ENotFound when the workspace is unknown, not active, or the
// user is not a member.
func WorkspaceForMember(ctx context.Context, q sqlx.QueryerContext, userID, workspaceID string) (*Workspace, string, error) {
	var row struct {
		Workspace
		Role string `db:"role"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT w.*, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND m.workspace_id = ? AND w.state = 'active'`, userID, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", Errorf(ENotFound, "Workspace %s does not exist.", workspaceID)
	}
	if err != nil {
		return nil, "", err
	}
	return &row.Workspace, row.Role, nil
}

// TrashedWorkspace is a soft-deleted workspace one of whose owners is asking.
type TrashedWorkspace struct {
	ID      string    `db:"id"`
	Name    string    `db:"name"`
	Region  string    `db:"region"`
	PurgeAt time.Time `db:"purge_at"`
}

// OwnedTrashedWorkspaces lists the trashed workspaces a user owns, soonest
// to be purged first.
func OwnedTrashedWorkspaces(ctx context.Context, q sqlx.QueryerContext, userID string) ([]TrashedWorkspace, error) {
	var ws []TrashedWorkspace
	err := sqlx.SelectContext(ctx, q, &ws, `SELECT w.id, w.name, w.region, w.purge_at FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = ? AND m.role = 'owner' AND w.state = 'trashed' ORDER BY w.purge_at`, userID)
	return ws, err
}

// IsOwner reports whether a user owns a workspace in any state.
func IsOwner(ctx context.Context, q sqlx.QueryerContext, userID, workspaceID string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM memberships WHERE user_id = ? AND workspace_id = ? AND role = 'owner'`, userID, workspaceID)
	return n > 0, err
}
