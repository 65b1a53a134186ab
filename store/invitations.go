package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// InvitationLifetime is how long an invitation link works.
const InvitationLifetime = 7 * 24 * time.Hour

// Invitation is a pending invitation to a workspace.
type Invitation struct {
	ID            string       `db:"id"`
	WorkspaceID   string       `db:"workspace_id"`
	WorkspaceName string       `db:"workspace_name"`
	Role          string       `db:"role"`
	Email         string       `db:"email"`
	CreatedBy     string       `db:"created_by"`
	CreatedAt     time.Time    `db:"created_at"`
	ExpiresAt     time.Time    `db:"expires_at"`
	AcceptedBy    string       `db:"accepted_by"`
	AcceptedAt    sql.NullTime `db:"accepted_at"`
}

// CreateInvitation makes an invitation link's token for a role in a
// workspace; only its hash is stored.
func CreateInvitation(ctx context.Context, db *Catalog, workspaceID, role, email, createdBy string) (string, error) {
	if role == "owner" || !validRole(role) {
		return "", FieldError("role", "Invite as admin, member or viewer; make someone owner from the members list.")
	}
	if email != "" {
		var err error
		if email, err = NormalizeEmail(email); err != nil {
			return "", err
		}
	}
	token := NewToken()
	now := time.Now().UTC()
	_, err := db.W.ExecContext(ctx, `INSERT INTO invitations (id, workspace_id, role, email, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, HashToken(token), workspaceID, role, email, createdBy, now, now.Add(InvitationLifetime))
	return token, err
}

const invitationSelect = `SELECT i.*, w.name AS workspace_name FROM invitations i JOIN workspaces w ON w.id = i.workspace_id`

// InvitationByToken returns the pending invitation of a link, or ENotFound
// when it never existed, was used, was revoked or has expired.
func InvitationByToken(ctx context.Context, q sqlx.QueryerContext, token string) (*Invitation, error) {
	var inv Invitation
	err := sqlx.GetContext(ctx, q, &inv, invitationSelect+` WHERE i.id = ? AND i.accepted_by = '' AND i.expires_at > ? AND w.state = 'active'`,
		HashToken(token), time.Now().UTC())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "This invitation link is not valid: it may have been used, revoked or have expired. Ask for a new one.")
	}
	return &inv, err
}

// AcceptInvitation makes the user a member with the invitation's role and
// uses the invitation up. An invitation addressed to the user's own
// address proves it, so the address is verified in the same step.
func AcceptInvitation(ctx context.Context, db *Catalog, token, userID string) (*Invitation, error) {
	var inv *Invitation
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if inv, err = InvitationByToken(ctx, tx, token); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE invitations SET accepted_by = ?, accepted_at = ? WHERE id = ? AND accepted_by = ''`,
			userID, time.Now().UTC(), inv.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return Errorf(ENotFound, "This invitation has just been used.")
		}
		if err := AddMember(ctx, tx, userID, inv.WorkspaceID, inv.Role); err != nil || inv.Email == "" {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET email_verified = 1 WHERE id = ? AND email = ?`, userID, inv.Email)
		return err
	})
	return inv, err
}

// PendingInvitations lists a workspace's unused, unexpired invitations.
func PendingInvitations(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]Invitation, error) {
	var invs []Invitation
	err := sqlx.SelectContext(ctx, q, &invs, invitationSelect+` WHERE i.workspace_id = ? AND i.accepted_by = '' AND i.expires_at > ?
		ORDER BY i.created_at DESC`, workspaceID, time.Now().UTC())
	return invs, err
}

// RevokeInvitation deletes a pending invitation of a workspace.
func RevokeInvitation(ctx context.Context, db *Catalog, workspaceID, id string) error {
	res, err := db.W.ExecContext(ctx, `DELETE FROM invitations WHERE id = ? AND workspace_id = ? AND accepted_by = ''`, id, workspaceID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Errorf(ENotFound, "That invitation does not exist.")
	}
	return nil
}

// MemberAndInvitationCount is a workspace's members and pending
// invitations: the seats it uses or has promised.
func MemberAndInvitationCount(ctx context.Context, q sqlx.QueryerContext, workspaceID string) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, q, &n, `SELECT (SELECT count(*) FROM memberships WHERE workspace_id = ?)
		+ (SELECT count(*) FROM invitations WHERE workspace_id = ? AND accepted_by = '' AND expires_at > ?)`,
		workspaceID, workspaceID, time.Now().UTC())
	return n, err
}
