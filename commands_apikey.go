package main

import (
	"context"
	"fmt"

	"atrium/store"
	"atrium/tenant"
)

// cmdAPIKeyCreate creates an API key in one workspace and prints it, once,
// as the last word of the output so scripts can take it.
func (m *Main) cmdAPIKeyCreate(ctx context.Context, args []string) error {
	fs := m.flagSet("apikey create")
	workspace := fs.String("workspace", "", "workspace id")
	name := fs.String("name", "CLI key", "what the key is for")
	role := fs.String("role", "write", "read or write")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	if *workspace == "" {
		return usagef("--workspace is required.")
	}
	if *role != "read" && *role != "write" {
		return usagef("--role must be read or write.")
	}
	id, err := tenant.ParseID(*workspace)
	if err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	lease, err := m.Manager.Acquire(ctx, id)
	if err != nil {
		return err
	}
	defer lease.Release()
	key, _, err := store.CreateAPIKey(ctx, lease.DB, store.Actor{Kind: "system", ID: "cli"}, id, *name, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "API key created (%s); it is shown only this once: %s\n", *role, key)
	return nil
}
