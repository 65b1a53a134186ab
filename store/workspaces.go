package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Workspace states in the catalog.
const (
	StateCreating = "creating"
	StateActive   = "active"
	StateTrashed  = "trashed"
	StateDeleting = "deleting"
	StateDeleted  = "deleted"
)

// Roles a member can have in a workspace, most powerful first.
var Roles = []string{"owner", "admin", "member", "viewer"}

// Workspace is the catalog row of one tenant; its data is in its own file.
type Workspace struct {
	ID        string       `db:"id" json:"id"`
	Name      string       `db:"name" json:"name"`
	Region    string       `db:"region" json:"region"`
	State     string       `db:"state" json:"state"`
	CreatedAt time.Time    `db:"created_at" json:"created_at"`
	DeletedAt sql.NullTime `db:"deleted_at" json:"-"`
	PurgeAt   sql.NullTime `db:"purge_at" json:"-"`
	DeletedBy string       `db:"deleted_by" json:"-"`
	// ReplicaGen numbers the replica history the file streams to; see the
	// catalog schema.
	ReplicaGen int `db:"replica_gen" json:"-"`
	// Pristine says the file is still the empty template and has never
	// been opened, so it has no replica; see the catalog schema.
	Pristine bool `db:"pristine" json:"-"`
	// Plan names the workspace's plan in the config; "" is the default.
	Plan string `db:"plan" json:"plan"`
}

// InsertWorkspace adds a catalog row.
func InsertWorkspace(ctx context.Context, x sqlx.ExtContext, w *Workspace) error {
	_, err := sqlx.NamedExecContext(ctx, x, `INSERT INTO workspaces (id, name, region, state, created_at, pristine)
		VALUES (:id, :name, :region, :state, :created_at, :pristine)`, w)
	if isUniqueViolation(err) {
		return Errorf(EConflict, "A workspace with the id %s already exists.", w.ID)
	}
	return err
}

// ClearPristine records that a workspace's file is about to be opened (and
// may be written) for the first time.
func ClearPristine(ctx context.Context, x sqlx.ExecerContext, id string) error {
	_, err := x.ExecContext(ctx, `UPDATE workspaces SET pristine = 0 WHERE id = ?`, id)
	return err
}

// SetWorkspaceState moves a workspace from one state to another; it fails
// with EConflict when the workspace is not in the expected state.
func SetWorkspaceState(ctx context.Context, x sqlx.ExtContext, id, from, to string) error {
	res, err := x.ExecContext(ctx, `UPDATE workspaces SET state = ? WHERE id = ? AND state = ?`, to, id, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Errorf(EConflict, "Workspace %s is not %s.", id, from)
	}
	return nil
}

// MarkWorkspaceDeleted records who deleted a workspace and when.
func MarkWorkspaceDeleted(ctx context.Context, x sqlx.ExtContext, id, by string, at time.Time) error {
	_, err := x.ExecContext(ctx, `UPDATE workspaces SET state = 'deleted', deleted_at = ?, purge_at = NULL, deleted_by = ? WHERE id = ?`, at, by, id)
	// Its work is over, and its data key goes: a copy of its file
	// anywhere keeps its secrets sealed for good.
	for _, stmt := range []string{`DELETE FROM due_work WHERE workspace_id = ?`, `DELETE FROM workspace_keys WHERE workspace_id = ?`} {
		if err == nil {
			_, err = x.ExecContext(ctx, stmt, id)
		}
	}
	if err != nil {
		return err
	}
	_, err = x.ExecContext(ctx, `DELETE FROM memberships WHERE workspace_id = ?`, id)
	return err
}

// TrashWorkspace soft-deletes an active workspace: it becomes inaccessible
// and is hard-deleted at purgeAt unless untrashed first.
func TrashWorkspace(ctx context.Context, x sqlx.ExtContext, id, by string, at, purgeAt time.Time) error {
	res, err := x.ExecContext(ctx, `UPDATE workspaces SET state = 'trashed', deleted_at = ?, purge_at = ?, deleted_by = ?
		WHERE id = ? AND state = 'active'`, at, purgeAt, by, id)
	return expectOne(res, err, Errorf(EConflict, "Workspace %s is not active.", id))
}

// UntrashWorkspace makes a trashed workspace active again.
func UntrashWorkspace(ctx context.Context, x sqlx.ExtContext, id string) error {
	res, err := x.ExecContext(ctx, `UPDATE workspaces SET state = 'active', deleted_at = NULL, purge_at = NULL, deleted_by = ''
		WHERE id = ? AND state = 'trashed'`, id)
	return expectOne(res, err, Errorf(ENotFound, "Workspace %s is not in the trash.", id))
}

// MarkWorkspaceDeleting starts the hard deletion of an active or trashed
// workspace; a row already deleting stays so.
// Only a row still in one of the states from moves: a purge that listed a
// trashed workspace must not delete it once it was restored meanwhile.
func MarkWorkspaceDeleting(ctx context.Context, x sqlx.ExtContext, id, by string, from ...string) error {
	query, args, err := sqlx.In(`UPDATE workspaces SET state = 'deleting', deleted_by = ?
		WHERE id = ? AND state IN (?)`, by, id, from)
	if err != nil {
		return err
	}
	res, err := x.ExecContext(ctx, query, args...)
	return expectOne(res, err, Errorf(ENotFound, "Workspace %s does not exist.", id))
}

// WorkspacesDueForPurge returns the trashed workspaces whose grace period
// ended by now.
func WorkspacesDueForPurge(ctx context.Context, q sqlx.QueryerContext, now time.Time) ([]Workspace, error) {
	var ws []Workspace
	err := sqlx.SelectContext(ctx, q, &ws, `SELECT * FROM workspaces WHERE state = 'trashed' AND purge_at <= ? ORDER BY purge_at, id`, now)
	return ws, err
}

// SetWorkspaceReplica moves a workspace's row to a region and replica
// generation, after its file was put in place there.
func SetWorkspaceReplica(ctx context.Context, x sqlx.ExtContext, id, region string, gen int) error {
	res, err := x.ExecContext(ctx, `UPDATE workspaces SET region = ?, replica_gen = ? WHERE id = ?`, region, gen, id)
	return expectOne(res, err, Errorf(ENotFound, "Workspace %s does not exist.", id))
}

// CopyOwners makes the owners of one workspace the owners of another.
func CopyOwners(ctx context.Context, x sqlx.ExtContext, fromID, toID string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO memberships (user_id, workspace_id, role, created_at)
		SELECT user_id, ?, 'owner', ? FROM memberships WHERE workspace_id = ? AND role = 'owner'`, toID, time.Now().UTC(), fromID)
	return err
}

// expectOne turns an UPDATE that matched no row into notMatched.
func expectOne(res sql.Result, err error, notMatched error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return notMatched
	}
	return nil
}

// DeleteWorkspaceRow removes a row that never became a workspace (state creating).
func DeleteWorkspaceRow(ctx context.Context, x sqlx.ExtContext, id string) error {
	_, err := x.ExecContext(ctx, `DELETE FROM workspaces WHERE id = ? AND state = 'creating'`, id)
	return err
}

// WorkspacePlan returns the plan name of a workspace ("" for the default).
func WorkspacePlan(ctx context.Context, q sqlx.QueryerContext, id string) (string, error) {
	var plan string
	err := sqlx.GetContext(ctx, q, &plan, `SELECT plan FROM workspaces WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Errorf(ENotFound, "Workspace %s does not exist.", id)
	}
	return plan, err
}

// SetWorkspacePlan gives a live workspace a plan.
func SetWorkspacePlan(ctx context.Context, x sqlx.ExtContext, id, plan string) error {
	res, err := x.ExecContext(ctx, `UPDATE workspaces SET plan = ? WHERE id = ? AND state IN ('active', 'trashed')`, plan, id)
	return expectOne(res, err, Errorf(ENotFound, "Workspace %s does not exist.", id))
}

// GetWorkspace returns the catalog row of id in any state.
func GetWorkspace(ctx context.Context, q sqlx.QueryerContext, id string) (*Workspace, error) {
	var w Workspace
	err := sqlx.GetContext(ctx, q, &w, `SELECT * FROM workspaces WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "Workspace %s does not exist.", id)
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// ListWorkspaces returns the workspaces in the given states, oldest first.
func ListWorkspaces(ctx context.Context, q sqlx.QueryerContext, states ...string) ([]Workspace, error) {
	query, args, err := sqlx.In(`SELECT * FROM workspaces WHERE state IN (?) ORDER BY created_at, id`, states)
	if err != nil {
		return nil, err
	}
	var ws []Workspace
	err = sqlx.SelectContext(ctx, q, &ws, query, args...)
	return ws, err
}

// AddMember gives a user a role in a workspace.
func AddMember(ctx context.Context, x sqlx.ExtContext, userID, workspaceID, role string) error {
	if !validRole(role) {
		return Errorf(EValidation, "%q is not a role; use owner, admin, member or viewer.", role)
	}
	_, err := x.ExecContext(ctx, `INSERT INTO memberships (user_id, workspace_id, role, created_at) VALUES (?, ?, ?, ?)`,
		userID, workspaceID, role, time.Now().UTC())
	if isUniqueViolation(err) {
		return Errorf(EConflict, "That user is already a member of this workspace.")
	}
	return err
}

func validRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Event is one entry of the instance event log.
type Event struct {
	Seq         int64     `db:"seq" json:"seq"`
	At          time.Time `db:"at" json:"at"`
	Actor       string    `db:"actor" json:"actor"`
	Action      string    `db:"action" json:"action"`
	WorkspaceID string    `db:"workspace_id" json:"workspace_id"`
	Detail      string    `db:"detail" json:"detail"`
}

// LogEvent appends to the instance event log; detail is stored as JSON.
func LogEvent(ctx context.Context, x sqlx.ExtContext, actor, action, workspaceID string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = x.ExecContext(ctx, `INSERT INTO events (at, actor, action, workspace_id, detail) VALUES (?, ?, ?, ?, ?)`,
		time.Now().UTC(), actor, action, workspaceID, string(b))
	return err
}

// WorkspaceEvents returns the events of one workspace, oldest first.
func WorkspaceEvents(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]Event, error) {
	var es []Event
	err := sqlx.SelectContext(ctx, q, &es, `SELECT * FROM events WHERE workspace_id = ? ORDER BY seq`, workspaceID)
	return es, err
}

// Leftover is a copy of a workspace in a region it moved away from.
type Leftover struct {
	WorkspaceID string    `db:"workspace_id"`
	Region      string    `db:"region"`
	CreatedAt   time.Time `db:"created_at"`
}

// AddLeftover records that workspace id's copy in region is to be removed.
func AddLeftover(ctx context.Context, x sqlx.ExecerContext, id, region string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO leftovers (workspace_id, region, created_at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, id, region, time.Now().UTC())
	return err
}

// RemoveLeftover forgets workspace id's copy in region: it is gone, or the
// workspace lives there again.
func RemoveLeftover(ctx context.Context, x sqlx.ExecerContext, id, region string) error {
	_, err := x.ExecContext(ctx, `DELETE FROM leftovers WHERE workspace_id = ? AND region = ?`, id, region)
	return err
}

// Leftovers lists the copies still to be removed, oldest first.
func Leftovers(ctx context.Context, q sqlx.QueryerContext) ([]Leftover, error) {
	var ls []Leftover
	err := sqlx.SelectContext(ctx, q, &ls, `SELECT * FROM leftovers ORDER BY created_at, workspace_id`)
	return ls, err
}
