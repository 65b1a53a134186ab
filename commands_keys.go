package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"atrium/tenant"
)

// cmdKeysRotateMaster is `atrium keys rotate-master`: wraps every
// workspace data key with a new master key (see tenant.RotateMasterKey).
func (m *Main) cmdKeysRotateMaster(ctx context.Context, args []string) error {
	if err := m.parseNone(m.flagSet("keys rotate-master"), args); err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	res, err := m.Manager.RotateMasterKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "%d workspace keys re-wrapped with the new master key\n", res.Rewrapped)
	for _, k := range res.Unreadable {
		fmt.Fprintf(m.stdout, "LEFT %s: no master key given unwraps it\n", k)
	}
	hours := int(res.KeepOld.Hours())
	switch {
	case res.Source == "file" && res.KeepOld > 0:
		fmt.Fprintf(m.stdout, "The old master key stays listed in the key file, after the new one: the catalog's encrypted replica holds objects written under it for up to %d hours. Remove its line after that, not before.\n", hours)
	case res.Source != "file" && res.KeepOld > 0:
		fmt.Fprintf(m.stdout, "The master key comes from the %s: keep it giving the new key first and the old one after it for %d hours more (the catalog's encrypted replica holds objects written under the old one), then make it give the new key alone.\n", res.Source, hours)
	case res.Source != "file":
		fmt.Fprintf(m.stdout, "The master key comes from the %s: make it give the new key alone now (drop the old one after the comma).\n", res.Source)
	}
	return nil
}

// cmdKeysRotateWorkspace is `atrium keys rotate-workspace ID`: a new data
// key for what the workspace writes from now on.
func (m *Main) cmdKeysRotateWorkspace(ctx context.Context, args []string) error {
	id, err := m.parseID(m.flagSet("keys rotate-workspace"), "keys rotate-workspace", args)
	if err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	n, err := m.Manager.RotateWorkspaceKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "workspace %s now writes with data key %d; earlier keys are kept to read older data\n", id, n)
	return nil
}

// cmdKeysExport is `atrium keys export ID -o FILE`: writes the workspace's
// data keys, unwrapped, for `atrium replica decrypt` elsewhere. With
// "catalog" for ID, the keys of the catalog's encrypted replica (derived
// from the master keys).
func (m *Main) cmdKeysExport(ctx context.Context, args []string) error {
	fs := m.flagSet("keys export")
	out := fs.String("o", "", "the key file to write (made readable by its owner only)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("'atrium keys export' takes one workspace id, or catalog.")
	}
	id := pos[0]
	if id != "catalog" {
		if id, err = tenant.ParseID(id); err != nil {
			return err
		}
	}
	if *out == "" {
		return usagef("'atrium keys export' needs -o FILE.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	var ek *tenant.ExportedKeys
	if id == "catalog" {
		ek, err = m.Manager.ExportCatalogKeys()
	} else {
		ek, err = m.Manager.ExportWorkspaceKeys(ctx, id)
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(ek, "", "  ")
	path := m.localPath(*out)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create the key file: %w", err)
	}
	if _, err = f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	if id == "catalog" {
		fmt.Fprintf(m.stdout, "wrote %d catalog replica keys to %s; whoever holds this file can read the catalog's encrypted replica (users, memberships; the data keys in it stay wrapped by the master key)\n", len(ek.Keys), *out)
		return nil
	}
	fmt.Fprintf(m.stdout, "wrote %d data keys of workspace %s to %s; whoever holds this file can read the workspace's encrypted replicas\n", len(ek.Keys), id, *out)
	return nil
}

// cmdReplicaDecrypt is `atrium replica decrypt --keys FILE SRC DST`: the
// encrypted replica of one workspace generation, as a directory (a file
// replica, or an S3 prefix copied down), decrypted into DST, which then
// restores with Litestream alone (see README, "Restore without Atrium").
// It needs neither the data directory nor the master key.
func (m *Main) cmdReplicaDecrypt(ctx context.Context, args []string) error {
	fs := m.flagSet("replica decrypt")
	keys := fs.String("keys", "", "a key file of 'atrium keys export'")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || *keys == "" {
		return usagef("'atrium replica decrypt' takes --keys FILE, the replica directory and an output directory.")
	}
	b, err := os.ReadFile(m.localPath(*keys))
	if err != nil {
		return err
	}
	ek, err := tenant.ParseExportedKeys(b)
	if err != nil {
		return err
	}
	n, err := tenant.DecryptReplicaDir(ctx, ek, m.localPath(pos[0]), m.localPath(pos[1]))
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "%d objects decrypted into %s\n", n, pos[1])
	return nil
}
