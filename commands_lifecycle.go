package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// Commands of the workspace lifecycle beyond create and list: deletion and
// undeletion, restore, move, backup status and disaster recovery.

func (m *Main) cmdWorkspaceDelete(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace delete")
	yes := fs.Bool("yes", false, "confirm the deletion")
	now := fs.Bool("now", false, "delete at once, without a grace period")
	id, err := m.parseID(fs, "workspace delete", args)
	if err != nil {
		return err
	}
	if !*yes {
		return usagef("Deleting a workspace removes its data; pass --yes to confirm.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	if !*now {
		w, err := m.Manager.Trash(ctx, id, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(m.stdout, "moved workspace %s to the trash; it will be deleted for good at %s\n", w.ID, w.PurgeAt.Time.Format(time.RFC3339))
		fmt.Fprintf(m.stdout, "undo with: atrium workspace undelete %s\n", w.ID)
		return nil
	}
	rm, err := m.Manager.Delete(ctx, id, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "deleted workspace %s (region %s)\n", rm.WorkspaceID, rm.Region)
	for _, f := range rm.Files {
		fmt.Fprintf(m.stdout, "removed %s\n", f)
	}
	fmt.Fprintf(m.stdout, "removed every replica object under %s\n", rm.Replica)
	return nil
}

// parseID parses flags and exactly one workspace id.
func (m *Main) parseID(fs *flag.FlagSet, cmd string, args []string) (string, error) {
	pos, err := m.parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("'atrium %s' takes one workspace id.", cmd)
	}
	return tenant.ParseID(pos[0])
}

func (m *Main) cmdWorkspaceUndelete(ctx context.Context, args []string) error {
	id, err := m.parseID(m.flagSet("workspace undelete"), "workspace undelete", args)
	if err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	if err := m.Manager.Untrash(ctx, id, "cli"); err != nil {
		return err
	}
	fmt.Fprintln(m.stdout, id)
	return nil
}

func (m *Main) cmdWorkspaceRestore(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace restore")
	at := fs.String("at", "", "restore to this moment (RFC 3339); default: the latest backup")
	asNew := fs.String("as-new", "", "restore into a new workspace with this name")
	id, err := m.parseID(fs, "workspace restore", args)
	if err != nil {
		return err
	}
	opts := tenant.RestoreOptions{AsNew: *asNew, Actor: "cli"}
	if *at != "" {
		if opts.At, err = time.Parse(time.RFC3339, *at); err != nil {
			return usagef("--at %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z.", *at)
		}
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	w, err := m.Manager.Restore(ctx, id, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.stdout, w.ID)
	return m.waitCheckRestored(ctx, w.ID)
}

// waitCheckRestored waits for the full integrity check of a workspace just
// restored or moved, which runs as a job after it, so that the command
// does not end (and stop it) first and says how it went.
func (m *Main) waitCheckRestored(ctx context.Context, id string) error {
	fmt.Fprintf(m.stderr, "checking the restored file of workspace %s in full (integrity_check); it is in use meanwhile\n", id)
	j, err := m.Manager.WaitCheckRestored(ctx, id)
	if err != nil {
		return err
	}
	if j.State != store.JobDone {
		return fmt.Errorf("the full integrity check of workspace %s did not pass (%s): %s", id, j.State, j.Error)
	}
	fmt.Fprintf(m.stderr, "workspace %s passed its full integrity check\n", id)
	return nil
}

func (m *Main) cmdWorkspaceMove(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace move")
	region := fs.String("region", "", "the region to move to")
	id, err := m.parseID(fs, "workspace move", args)
	if err != nil {
		return err
	}
	if *region == "" {
		return usagef("--region is required.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	w, err := m.Manager.Move(ctx, id, *region, "cli")
	if w != nil {
		fmt.Fprintf(m.stdout, "moved workspace %s to region %s\n", w.ID, w.Region)
		if cerr := m.waitCheckRestored(ctx, w.ID); err == nil {
			err = cerr
		}
	}
	return err
}

func (m *Main) cmdBackupStatus(ctx context.Context, args []string) error {
	fs := m.flagSet("backup status")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	sts, err := m.Manager.BackupStatus(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(m.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sts)
	}
	tw := tabwriter.NewWriter(m.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tNAME\tREGION\tLOCAL TXID\tREPLICATED TXID\tLAST REPLICATED\tLAG\tVERIFIED\tLAST ERROR")
	for _, st := range sts {
		last := "never"
		if st.Pristine {
			last = "never opened"
		}
		if st.LastReplicatedAt != nil {
			last = st.LastReplicatedAt.UTC().Format(time.RFC3339)
		}
		lag := "in sync"
		if st.LagTXIDs > 0 {
			lag = fmt.Sprintf("%d txns, %s", st.LagTXIDs, st.Lag.Round(time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", st.WorkspaceID, st.Name, st.Region,
			st.LocalTXID, st.ReplicatedTXID, last, lag, verified(st), st.LastError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return m.printDiskSpace()
}

// printDiskSpace lists the free space of each region's disk, after the
// backup status: replication needs room as much as the writes do.
func (m *Main) printDiskSpace() error {
	fmt.Fprintln(m.stdout)
	tw := tabwriter.NewWriter(m.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDATA\tFREE\tSIZE\tRESERVE\tSTATE")
	for _, d := range m.Manager.DiskSpaces() {
		state := "ok"
		switch {
		case d.Err != "":
			state = d.Err
		case d.Low():
			state = "LOW: heavy work refused"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Region, d.Path, store.HumanBytes(int64(d.Free)), store.HumanBytes(int64(d.Total)),
			store.HumanBytes(int64(d.Reserve)), state)
	}
	return tw.Flush()
}

// verified says how the last verifications of a replica went.
func verified(st tenant.BackupStatus) string {
	if st.VerifyFailedLast() {
		return "FAILED " + st.VerifyFailedAt.UTC().Format(time.RFC3339) + ": " + st.VerifyFailure
	}
	if st.VerifiedAt != nil {
		return st.VerifiedAt.UTC().Format(time.RFC3339)
	}
	return "not yet"
}

// cmdBackupVerify verifies one workspace's replica now: it is restored into
// a temporary file, checked, and compared with the live file.
func (m *Main) cmdBackupVerify(ctx context.Context, args []string) error {
	fs := m.flagSet("backup verify")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("'atrium backup verify' takes one workspace id, or catalog.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	v, err := m.Manager.VerifyReplica(ctx, pos[0]) // it reads "catalog" or an id
	if err != nil {
		return err
	}
	catalog := v.WorkspaceID == "catalog"
	if *asJSON {
		enc := json.NewEncoder(m.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else if v.Failure == "" && catalog {
		fmt.Fprintf(m.stdout, "verified the catalog: its replica restores to the live file at transaction %d (%d pages)\n", v.TXID, v.Pages)
	} else if v.Failure == "" {
		fmt.Fprintf(m.stdout, "verified workspace %s: replica generation %d restores to the live file at transaction %d (%d pages)\n",
			v.WorkspaceID, v.Generation, v.TXID, v.Pages)
	}
	switch {
	case v.Failure != "" && catalog:
		return fmt.Errorf("the replica of the catalog does not restore to the live file: %s", v.Failure)
	case v.Failure != "":
		return fmt.Errorf("the replica of workspace %s (generation %d) does not restore to the live file: %s; started generation %d with a full snapshot",
			v.WorkspaceID, v.Generation, v.Failure, v.NewGeneration)
	}
	return nil
}

// cmdRestoreAll is disaster recovery: opening the data directory restores
// a missing catalog from its replica, then this restores every workspace
// whose file is missing. `atrium serve` does the same on start.
func (m *Main) cmdRestoreAll(ctx context.Context, args []string) error {
	if err := m.parseNone(m.flagSet("restore-all"), args); err != nil {
		return err
	}
	if err := m.openFor(ctx, true); err != nil {
		return err
	}
	rec := m.Manager.Recovery()
	if rec.CatalogRestored {
		fmt.Fprintln(m.stdout, "restored the catalog")
	}
	for _, id := range rec.Workspaces {
		fmt.Fprintf(m.stdout, "restored %s\n", id)
	}
	var (
		mu       sync.Mutex
		restored = len(rec.Workspaces)
		fail     int // those that failed at open are tried again below
	)
	err := m.Manager.RestoreMissing(ctx, 4, func(w *store.Workspace, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fail++
			fmt.Fprintf(m.stdout, "FAIL %s: %s\n", w.ID, store.ErrorMessageOrText(err))
			return
		}
		restored++
		fmt.Fprintf(m.stdout, "restored %s\n", w.ID)
	})
	if !rec.CatalogRestored && restored == 0 && fail == 0 && err == nil {
		fmt.Fprintln(m.stdout, "nothing to restore: the catalog and every workspace file are in place")
		return nil
	}
	fmt.Fprintf(m.stdout, "%d workspaces restored, %d failed\n", restored, fail)
	return err
}
