package main

import (
	"context"
	"fmt"

	"atrium/tenant"
)

// cmdWorkspacePlan is `atrium workspace plan ID PLAN`: gives a workspace
// one of the config's plans and prints it.
func (m *Main) cmdWorkspacePlan(ctx context.Context, args []string) error {
	pos, err := m.parse(m.flagSet("workspace plan"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("'atrium workspace plan' takes a workspace id and a plan name.")
	}
	id, err := tenant.ParseID(pos[0])
	if err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	p, err := m.Manager.SetPlan(ctx, id, pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "%s: %s\n", p.Name, p.Summary())
	return nil
}
