package main

import (
	"context"
	"errors"
	"fmt"

	"atrium/tenant"
)

// Commands of the workspace lifecycle beyond create and list: deletion,
// restore, move, backup status.

func (m *Main) cmdWorkspaceDelete(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace delete")
	yes := fs.Bool("yes", false, "confirm the deletion")
	now := fs.Bool("now", false, "delete at once, without a grace period")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("'atrium workspace delete' takes one workspace id.")
	}
	if !*yes {
		return usagef("Deleting a workspace removes its data; pass --yes to confirm.")
	}
	if !*now {
		return usagef("Deletion with a grace period is not available yet; pass --now to delete at once.")
	}
	id, err := tenant.ParseID(pos[0])
	if err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	rm, err := m.Manager.Delete(ctx, id, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "deleted workspace %s (region %s)\n", rm.WorkspaceID, rm.Region)
	for _, f := range rm.Files {
		fmt.Fprintf(m.stdout, "removed %s\n", f)
	}
	return nil
}

func (m *Main) cmdWorkspaceRestore(ctx context.Context, args []string) error {
	return errors.New("workspace restore is not built yet")
}

func (m *Main) cmdWorkspaceMove(ctx context.Context, args []string) error {
	return errors.New("workspace move is not built yet")
}

func (m *Main) cmdBackupStatus(ctx context.Context, args []string) error {
	return errors.New("backup status is not built yet")
}
